// DirectoryBackend: a dataset is a plain directory; nothing to mount. Used by the shared
// driver (`<pool>/<id>/data`, the pool being a filesystem every node mounts at the same path)
// and the local driver (`<node_dir>/<id>`, this node only). The epoch record is the only fence:
// a directory cannot be taken away from a fenced node, so the fenced node must stop using it
// when path() says so.
#pragma once

#include <filesystem>
#include <string>

#include "volume/volume_backend.h"

namespace berth {

class DirectoryBackend final : public VolumeBackend {
 public:
  enum class Layout {
    kShared,  // <root>/<id>/data; <root> must already exist (it is a shared mount)
    kLocal,   // <root>/<id>; <root> is created when missing
  };

  DirectoryBackend(std::filesystem::path root, Layout layout);

  std::string name() const override;
  Status available() const override;
  Status check_size(uint64_t size_bytes) const override;
  Status create_storage(const std::string& dataset_id, uint64_t size_bytes) override;
  bool storage_exists(const std::string& dataset_id) const override;
  Status remove_storage(const std::string& dataset_id) override;
  Result<std::string> expose(const std::string& dataset_id) override;
  Status conceal(const std::string& dataset_id) override;
  Result<std::optional<std::string>> exposed_path(const std::string& dataset_id) override;

  std::filesystem::path dataset_root(const std::string& dataset_id) const;
  std::filesystem::path data_dir(const std::string& dataset_id) const;

 private:
  std::filesystem::path root_;
  Layout layout_;
};

}  // namespace berth
