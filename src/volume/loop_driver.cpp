// make_loop_driver: the `loop` driver (docs/architecture.md §6). Images and records live in the
// shared pool (`<pool>/<id>.img`, `<pool>/.berth-loop/`); mounts are per node under `mount_dir`.
// The records are the loop driver's own: the `shared` driver keeps its records in the same pool
// (`<pool>/.berth/`), and a record one driver could list as its own would make an agent report
// a loop dataset as a shared one, whose path it then could not find.
#include <memory>

#include "volume/loop_backend.h"
#include "volume/recorded_driver.h"
#include "volume/volume_driver.h"

namespace berth {

std::unique_ptr<VolumeDriver> make_loop_driver(const std::string& pool_dir,
                                               const std::string& mount_dir) {
  return make_loop_driver(pool_dir, mount_dir, LoopDeviceSharing::kThisHost);
}

std::unique_ptr<VolumeDriver> make_loop_driver(const std::string& pool_dir,
                                               const std::string& mount_dir,
                                               LoopDeviceSharing sharing) {
  auto backend = std::make_unique<LoopBackend>(pool_dir, mount_dir, sharing);
  std::filesystem::path pool = std::filesystem::absolute(pool_dir).lexically_normal();
  return std::make_unique<RecordedDriver>(std::move(backend),
                                          RecordDir(pool / ".berth-loop", /*create_parent=*/false));
}

}  // namespace berth
