#include "volume/loop_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "volume/loop_device.h"
#include "volume/os_error.h"
#include "volume/run_command.h"
#include "volume/unique_fd.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxStackedMounts = 8;

// The kernel reports loop backing files and mount points as resolved paths; ours must match.
fs::path resolved(const fs::path& path) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(fs::absolute(path), ec);
  return ec ? fs::absolute(path).lexically_normal() : out;
}

bool kernel_has_ext4() {
  std::ifstream in("/proc/filesystems");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string last;
    for (std::string field; fields >> field;) last = field;
    if (last == "ext4") return true;
  }
  return false;
}

Status unlink_if_present(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return {};
  return os_error(ErrorCode::kInternal, "cannot remove " + path, errno);
}

std::optional<LoopDevice> device_of(const std::vector<LoopDevice>& devices,
                                    const MountEntry& mount) {
  for (const LoopDevice& device : devices) {
    if (device.major == mount.major && device.minor == mount.minor) return device;
  }
  return std::nullopt;
}

}  // namespace

LoopBackend::LoopBackend(fs::path pool_dir, fs::path mount_dir, LoopDeviceSharing sharing)
    : pool_(resolved(pool_dir)),
      mount_dir_(resolved(mount_dir)),
      sharing_(sharing),
      mkfs_(find_executable("mkfs.ext4").value_or("")) {}

std::string LoopBackend::image_path(const std::string& dataset_id) const {
  return (pool_ / (dataset_id + ".img")).string();
}

std::string LoopBackend::mount_point(const std::string& dataset_id) const {
  return (mount_dir_ / dataset_id).string();
}

Status LoopBackend::available() const {
  std::error_code ec;
  if (!fs::is_directory(pool_, ec)) {
    return make_error(ErrorCode::kUnavailable,
                      "the loop driver's pool " + pool_.string() +
                          " does not exist; mount the shared filesystem there (or create it)");
  }
  if (::geteuid() != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "the loop driver needs root to attach loop devices and mount them (running "
                      "as uid " +
                          std::to_string(::geteuid()) +
                          "); run the agent as root or use the shared driver");
  }
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) {
    return os_error(ErrorCode::kUnavailable,
                    "the loop driver needs /dev/loop-control (load the loop module with "
                    "`modprobe loop`, or give the container the device)",
                    errno);
  }
  if (!kernel_has_ext4()) {
    return make_error(ErrorCode::kUnavailable,
                      "the loop driver needs ext4, which is not in /proc/filesystems; load it with "
                      "`modprobe ext4`");
  }
  if (mkfs_.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "the loop driver needs mkfs.ext4, which is not installed; install e2fsprogs");
  }
  return {};
}

Status LoopBackend::check_size(uint64_t size_bytes) const {
  if (size_bytes >= kMinSizeBytes) return {};
  return make_error(ErrorCode::kInvalidArgument, "maximum_size must be at least 16 MiB (" +
                                                     std::to_string(kMinSizeBytes) +
                                                     " bytes) for the loop driver, got " +
                                                     std::to_string(size_bytes) + " bytes");
}

Status LoopBackend::create_storage(const std::string& dataset_id, uint64_t size_bytes) {
  if (Status s = available(); !s) return s;
  if (Status s = remove_storage(dataset_id); !s) return s;
  // Made under a temporary name and renamed when complete, so `<id>.img` is always a whole
  // filesystem.
  std::string image = image_path(dataset_id);
  std::string temp = image + ".tmp";
  {
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.valid()) return os_error(ErrorCode::kInternal, "cannot create image " + temp, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(size_bytes)) != 0) {
      return os_error(errno == EFBIG ? ErrorCode::kInvalidArgument : ErrorCode::kInternal,
                      "cannot size image " + temp + " to " + std::to_string(size_bytes) + " bytes",
                      errno);
    }
  }
  // No reserved blocks: the whole size is the task's. No discard: the file is sparse already.
  // Multi-mount protection: see the header.
  std::string extended =
      "nodiscard,mmp_update_interval=" + std::to_string(kMmpUpdateIntervalSeconds);
  if (Status s = run_command({mkfs_, "-F", "-q", "-m", "0", "-O", "mmp", "-E", extended, temp});
      !s) {
    return s;
  }
  if (::rename(temp.c_str(), image.c_str()) != 0) {
    return os_error(ErrorCode::kInternal, "cannot rename " + temp + " to " + image, errno);
  }
  return {};
}

bool LoopBackend::storage_exists(const std::string& dataset_id) const {
  std::string image = image_path(dataset_id);
  return ::access(image.c_str(), F_OK) == 0 || ::access((image + ".tmp").c_str(), F_OK) == 0;
}

