// MasterCore's datasets: Flocker's configuration API made durable, and the assignments that
// tell each agent what to attach. A dataset is assigned to its primary node for attaching only
// once no other live node reports it attached, so a move detaches before it attaches.
//
// A `local` dataset's data lives on one node, so it moves by copying (docs/fencing.md §5), and only
// while the node holding it and the new node are both up. The move records the holder in
// `moving_from`; the old node detaches; the new node is assigned the dataset with `copy_from`
// (the holder agent's HTTP address), fetches the archive, installs it and only then attaches.
// Once the new node reports it attached at the current epoch, `moving_from` is cleared and
// every other copy (the source's included) is assigned for destruction: the data always
// exists on at least one node.

#include <nlohmann/json.hpp>

#include "master/master_core.h"
#include "master/plan.h"
#include "metrics/registry.h"

namespace berth::master {
namespace {

std::string dataset_key(const std::string& id) { return "/datasets/" + id; }

// One dataset's share of the configuration tag: FNV-1a over its id and what users configured
// (a copy in progress, moving_from, is not their change), then mixed so that the sum over
// datasets changes with any one of them. Stable across restarts.
uint64_t configuration_digest(const model::Dataset& d) {
  nlohmann::json config = model::dataset_to_json(d);
  config.erase("moving_from");
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : d.dataset_id + "\n" + config.dump()) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

const std::string* live_name(const model::Dataset& d) {
  auto it = d.metadata.find("name");
  return d.deleted || it == d.metadata.end() ? nullptr : &it->second;
}

}  // namespace

void MasterState::put_dataset(const model::Dataset& dataset) {
  auto it = datasets.find(dataset.dataset_id);
  if (it != datasets.end()) {
    datasets_digest -= configuration_digest(it->second);
    if (const std::string* name = live_name(it->second)) {
      auto named = live_datasets_by_name.find(*name);
      named->second.erase(dataset.dataset_id);
      if (named->second.empty()) live_datasets_by_name.erase(named);
    }
    auto by_primary = datasets_by_primary.find(it->second.primary);
    by_primary->second.erase(dataset.dataset_id);
    if (by_primary->second.empty()) datasets_by_primary.erase(by_primary);
    it->second = dataset;
  } else {
    datasets.emplace(dataset.dataset_id, dataset);
  }
  datasets_by_primary[dataset.primary].insert(dataset.dataset_id);
  datasets_digest += configuration_digest(dataset);
  if (const std::string* name = live_name(dataset))
    live_datasets_by_name[*name].insert(dataset.dataset_id);
}

void MasterCore::keep_dataset(const model::Dataset& dataset) {
  state_.put_dataset(dataset);
  publish_event("berth_dataset_changed", {{"datasetId", dataset.dataset_id}});
  leases_.restore_dataset(dataset.dataset_id, lease::DatasetHolder{dataset.primary, dataset.epoch});
}

std::string MasterCore::configuration_tag(const MasterState& state) const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(state.datasets_digest));
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
  auto name = dataset.metadata.find("name");
  std::string what = "dataset " + dataset.dataset_id +
                     (name == dataset.metadata.end() ? "" : " (" + name->second + ")");
  if (it == state_.datasets.end()) {
    note(what + " created on " +
         (dataset.primary.empty() ? "no node yet" : node_name(dataset.primary)) + " (" +
         dataset.driver + ")");
  } else {
    previous = it->second.primary;
    const model::Dataset& old = it->second;
    if (dataset.deleted && !old.deleted) note(what + " deleted");
    if (dataset.primary != old.primary || dataset.epoch != old.epoch) {
      note(what + " primary " + (old.primary.empty() ? "none" : node_name(old.primary)) + " -> " +
           (dataset.primary.empty() ? "none" : node_name(dataset.primary)) + ", epoch " +
           std::to_string(old.epoch) + " -> " + std::to_string(dataset.epoch) +
           (dataset.moving_from.empty() ? "" : ", copying from " + node_name(dataset.moving_from)));
      // A move: from one node to another (a first placement or a release is none).
      if (options_.metrics && !old.primary.empty() && !dataset.primary.empty() &&
          dataset.primary != old.primary) {
        options_.metrics->increment(metrics::Metric::kDatasetMoves, {dataset.driver});
      }
    }
  }
  keep_dataset(dataset);
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
  // The list itself is computed when the agent fetches the command (see commands()): it is
  // then the newest, and a burst of dataset changes costs one list, not one per change.
  protocol::Command command;
  command.body = protocol::DatasetsCommand{};
  enqueue(it->second, std::move(command));
}

Result<model::Dataset> MasterCore::create_dataset(const nlohmann::json& body,
                                                  const std::string& if_tag) {
  std::lock_guard lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto parsed = model::parse_dataset_create(body, ids_.uuid(), options_.default_dataset_driver);
  if (!parsed) return parsed.error();
  auto planned = plan_dataset_create(state_, *parsed);
  if (!planned) return planned.error();
  return persist_dataset(*planned);
}

Result<model::Dataset> MasterCore::update_dataset(const std::string& id, const nlohmann::json& body,
                                                  const std::string& if_tag) {
  std::lock_guard lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto update = model::parse_dataset_update(body);
  if (!update) return update.error();
  auto planned = plan_dataset_update(state_, leases_, id, *update);
  if (!planned) return planned.error();
  return persist_dataset(*planned);
}

Result<model::Dataset> MasterCore::delete_dataset(const std::string& id,
                                                  const std::string& if_tag) {
  std::lock_guard lock(mu_);
  Status tag = check_tag(if_tag);
  if (!tag) return tag.error();
  auto planned = plan_dataset_delete(state_, id);
  if (!planned) return planned.error();
  if (*planned == state_.datasets.at(id)) return *planned;  // deleted before
  return persist_dataset(*planned);
}

void MasterCore::finish_local_moves(const std::string& agent_id) {
  const AgentRecord& agent = state_.agents.at(agent_id);
  std::map<std::string, model::Dataset> done;
  for (const auto& r : agent.datasets) {
    if (!r.attached) continue;
    auto d = state_.datasets.find(r.dataset_id);
    if (d == state_.datasets.end() || d->second.moving_from.empty() ||
        d->second.primary != agent_id)
      continue;
    if (r.epoch == d->second.epoch) done.emplace(d->first, d->second);
  }
  for (auto& [id, d] : done) {
    std::string source = d.moving_from;
    d.moving_from.clear();
    if (!persist_dataset(d)) continue;  // tried again with the next heartbeat
    push_assignments(source);           // its copy goes now
  }
}

}  // namespace berth::master
