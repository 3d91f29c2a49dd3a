// RecordedDriver: a VolumeDriver whose fence is an epoch record file next to the data
// (RecordDir) and whose bytes live in a VolumeBackend. The shared, loop and local drivers are
// all this class with a different backend and record directory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "volume/epoch_record.h"
#include "volume/volume_backend.h"
#include "volume/volume_driver.h"

namespace berth {

class RecordedDriver final : public VolumeDriver {
 public:
  RecordedDriver(std::unique_ptr<VolumeBackend> backend, RecordDir records);

  std::string name() const override;
  Status available() const override;
  Result<VolumeInfo> create(const std::string& dataset_id, uint64_t size_bytes) override;
  Status destroy(const std::string& dataset_id) override;
  Result<std::string> attach(const std::string& dataset_id, const std::string& node_id,
                             uint64_t epoch) override;
  Status detach(const std::string& dataset_id, const std::string& node_id) override;
  Result<std::vector<VolumeInfo>> list() override;
  Result<std::string> path(const std::string& dataset_id, const std::string& node_id,
                           uint64_t epoch) override;

 private:
  Error not_found(const std::string& dataset_id) const;

  std::unique_ptr<VolumeBackend> backend_;
  RecordDir records_;
};

}  // namespace berth
