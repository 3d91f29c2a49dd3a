// MasterCore and apps with external volumes: datasets are created on first use and a volume
// may be used by one app only. Where such a task goes, its datasets following it at a new
// epoch, and when its launch is sent are decided in master/plan.h.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "master/master_core.h"

namespace berth::master {
namespace {

uint64_t requested_size(const model::ExternalVolume& v) {
  if (auto mib = v.options.find("berth/size-mib"); mib != v.options.end()) {
    try {
      uint64_t bytes = std::stoull(mib->second) * 1048576ULL;
      return std::max<uint64_t>(bytes, model::kMinimumDatasetSize);
    } catch (...) {
    }
  }
  for (const char* key : {"size", "dvdi/size", "berth/size"}) {
    auto it = v.options.find(key);
    if (it == v.options.end()) continue;
    try {
      double gib = std::stod(it->second);
      if (gib > 0) return static_cast<uint64_t>(gib * 1073741824.0) / 1024 * 1024;
    } catch (...) {
    }
  }
  return model::kDefaultDatasetSize;
}

}  // namespace

const model::Dataset* MasterCore::dataset_named(const std::string& name) const {
  auto named = state_.live_datasets_by_name.find(name);
  if (named == state_.live_datasets_by_name.end()) return nullptr;
  return &state_.datasets.at(*named->second.begin());  // the first by id, as a scan would find
}

std::vector<model::Dataset> MasterCore::missing_datasets(const model::App& app) {
  std::vector<model::Dataset> out;
  for (const auto& v : model::dataset_volumes(app)) {
    if (dataset_named(v.name)) continue;
    model::Dataset d;
    d.dataset_id = ids_.uuid();
    d.metadata["name"] = v.name;
    auto driver = v.options.find("berth/driver");
    d.driver = driver != v.options.end() ? driver->second : options_.default_dataset_driver;
    d.maximum_size = requested_size(v);
    d.epoch = 0;
    out.push_back(d);
  }
  return out;
}

std::vector<std::string> MasterCore::volume_conflicts(const model::App& app) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& v : model::external_volumes(app)) {
    if (v.shared) continue;
    for (const auto& [id, record] : state_.apps) {
      if (id == app.id || record.deleting) continue;
      for (const auto& other : model::external_volumes(record.app)) {
        if (other.name == v.name) out.push_back(v.name + " (used by " + id + ")");
      }
    }
  }
  return out;
}

Status MasterCore::drain_node(const std::string& agent_id, bool drain) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end())
    return make_error(ErrorCode::kNotFound, "Node '" + agent_id + "' does not exist");
  it->second.draining = drain;
  return {};
}

}  // namespace berth::master
