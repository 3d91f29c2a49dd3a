#include "volume/loop_device.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "volume/os_error.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxGetFreeAttempts = 16;

// The first line of a small sysfs file, without its newline; nullopt when unreadable.
std::optional<std::string> read_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

std::optional<int> loop_index(const std::string& name) {
  if (name.size() <= 4 || name.compare(0, 4, "loop") != 0) return std::nullopt;
  int index = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || index > 1000000) return std::nullopt;
    index = index * 10 + (name[i] - '0');
  }
  return index;
}

// "\040" and friends in mountinfo paths.
std::string unescape_octal(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '3' &&
        in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

LoopDevice describe(int index, int fd, const std::string& image) {
  LoopDevice device;
  device.index = index;
  device.backing_file = image;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    device.major = major(st.st_rdev);
    device.minor = minor(st.st_rdev);
  }
  return device;
}

// Kernels before 5.8 have no LOOP_CONFIGURE: bind, then set the flags.
int configure_legacy(int device_fd, int image_fd, const struct loop_info64& info) {
  if (::ioctl(device_fd, LOOP_SET_FD, image_fd) != 0) return -1;
  if (::ioctl(device_fd, LOOP_SET_STATUS64, &info) != 0) {
    int err = errno;
    (void)::ioctl(device_fd, LOOP_CLR_FD, 0);
    errno = err;
    return -1;
  }
  return 0;
}

}  // namespace

Result<std::vector<LoopDevice>> list_loop_devices() {
  std::vector<LoopDevice> out;
  std::error_code ec;
  for (fs::directory_iterator it("/sys/block", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::optional<int> index = loop_index(name);
    if (!index) continue;
    std::optional<std::string> backing = read_line(it->path() / "loop" / "backing_file");
    if (!backing) continue;  // Not bound.
    std::optional<std::string> dev = read_line(it->path() / "dev");
    LoopDevice device;
    device.index = *index;
    device.backing_file = *backing;
    unsigned major_number = 0, minor_number = 0;
    if (dev && std::sscanf(dev->c_str(), "%u:%u", &major_number, &minor_number) == 2) {
      device.major = major_number;
      device.minor = minor_number;
    }
    out.push_back(device);
  }
  if (ec) return make_error(ErrorCode::kInternal, "cannot list /sys/block: " + ec.message());
  return out;
}

Result<std::vector<LoopDevice>> loop_devices_for(const std::string& image) {
  Result<std::vector<LoopDevice>> all = list_loop_devices();
  if (!all) return all.error();
  std::vector<LoopDevice> out;
  for (LoopDevice& device : *all) {
    if (device.backing_file == image) out.push_back(std::move(device));
  }
  return out;
}

Result<OpenLoopDevice> attach_loop_device(const std::string& image, bool autoclear) {
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) {
    return os_error(ErrorCode::kUnavailable, "cannot open /dev/loop-control", errno);
  }
  UniqueFd image_fd(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!image_fd.valid()) return os_error(ErrorCode::kInternal, "cannot open image " + image, errno);

  struct loop_config config;
  std::memset(&config, 0, sizeof config);
  config.fd = static_cast<uint32_t>(image_fd.get());
  config.info.lo_flags = autoclear ? LO_FLAGS_AUTOCLEAR : 0;
  std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);

  // Another process may take the free device between GET_FREE and CONFIGURE (EBUSY): ask again.
  for (int attempt = 0; attempt < kMaxGetFreeAttempts; ++attempt) {
    int index = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (index < 0) {
      return os_error(ErrorCode::kUnavailable,
                      "no free loop device (LOOP_CTL_GET_FREE); detach unused ones with "
                      "`losetup -D` or raise the loop module's max_loop",
                      errno);
    }
    std::string path = "/dev/loop" + std::to_string(index);
    UniqueFd device(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!device.valid()) return os_error(ErrorCode::kUnavailable, "cannot open " + path, errno);
    int rc = ::ioctl(device.get(), LOOP_CONFIGURE, &config);
    if (rc != 0 && (errno == EINVAL || errno == ENOTTY)) {
      rc = configure_legacy(device.get(), image_fd.get(), config.info);
    }
    if (rc == 0) {
      LoopDevice described = describe(index, device.get(), image);
      return OpenLoopDevice{std::move(described), std::move(device)};
    }
    if (errno != EBUSY) {
      return os_error(ErrorCode::kInternal, "cannot bind " + image + " to " + path, errno);
    }
  }
  return make_error(ErrorCode::kUnavailable,
                    "every free loop device was taken by another process " +
                        std::to_string(kMaxGetFreeAttempts) + " times in a row; retry");
}

