// MasterCore's datasets: Flocker's configuration API made durable, and the assignments that
// tell each agent what to attach. A dataset is assigned to its primary node for attaching only
// once no other live node reports it attached, so a move detaches before it attaches.
#include <nlohmann/json.hpp>

#include "master/master_core.h"

namespace berth::master {
namespace {

std::string dataset_key(const std::string& id) { return "/datasets/" + id; }

}  // namespace

std::string MasterCore::configuration_tag(const MasterState& state) const {
  // FNV-1a over the canonical configuration: stable across restarts.
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [id, d] : state.datasets) {
    for (unsigned char c : model::dataset_to_json(d).dump()) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Status MasterCore::check_tag(const std::string& if_tag) const {
  if (if_tag.empty()) return {};
  std::string current = configuration_tag(state_);
  if (if_tag == current) return {};
  return make_error(ErrorCode::kPreconditionFailed,
                    "Tag doesn't match. Required: " + if_tag + ", current: " + current);
}

Result<model::Dataset> MasterCore::persist_dataset(model::Dataset dataset) {
  auto stored = store_.put(dataset_key(dataset.dataset_id), model::dataset_to_json(dataset).dump());
  if (!stored) return stored.error();
  std::string previous;
  auto it = state_.datasets.find(dataset.dataset_id);
  if (it != state_.datasets.end()) previous = it->second.primary;
  state_.datasets[dataset.dataset_id] = dataset;
  // Both ends of a move learn of it at once: the old primary detaches, the new one waits.
  if (!previous.empty() && previous != dataset.primary) push_assignments(previous);
  // Agents that hold it without being its primary must let go too.
  for (auto& [aid, agent] : state_.agents) {
    if (aid == dataset.primary || aid == previous || agent.lost) continue;
    for (const auto& r : agent.datasets) {
      if (r.dataset_id == dataset.dataset_id && r.attached) push_assignments(aid);
    }
  }
  if (!dataset.primary.empty()) push_assignments(dataset.primary);
  return dataset;
}

void MasterCore::push_assignments(const std::string& agent_id) {
  auto it = state_.agents.find(agent_id);
  if (it == state_.agents.end() || it->second.lost) return;
  protocol::Command command;
  command.type = "datasets";
  command.datasets = assignments_for(agent_id);
  enqueue(it->second, std::move(command));
}

Result<model::Dataset> MasterCore::create_dataset(const nlohmann::json& body, const std::string& if_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto parsed = model::parse_dataset_create(body, ids_.uuid(), options_.default_dataset_driver);
  if (!parsed) return parsed.error();
  if (state_.datasets.count(parsed->dataset_id)) {
    return make_error(ErrorCode::kConflict, "The provided dataset_id is already in use.");
  }
  if (!state_.agents.count(parsed->primary)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "primary " + parsed->primary + " is not a node of this cluster (see /v1/state/nodes)");
  }
  auto name = parsed->metadata.find("name");
  if (name != parsed->metadata.end()) {
    for (const auto& [id, d] : state_.datasets) {
      auto other = d.metadata.find("name");
      if (!d.deleted && other != d.metadata.end() && other->second == name->second) {
        return make_error(ErrorCode::kConflict, "a dataset named '" + name->second + "' already exists: " + id);
      }
    }
  }
  return persist_dataset(*parsed);
}

Result<model::Dataset> MasterCore::update_dataset(const std::string& id, const nlohmann::json& body,
                                                  const std::string& if_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto it = state_.datasets.find(id);
  if (it == state_.datasets.end()) return make_error(ErrorCode::kNotFound, "Dataset not found.");
  if (it->second.deleted) return make_error(ErrorCode::kNotAllowed, "The dataset has been deleted.");
  auto update = model::parse_dataset_update(body);
  if (!update) return update.error();
  model::Dataset next = it->second;
  if (update->primary && *update->primary != next.primary) {
    if (!state_.agents.count(*update->primary)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "primary " + *update->primary + " is not a node of this cluster (see /v1/state/nodes)");
    }
    for (const auto& [tid, task] : state_.tasks) {
      for (const auto& used : task.datasets) {
        if (used == id) {
          return make_error(ErrorCode::kConflict, "dataset " + id + " is in use by task " + tid +
                                                      "; it moves with its app (change the app instead)");
        }
      }
    }
    for (const auto& [aid, agent] : state_.agents) {
      if (aid == *update->primary || agent.lost) continue;
      for (const auto& r : agent.datasets) {
        if (r.dataset_id == id && r.in_use) {
          return make_error(ErrorCode::kConflict, "dataset " + id + " is in exclusive use on node " +
                                                      agent.hostname + " (a task or a container uses it)");
        }
      }
    }
    if (next.driver == "local" && !next.primary.empty()) {
      return make_error(ErrorCode::kConflict,
                        "dataset " + id + " uses the local driver: its data lives on node " + next.primary +
                            " and cannot be moved to another node; use the shared or loop driver for datasets "
                            "that move");
    }
    next.primary = *update->primary;
    next.epoch += 1;
  }
  if (update->maximum_size) next.maximum_size = update->maximum_size;
  return persist_dataset(next);
}

Result<model::Dataset> MasterCore::delete_dataset(const std::string& id, const std::string& if_tag) {
  std::lock_guard<std::mutex> lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto it = state_.datasets.find(id);
  if (it == state_.datasets.end()) return make_error(ErrorCode::kNotFound, "Dataset not found.");
  if (it->second.deleted) return it->second;
  for (const auto& [tid, task] : state_.tasks) {
    for (const auto& used : task.datasets) {
      if (used == id) {
        return make_error(ErrorCode::kConflict, "dataset " + id + " is in use by task " + tid + "; destroy its app first");
      }
    }
  }
  for (const auto& [aid, agent] : state_.agents) {
    if (agent.lost) continue;
    for (const auto& r : agent.datasets) {
      if (r.dataset_id == id && r.in_use) {
        return make_error(ErrorCode::kConflict, "dataset " + id + " is in use on node " + agent.hostname);
      }
    }
  }
  model::Dataset next = it->second;
  next.deleted = true;
  return persist_dataset(next);
}

std::vector<protocol::DatasetAssignment> MasterCore::assignments_for(const std::string& agent_id) const {
  std::vector<protocol::DatasetAssignment> out;
  for (const auto& [id, d] : state_.datasets) {
    if (d.primary != agent_id) continue;
    bool held_elsewhere = false;
    for (const auto& [aid, agent] : state_.agents) {
      if (aid == agent_id || agent.lost) continue;
      for (const auto& r : agent.datasets) {
        if (r.dataset_id == id && r.attached) held_elsewhere = true;
      }
    }
    protocol::DatasetAssignment a;
    a.dataset_id = id;
    a.driver = d.driver;
    a.epoch = d.epoch;
    a.size_bytes = d.maximum_size.value_or(model::kDefaultDatasetSize);
    a.attach = !d.deleted && !held_elsewhere;
    a.destroy = d.deleted && !held_elsewhere;
    out.push_back(a);
  }
  return out;
}

}  // namespace berth::master
