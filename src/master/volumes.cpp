// MasterCore and apps with external volumes: datasets are created on first use and a volume
// may be used by one app only. Where such a task goes, its datasets following it at a new
// epoch, and when its launch is sent are decided in master/plan.h.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "master/master_core.h"

namespace berth::master {

std::vector<std::string> MasterCore::volume_conflicts(const model::App& app) const {
  std::lock_guard lock(mu_);
  mu_.unchanged();
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
  std::lock_guard lock(mu_);
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end())
    return make_error(ErrorCode::kNotFound, "Node '" + agent_id + "' does not exist");
  it->second.draining = drain;
  publish_node_change(it->second);
  return {};
}

}  // namespace berth::master