Status LoopBackend::remove_storage(const std::string& dataset_id) {
  std::string image = image_path(dataset_id);
  if (Status s = release_unmounted_devices(image); !s) return s;
  if (Status s = unlink_if_present(image); !s) return s;
  return unlink_if_present(image + ".tmp");
}

Status LoopBackend::release_unmounted_devices(const std::string& image) {
  Result<std::vector<LoopDevice>> devices = loop_devices_for(image);
  if (!devices) return devices.error();
  if (devices->empty()) return {};
  Result<std::vector<MountEntry>> mounts = read_mounts();
  if (!mounts) return mounts.error();
  for (const LoopDevice& device : *devices) {
    if (is_device_mounted(*mounts, device.major, device.minor)) continue;
    if (Status s = detach_loop_device(device); !s) return s;
  }
  return {};
}

Result<std::string> LoopBackend::expose(const std::string& dataset_id) {
  std::string image = image_path(dataset_id);
  std::string target = mount_point(dataset_id);
  if (::access(image.c_str(), F_OK) != 0) {
    return os_error(ErrorCode::kInternal,
                    "image " + image + " of dataset " + dataset_id +
                        " is missing; destroy and recreate the dataset",
                    errno);
  }
  std::error_code ec;
  fs::create_directories(mount_dir_, ec);
  if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
    return os_error(ErrorCode::kInternal, "cannot create mount point " + target, errno);
  }
  Result<std::vector<MountEntry>> mounts = read_mounts();
  if (!mounts) return mounts.error();
  Result<std::vector<LoopDevice>> devices = loop_devices_for(image);
  if (!devices) return devices.error();
  if (std::optional<MountEntry> mounted = find_mount(*mounts, target)) {
    if (device_of(*devices, *mounted)) return target;  // Already done.
    return make_error(ErrorCode::kInternal, target + " already has " + mounted->source + " (" +
                                                mounted->fs_type + ") mounted, not " + image +
                                                "; unmount it");
  }
  // Reuse a device already bound to the image: a half-done attach, or another node on this
  // very host. A second device over the same file would put two ext4 instances on the same
  // blocks and corrupt them; through one device the kernel shares one superblock.
  for (const LoopDevice& device : *devices) {
    if (sharing_ == LoopDeviceSharing::kSeparateHost) break;
    Result<OpenLoopDevice> open = open_loop_device(device);
    if (!open) continue;  // Unbound meanwhile; try the next, then a fresh one.
    if (Status s = mount_ext4(device.path(), target); !s) return s.error();
    return target;
  }
  Result<OpenLoopDevice> attached = attach_loop_device(image, /*autoclear=*/true);
  if (!attached) return attached.error();
  // `attached` holds the device open until the mount holds it, or releases it on failure.
  // A fresh device mounts through the kernel's multi-mount protection check, which answers
  // EBUSY while another host has the image mounted.
  Status mounted = mount_ext4(attached->device.path(), target);
  if (!mounted && mounted.error().code == ErrorCode::kConflict) {
    return make_error(ErrorCode::kConflict,
                      "dataset " + dataset_id + ": image " + image +
                          " is mounted on another host (ext4 multi-mount protection refused the "
                          "mount); it mounts here once that host has unmounted it, or about 22 s "
                          "after that host stopped");
  }
  if (!mounted) return mounted.error();
  return target;
}

Status LoopBackend::conceal(const std::string& dataset_id) {
  std::string target = mount_point(dataset_id);
  for (int i = 0; i < kMaxStackedMounts; ++i) {
    Result<std::vector<MountEntry>> mounts = read_mounts();
    if (!mounts) return mounts.error();
    if (!find_mount(*mounts, target)) break;
    if (Status s = unmount(target); !s) return s;
  }
  (void)::rmdir(target.c_str());  // Tidy; a later attach makes it again.
  // Autoclear unbinds our own devices at unmount; this catches devices bound by hand or by a
  // process that died before mounting.
  return release_unmounted_devices(image_path(dataset_id));
}

Result<std::optional<std::string>> LoopBackend::exposed_path(const std::string& dataset_id) {
  std::string target = mount_point(dataset_id);
  Result<std::vector<MountEntry>> mounts = read_mounts();
  if (!mounts) return mounts.error();
  std::optional<MountEntry> mounted = find_mount(*mounts, target);
  if (!mounted) return std::optional<std::string>();
  Result<std::vector<LoopDevice>> devices = loop_devices_for(image_path(dataset_id));
  if (!devices) return devices.error();
  if (!device_of(*devices, *mounted)) return std::optional<std::string>();
  return std::optional<std::string>(target);
}

}  // namespace berth
