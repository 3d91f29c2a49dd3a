// LoopBackend: a dataset is an ext4 image file `<pool>/<id>.img` (sparse, made by mkfs.ext4 on
// create), attached to a loop device and mounted at `<mount_dir>/<id>` on the node using it.
// Block-device semantics, like EBUSY-prone cloud volumes, on any filesystem the nodes share.
//
// Half-done states it finishes: an image being made (`<id>.img.tmp`, replaced by a retry), a
// loop device bound to the image but not mounted (reused by expose, unbound by conceal), a
// mount left after a crash (recognised as ours by its device's backing file).
#pragma once

#include <filesystem>
#include <string>

#include "volume/volume_backend.h"

namespace berth {

class LoopBackend final : public VolumeBackend {
 public:
  static constexpr uint64_t kMinSizeBytes = 16 * 1024 * 1024;

  LoopBackend(std::filesystem::path pool_dir, std::filesystem::path mount_dir);

  std::string name() const override { return "loop"; }
  Status available() const override;
  Status check_size(uint64_t size_bytes) const override;
  Status create_storage(const std::string& dataset_id, uint64_t size_bytes) override;
  bool storage_exists(const std::string& dataset_id) const override;
  Status remove_storage(const std::string& dataset_id) override;
  Result<std::string> expose(const std::string& dataset_id) override;
  Status conceal(const std::string& dataset_id) override;
  Result<std::optional<std::string>> exposed_path(const std::string& dataset_id) override;

  std::string image_path(const std::string& dataset_id) const;
  std::string mount_point(const std::string& dataset_id) const;

 private:
  // Unbinds every loop device of the image that is mounted nowhere on this host.
  Status release_unmounted_devices(const std::string& image);

  std::filesystem::path pool_;
  std::filesystem::path mount_dir_;
  std::string mkfs_;  // path of mkfs.ext4, empty when not installed
};

}  // namespace berth
