#include "volume/directory_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "volume/os_error.h"

namespace berth {
namespace fs = std::filesystem;

DirectoryBackend::DirectoryBackend(fs::path root, Layout layout)
    : root_(fs::absolute(root).lexically_normal()), layout_(layout) {}

std::string DirectoryBackend::name() const {
  return layout_ == Layout::kShared ? "shared" : "local";
}

fs::path DirectoryBackend::dataset_root(const std::string& dataset_id) const {
  return root_ / dataset_id;
}

fs::path DirectoryBackend::data_dir(const std::string& dataset_id) const {
  return layout_ == Layout::kShared ? root_ / dataset_id / "data" : root_ / dataset_id;
}

Status DirectoryBackend::available() const {
  std::error_code ec;
  if (layout_ == Layout::kLocal && !fs::exists(root_, ec)) return {};  // Created on first use.
  if (!fs::is_directory(root_, ec)) {
    return make_error(
        ErrorCode::kUnavailable,
        "the " + name() + " driver's directory " + root_.string() + " does not exist" +
            (layout_ == Layout::kShared ? "; mount the shared filesystem there (or create it for a "
                                          "single-machine cluster)"
                                        : ""));
  }
  if (::access(root_.c_str(), W_OK | X_OK) != 0) {
    return os_error(ErrorCode::kUnavailable,
                    "the " + name() + " driver cannot write to " + root_.string(), errno);
  }
  return {};
}

Status DirectoryBackend::check_size(uint64_t size_bytes) const {
  if (size_bytes > 0) return {};
  return make_error(ErrorCode::kInvalidArgument, "maximum_size must be at least 1 byte, got 0");
}

Status DirectoryBackend::create_storage(const std::string& dataset_id, uint64_t) {
  if (Status s = remove_storage(dataset_id); !s) return s;
  if (layout_ == Layout::kLocal) {
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec) {
      return make_error(ErrorCode::kInternal,
                        "cannot create " + root_.string() + ": " + ec.message());
    }
  }
  fs::path top = dataset_root(dataset_id);
  if (::mkdir(top.c_str(), 0755) != 0) {
    return os_error(errno == ENOENT ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                    "cannot create dataset directory " + top.string(), errno);
  }
  fs::path data = data_dir(dataset_id);
  if (data != top && ::mkdir(data.c_str(), 0755) != 0) {
    return os_error(ErrorCode::kInternal, "cannot create dataset directory " + data.string(),
                    errno);
  }
  return {};
}

bool DirectoryBackend::storage_exists(const std::string& dataset_id) const {
  std::error_code ec;
  return fs::exists(dataset_root(dataset_id), ec);
}

Status DirectoryBackend::remove_storage(const std::string& dataset_id) {
  std::error_code ec;
  fs::remove_all(dataset_root(dataset_id), ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot remove " + dataset_root(dataset_id).string() + ": " + ec.message());
  }
  return {};
}

Result<std::string> DirectoryBackend::expose(const std::string& dataset_id) {
  Result<std::optional<std::string>> path = exposed_path(dataset_id);
  if (!path) return path.error();
  if (!*path) {
    return make_error(ErrorCode::kInternal, "data directory " + data_dir(dataset_id).string() +
                                                " of dataset " + dataset_id +
                                                " is missing; destroy and recreate the dataset");
  }
  return **path;
}

Status DirectoryBackend::conceal(const std::string&) { return {}; }

Result<std::optional<std::string>> DirectoryBackend::exposed_path(const std::string& dataset_id) {
  std::error_code ec;
  fs::path data = data_dir(dataset_id);
  if (!fs::is_directory(data, ec)) return std::optional<std::string>();
  return std::optional<std::string>(data.string());
}

}  // namespace berth
