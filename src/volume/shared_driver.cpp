// make_shared_driver: the `shared` driver (docs/architecture.md §6), a directory per dataset on a
// filesystem every node mounts at the same path. Records live in `<pool>/.berth/`.
#include <memory>

#include "volume/directory_backend.h"
#include "volume/recorded_driver.h"
#include "volume/volume_driver.h"

namespace berth {

std::unique_ptr<VolumeDriver> make_shared_driver(const std::string& pool_dir) {
  std::filesystem::path pool = std::filesystem::absolute(pool_dir).lexically_normal();
  return std::make_unique<RecordedDriver>(
      std::make_unique<DirectoryBackend>(pool, DirectoryBackend::Layout::kShared),
      RecordDir(pool / ".berth", /*create_parent=*/false));
}

}  // namespace berth