Result<OpenLoopDevice> open_loop_device(const LoopDevice& device) {
  UniqueFd fd(::open(device.path().c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return os_error(ErrorCode::kUnavailable, "cannot open " + device.path(), errno);
  // Now that it is open it cannot be unbound under us; check it is still bound to the same file.
  std::optional<std::string> backing =
      read_line("/sys/block/loop" + std::to_string(device.index) + "/loop/backing_file");
  if (!backing || *backing != device.backing_file) {
    return make_error(ErrorCode::kUnavailable,
                      device.path() + " was unbound from " + device.backing_file + " meanwhile");
  }
  return OpenLoopDevice{device, std::move(fd)};
}

Status detach_loop_device(const LoopDevice& device) {
  UniqueFd fd(::open(device.path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ENXIO) return {};
    return os_error(ErrorCode::kInternal, "cannot open " + device.path(), errno);
  }
  if (::ioctl(fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
    return os_error(ErrorCode::kInternal, "cannot detach " + device.path(), errno);
  }
  return {};
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point, options, field;
    if (!(fields >> id >> parent >> devno >> root >> mount_point >> options)) continue;
    while (fields >> field && field != "-") {
    }
    MountEntry entry;
    if (!(fields >> entry.fs_type >> entry.source)) continue;
    unsigned major_number = 0, minor_number = 0;
    if (std::sscanf(devno.c_str(), "%u:%u", &major_number, &minor_number) != 2) continue;
    entry.major = major_number;
    entry.minor = minor_number;
    entry.mount_point = unescape_octal(mount_point);
    entry.source = unescape_octal(entry.source);
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<MountEntry>> read_mounts() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return make_error(ErrorCode::kInternal, "cannot read /proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  return parse_mountinfo(text.str());
}

std::optional<MountEntry> find_mount(const std::vector<MountEntry>& mounts,
                                     const std::string& mount_point) {
  std::optional<MountEntry> found;
  for (const MountEntry& entry : mounts) {
    if (entry.mount_point == mount_point) found = entry;
  }
  return found;
}

bool is_device_mounted(const std::vector<MountEntry>& mounts, uint32_t major_number,
                       uint32_t minor_number) {
  for (const MountEntry& entry : mounts) {
    if (entry.major == major_number && entry.minor == minor_number) return true;
  }
  return false;
}

Status mount_ext4(const std::string& device, const std::string& mount_point) {
  if (::mount(device.c_str(), mount_point.c_str(), "ext4", 0, nullptr) != 0) {
    // EBUSY: the device is mounted already, or multi-mount protection saw another host.
    return os_error(errno == EBUSY ? ErrorCode::kConflict : ErrorCode::kInternal,
                    "cannot mount " + device + " (ext4) at " + mount_point, errno);
  }
  return {};
}

Status unmount(const std::string& mount_point) {
  if (::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) == 0 || errno == EINVAL) return {};
  if (errno == EBUSY) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot unmount " + mount_point +
                          ": it is busy (a process still has files open there); stop it and retry");
  }
  return os_error(ErrorCode::kInternal, "cannot unmount " + mount_point, errno);
}

}  // namespace berth
