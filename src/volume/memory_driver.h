// The in-memory VolumeDriver fake and the pool it shares between "nodes". A simulation that
// runs several agents in one process gives each agent its own driver over one
// MemoryVolumePool, as real nodes share one storage pool. It applies the same epoch rules
// (epoch_rules.h) and passes the same contract suite as the real drivers.
//
// A dataset's path is "/memory/<id>"; there is no directory there. Instead the pool keeps
// each dataset's files as name → content, reachable through write_file/read_file while the
// dataset is attached, so tests can check that data follows a dataset and dies with it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/result.h"
#include "volume/epoch_rules.h"
#include "volume/volume_driver.h"

namespace berth {

class MemoryVolumePool {
 public:
  // Writes (replaces) a file of the dataset mounted at `path` ("/memory/<id>").
  // kNotFound when no dataset is attached at that path.
  Status write_file(const std::string& path, const std::string& name, std::string content);
  // kNotFound when no dataset is attached at `path` or it has no such file.
  Result<std::string> read_file(const std::string& path, const std::string& name) const;

 private:
  friend class MemoryDriver;
  struct Dataset {
    EpochRecord record;
    std::map<std::string, std::string> files;
  };

  mutable std::mutex mutex_;
  std::map<std::string, Dataset> datasets_;
};

// A driver over `pool`; drivers made over the same pool see the same datasets.
std::unique_ptr<VolumeDriver> make_memory_driver(std::shared_ptr<MemoryVolumePool> pool);

}  // namespace berth
