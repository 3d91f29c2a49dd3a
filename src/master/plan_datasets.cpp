// The Flocker API's dataset changes and each agent's dataset assignments (docs/fencing.md §4,
// §5; docs/protocol.md §6): the dataset half of plan.h.
#include <map>
#include <set>

#include "master/plan.h"

namespace berth::master {
namespace {

bool reports_copy(const AgentRecord& agent, const std::string& dataset_id) {
  for (const auto& r : agent.datasets) {
    if (r.dataset_id == dataset_id && (r.attached || r.local_copy)) return true;
  }
  return false;
}

// kConflict when a task or, on a live node other than `except`, a container uses dataset `id`;
// `then` says what to do about a task. `except` is the target of a move, empty for a delete.
Status check_unused(const MasterState& state, const std::string& id, const std::string& except,
                    const std::string& then) {
  for (const auto& [tid, task] : state.tasks) {
    for (const auto& used : task.datasets) {
      if (used == id) {
        return make_error(ErrorCode::kConflict,
                          "dataset " + id + " is in use by task " + tid + "; " + then);
      }
    }
  }
  for (const auto& [aid, agent] : state.agents) {
    if (aid == except || agent.lost) continue;
    for (const auto& r : agent.datasets) {
      if (r.dataset_id == id && r.in_use) {
        return make_error(ErrorCode::kConflict,
                          except.empty() ? "dataset " + id + " is in use on node " + agent.hostname
                                         : "dataset " + id + " is in exclusive use on node " +
                                               agent.hostname + " (a task or a container uses it)");
      }
    }
  }
  return {};
}

}  // namespace

// A `local` dataset moves by copying (docs/fencing.md §5): ok when the node holding its data,
// its current primary and `target` are all up and the data is on the holder; kConflict naming
// the node and the reason otherwise.
Status check_local_move(const MasterState& state, const model::Dataset& d,
                        const std::string& target) {
  auto name = [&](const std::string& node) {
    auto it = state.agents.find(node);
    return it == state.agents.end() ? node : it->second.hostname + " (" + node + ")";
  };
  auto up = [&](const std::string& node) {
    auto it = state.agents.find(node);
    return it != state.agents.end() && !it->second.lost;
  };
  const std::string holder = d.moving_from.empty() ? d.primary : d.moving_from;
  const std::string cannot =
      "cannot move dataset " + d.dataset_id + " to node " + name(target) + ": ";
  if (!up(holder)) {
    return make_error(
        ErrorCode::kConflict,
        cannot + "it uses the local driver and its data lives only on node " + name(holder) +
            ", which is down (lost); a local dataset moves only by copying while both nodes "
            "are up. Bring node " +
            name(holder) + " back, then move it");
  }
  if (d.primary != holder && d.primary != target && !up(d.primary)) {
    return make_error(
        ErrorCode::kConflict,
        cannot + "it uses the local driver and is being copied to node " + name(d.primary) +
            ", which is down (lost) and may hold a copy of its data; bring that node back, "
            "then move it");
  }
  if (!up(target)) {
    return make_error(
        ErrorCode::kConflict,
        cannot + "that node is down (lost), and a local dataset's data lives only on node " +
            name(holder) + ": it moves only by copying while both nodes are up. Bring node " +
            name(target) + " back or choose another node");
  }
  if (target != holder && !reports_copy(state.agents.at(holder), d.dataset_id)) {
    return make_error(
        ErrorCode::kConflict,
        cannot + "it uses the local driver and node " + name(holder) +
            " has no data of it yet (it is not attached there); wait until /v1/state/datasets "
            "shows it on that node, then move it");
  }
  return {};
}

Result<model::Dataset> plan_dataset_create(const MasterState& state, model::Dataset parsed) {
  if (state.datasets.count(parsed.dataset_id)) {
    return make_error(ErrorCode::kConflict, "The provided dataset_id is already in use.");
  }
  if (!state.agents.count(parsed.primary)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "primary " + parsed.primary + " is not a node of this cluster (see /v1/state/nodes)");
  }
  auto name = parsed.metadata.find("name");
  if (name != parsed.metadata.end()) {
    auto named = state.live_datasets_by_name.find(name->second);
    if (named != state.live_datasets_by_name.end()) {
      return make_error(ErrorCode::kConflict, "a dataset named '" + name->second +
                                                  "' already exists: " + *named->second.begin());
    }
  }
  return parsed;
}

