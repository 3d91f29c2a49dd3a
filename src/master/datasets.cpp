// MasterCore's datasets: Flocker's configuration API made durable, and the assignments that
// tell each agent what to attach. A dataset is assigned to its primary node for attaching only
// once no other live node reports it attached, so a move detaches before it attaches.
//
// A `local` dataset's data lives on one node, so it moves by copying (DESIGN §7), and only
// while the node holding it and the new node are both up. The move records the holder in
// `moving_from`; the old node detaches; the new node is assigned the dataset with `copy_from`
// (the holder agent's HTTP address), fetches the archive, installs it and only then attaches.
// Once the new node reports it attached at the current epoch, `moving_from` is cleared and
// every other copy (the source's included) is assigned for destruction: the data always
// exists on at least one node.
#include <nlohmann/json.hpp>

#include "master/master_core.h"

namespace berth::master {
namespace {

std::string dataset_key(const std::string& id) { return "/datasets/" + id; }

bool reports_copy(const AgentRecord& agent, const std::string& dataset_id) {
  for (const auto& r : agent.datasets) {
    if (r.dataset_id == dataset_id && (r.attached || r.local_copy)) return true;
  }
  return false;
}

}  // namespace

std::string MasterCore::configuration_tag(const MasterState& state) const {
  // FNV-1a over the canonical configuration: stable across restarts.
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [id, d] : state.datasets) {
    // What users configured; a copy in progress (moving_from) is not their change.
    nlohmann::json config = model::dataset_to_json(d);
    config.erase("moving_from");
    for (unsigned char c : config.dump()) {
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
      Status movable = check_local_move(next, *update->primary);
      if (!movable) return movable.error();
      std::string holder = next.moving_from.empty() ? next.primary : next.moving_from;
      // Back to the node that holds the data: nothing to copy.
      next.moving_from = *update->primary == holder ? "" : holder;
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

Status MasterCore::check_local_move(const model::Dataset& d, const std::string& target) const {
  auto name = [&](const std::string& node) {
    auto it = state_.agents.find(node);
    return it == state_.agents.end() ? node : it->second.hostname + " (" + node + ")";
  };
  auto up = [&](const std::string& node) {
    auto it = state_.agents.find(node);
    return it != state_.agents.end() && !it->second.lost;
  };
  const std::string holder = d.moving_from.empty() ? d.primary : d.moving_from;
  const std::string cannot = "cannot move dataset " + d.dataset_id + " to node " + name(target) + ": ";
  if (!up(holder)) {
    return make_error(ErrorCode::kConflict,
                      cannot + "it uses the local driver and its data lives only on node " + name(holder) +
                          ", which is down (lost); a local dataset moves only by copying while both nodes "
                          "are up. Bring node " + name(holder) + " back, then move it");
  }
  if (d.primary != holder && d.primary != target && !up(d.primary)) {
    return make_error(ErrorCode::kConflict,
                      cannot + "it uses the local driver and is being copied to node " + name(d.primary) +
                          ", which is down (lost) and may hold a copy of its data; bring that node back, "
                          "then move it");
  }
  if (!up(target)) {
    return make_error(ErrorCode::kConflict,
                      cannot + "that node is down (lost), and a local dataset's data lives only on node " +
                          name(holder) + ": it moves only by copying while both nodes are up. Bring node " +
                          name(target) + " back or choose another node");
  }
  if (target != holder && !reports_copy(state_.agents.at(holder), d.dataset_id)) {
    return make_error(ErrorCode::kConflict,
                      cannot + "it uses the local driver and node " + name(holder) +
                          " has no data of it yet (it is not attached there); wait until /v1/state/datasets "
                          "shows it on that node, then move it");
  }
  return {};
}

void MasterCore::finish_local_moves(const std::string& agent_id) {
  const AgentRecord& agent = state_.agents.at(agent_id);
  std::vector<model::Dataset> done;
  for (const auto& [id, d] : state_.datasets) {
    if (d.moving_from.empty() || d.primary != agent_id) continue;
    for (const auto& r : agent.datasets) {
      if (r.dataset_id == id && r.attached && r.epoch == d.epoch) done.push_back(d);
    }
  }
  for (auto& d : done) {
    std::string source = d.moving_from;
    d.moving_from.clear();
    if (!persist_dataset(d)) continue;  // tried again with the next heartbeat
    push_assignments(source);  // its copy goes now
  }
}

std::vector<protocol::DatasetAssignment> MasterCore::assignments_for(const std::string& agent_id) const {
  std::vector<protocol::DatasetAssignment> out;
  auto self = state_.agents.find(agent_id);
  for (const auto& [id, d] : state_.datasets) {
    if (d.primary != agent_id) {
      // A copy of a local dataset that nothing needs any more: the dataset was deleted, or it
      // has moved on and this is not the source of a copy in progress.
      bool stale_copy = d.driver == "local" && self != state_.agents.end() && reports_copy(self->second, id) &&
                        (d.deleted || d.moving_from != agent_id);
      if (stale_copy) {
        protocol::DatasetAssignment a;
        a.dataset_id = id;
        a.driver = d.driver;
        a.epoch = d.epoch;
        a.size_bytes = d.maximum_size.value_or(model::kDefaultDatasetSize);
        a.destroy = true;
        out.push_back(a);
      }
      continue;
    }
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
    if (d.driver == "local" && !d.moving_from.empty() && d.moving_from != agent_id && !d.deleted) {
      // Attached only with the data: from the holder while it is up, otherwise not at all.
      auto source = state_.agents.find(d.moving_from);
      if (source == state_.agents.end() || source->second.lost || source->second.http_port == 0) {
        a.attach = false;
      } else {
        a.copy_from = source->second.http_base();
        a.copy_from_node = d.moving_from;
      }
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace berth::master
