// LoopBackend: a dataset is an ext4 image file `<pool>/<id>.img` (sparse, made by mkfs.ext4 on
// create), attached to a loop device and mounted at `<mount_dir>/<id>` on the node using it.
// Block-device semantics, like EBUSY-prone cloud volumes, on any filesystem the nodes share.
//
// Two hosts never mount one image at once (docs/fencing.md §4): images are made with ext4's
// multi-mount protection (`mmp`), so the kernel refuses a mount while another host's kernel
// keeps the image's MMP block ticking, and lets it through once that host unmounted it (at
// once) or stopped (after about 22 s: two check intervals). Nodes on one host share that host's
// loop device and so one ext4 instance; fencing keeps their tasks apart.
//
// Half-done states it finishes: an image being made (`<id>.img.tmp`, replaced by a retry), a
// loop device bound to the image but not mounted (reused by expose, unbound by conceal), a
// mount left after a crash (recognised as ours by its device's backing file).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "volume/volume_backend.h"
#include "volume/volume_driver.h"

namespace berth {

// Whether a node mounts through a loop device another node of this host bound to the image.
// Only a host's own kernel can: kSeparateHost acts as a node on another host would (the
// multi-mount protection tests).
enum class LoopDeviceSharing { kThisHost, kSeparateHost };

class LoopBackend final : public VolumeBackend {
 public:
  static constexpr uint64_t kMinSizeBytes = 16 * 1024 * 1024;
  // How often a mounting kernel updates the image's MMP block. The kernel waits at least
  // 2 × (2 × 5 s + 1 s) (its minimum check interval) before it mounts an image that was not
  // unmounted cleanly; 2 s keeps that minimum with half the writes of 1 s.
  static constexpr int kMmpUpdateIntervalSeconds = 2;

  LoopBackend(std::filesystem::path pool_dir, std::filesystem::path mount_dir,
              LoopDeviceSharing sharing = LoopDeviceSharing::kThisHost);

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
  LoopDeviceSharing sharing_;
  std::string mkfs_;  // path of mkfs.ext4, empty when not installed
};

// make_loop_driver (volume_driver.h) with a choice of device sharing.
std::unique_ptr<VolumeDriver> make_loop_driver(const std::string& pool_dir,
                                               const std::string& mount_dir,
                                               LoopDeviceSharing sharing);

}  // namespace berth
