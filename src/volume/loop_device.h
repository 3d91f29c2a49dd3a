// Loop devices and mounts, with system calls rather than losetup(8) and mount(8): attaching
// and mounting this way costs well under a millisecond of CPU, where each of the two
// programs costs several (7 ms and 11.5 ms as measured: docs/architecture.md §6). Used by
// LoopBackend and by the tests' cleanup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "volume/unique_fd.h"

namespace berth {

// A loop device bound to a backing file.
struct LoopDevice {
  int index = -1;
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string backing_file;  // as the kernel reports it; " (deleted)" once unlinked

  std::string path() const { return "/dev/loop" + std::to_string(index); }
};

// One line of /proc/self/mountinfo, the parts we use.
struct MountEntry {
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string mount_point;  // unescaped
  std::string fs_type;
  std::string source;
};

// Every bound loop device (from /sys/block/loop*/loop/backing_file).
Result<std::vector<LoopDevice>> list_loop_devices();
// The bound loop devices whose backing file is `image` (an absolute, canonical path).
Result<std::vector<LoopDevice>> loop_devices_for(const std::string& image);

// Binds `image` to a free loop device. With `autoclear`, the kernel unbinds the device when
// its last user goes away (the returned descriptor, then the mount), so a crash between
// attach and mount leaks nothing. The returned descriptor keeps the device bound until the
// caller has mounted it.
struct OpenLoopDevice {
  LoopDevice device;
  UniqueFd fd;
};
Result<OpenLoopDevice> attach_loop_device(const std::string& image, bool autoclear);
// Opens a bound device, keeping it bound while open; kUnavailable if it was unbound meanwhile.
Result<OpenLoopDevice> open_loop_device(const LoopDevice& device);
// Unbinds the device (LOOP_CLR_FD). Ok when it is already unbound. If something still has
// it open, the kernel unbinds it when that user closes it.
Status detach_loop_device(const LoopDevice& device);

// The parsed /proc/self/mountinfo.
Result<std::vector<MountEntry>> read_mounts();
std::vector<MountEntry> parse_mountinfo(std::string_view text);
// The mount at exactly `mount_point`, the topmost if several are stacked.
std::optional<MountEntry> find_mount(const std::vector<MountEntry>& mounts,
                                     const std::string& mount_point);
bool is_device_mounted(const std::vector<MountEntry>& mounts, uint32_t major, uint32_t minor);

// mount(2) of an ext4 filesystem; umount(2) without MNT_DETACH, so a mount still in use is an
// error (kUnavailable) rather than a mount that silently lingers. mount_ext4 answers kConflict
// for EBUSY (the device is mounted already, or multi-mount protection refused it).
Status mount_ext4(const std::string& device, const std::string& mount_point);
Status unmount(const std::string& mount_point);

}  // namespace berth