Result<model::Dataset> plan_dataset_update(const MasterState& state,
                                           const lease::MasterLeases& leases, const std::string& id,
                                           const model::DatasetUpdate& update) {
  auto it = state.datasets.find(id);
  if (it == state.datasets.end()) return make_error(ErrorCode::kNotFound, "Dataset not found.");
  if (it->second.deleted)
    return make_error(ErrorCode::kNotAllowed, "The dataset has been deleted.");
  model::Dataset next = it->second;
  if (update.primary && *update.primary != next.primary) {
    if (!state.agents.count(*update.primary)) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "primary " + *update.primary + " is not a node of this cluster (see /v1/state/nodes)");
    }
    Status unused =
        check_unused(state, id, *update.primary, "it moves with its app (change the app instead)");
    if (!unused) return unused.error();
    if (next.driver == "local" && !next.primary.empty()) {
      Status movable = check_local_move(state, next, *update.primary);
      if (!movable) return movable.error();
      std::string holder = next.moving_from.empty() ? next.primary : next.moving_from;
      // Back to the node that holds the data: nothing to copy.
      next.moving_from = *update.primary == holder ? "" : holder;
    }
    lease::DatasetHolder moved = leases.moved(id, *update.primary);
    next.primary = moved.agent;
    next.epoch = moved.epoch;
  }
  if (update.maximum_size) next.maximum_size = update.maximum_size;
  return next;
}

Result<model::Dataset> plan_dataset_delete(const MasterState& state, const std::string& id) {
  auto it = state.datasets.find(id);
  if (it == state.datasets.end()) return make_error(ErrorCode::kNotFound, "Dataset not found.");
  if (it->second.deleted) return it->second;
  Status unused = check_unused(state, id, "", "destroy its app first");
  if (!unused) return unused.error();
  model::Dataset next = it->second;
  next.deleted = true;
  return next;
}

std::vector<protocol::DatasetAssignment> assignments_for(const MasterState& state,
                                                         const lease::MasterLeases& leases,
                                                         const std::string& agent_id,
                                                         MonoTime now) {
  // From the indexes in MasterState: the cost is this agent's datasets and reports, not the
  // cluster's (each of a hundred agents asks a few times a second).
  std::map<std::string, protocol::DatasetAssignment> out;  // by dataset id
  auto self = state.agents.find(agent_id);
  if (self != state.agents.end()) {
    // A copy of a local dataset that nothing needs any more: the dataset was deleted, or it
    // has moved on and this is not the source of a copy in progress.
    for (const auto& r : self->second.datasets) {
      if (!r.attached && !r.local_copy) continue;
      auto it = state.datasets.find(r.dataset_id);
      if (it == state.datasets.end()) continue;
      const model::Dataset& d = it->second;
      if (d.primary == agent_id || d.driver != "local" || (!d.deleted && d.moving_from == agent_id))
        continue;
      protocol::DatasetAssignment a;
      a.dataset_id = d.dataset_id;
      a.driver = d.driver;
      a.epoch = d.epoch;
      a.size_bytes = d.maximum_size.value_or(model::kDefaultDatasetSize);
      a.destroy = true;
      out[d.dataset_id] = a;
    }
  }
  // Whether a node may attach is the lease's decision (docs/fencing.md §4): no other node that
  // is not lost holds the dataset, and in the grace after a restart only what the node already
  // reports attached stays attached.
  auto mine = state.datasets_by_primary.find(agent_id);
  if (!agent_id.empty() && mine != state.datasets_by_primary.end()) {
    for (const auto& id : mine->second) {
      const model::Dataset& d = state.datasets.at(id);
      bool elsewhere = leases.held_elsewhere(id, agent_id);
      protocol::DatasetAssignment a;
      a.dataset_id = id;
      a.driver = d.driver;
      a.epoch = d.epoch;
      a.size_bytes = d.maximum_size.value_or(model::kDefaultDatasetSize);
      a.attach = !d.deleted && leases.may_attach(id, agent_id, now);
      a.destroy = d.deleted && !elsewhere;
      if (d.driver == "local" && !d.moving_from.empty() && d.moving_from != agent_id &&
          !d.deleted) {
        // Attached only with the data: from the holder while it is up, otherwise not at all.
        auto source = state.agents.find(d.moving_from);
        if (source == state.agents.end() || source->second.lost || source->second.http_port == 0) {
          a.attach = false;
        } else {
          a.copy_from = source->second.http_base();
          a.copy_from_node = d.moving_from;
        }
      }
      out[id] = a;
    }
  }
  std::vector<protocol::DatasetAssignment> list;
  list.reserve(out.size());
  for (auto& [id, a] : out) list.push_back(std::move(a));
  return list;
}

}  // namespace berth::master
