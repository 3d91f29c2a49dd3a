// MasterCore's groups and deployment rollback (docs/compatibility.md §2.3, §2.8): each builds the
// subtree a change asks for, master/plan.h plans it, and it is stored in one transaction
// before memory changes.
#include <cmath>
#include <nlohmann/json.hpp>

#include "json/bounded.h"
#include "master/master_core.h"
#include "master/plan.h"

namespace berth::master {
namespace {

// The direct subgroups of `id` in `t`: its group records and the groups its apps imply.
std::set<std::string> direct_subgroups(const GroupTarget& t, const std::string& id) {
  std::set<std::string> out;
  auto take = [&](const std::string& member) {
    for (std::string g = model::parent_group(member); g != "/"; g = model::parent_group(g)) {
      if (model::parent_group(g) == id) {
        out.insert(g);
        return;
      }
    }
  };
  for (const auto& [app_id, app] : t.apps) take(app_id);
  for (const auto& [group_id, g] : t.groups) {
    if (group_id != id) take(group_id + "/x");
  }
  return out;
}

void erase_within(GroupTarget* t, const std::string& id) {
  std::erase_if(t->apps, [&](const auto& kv) { return model::is_within(kv.first, id); });
  std::erase_if(t->groups, [&](const auto& kv) { return model::is_within(kv.first, id); });
}

// Marathon's GroupUpdate.apply: what the update names replaces what was there; what it does not
// name stays.
void apply_update(const model::GroupUpdate& u, GroupTarget* t) {
  if (u.id != "/") {
    GroupRecord& g = t->groups[u.id];
    g.id = u.id;
    if (u.dependencies) g.dependencies = *u.dependencies;
  }
  if (u.apps) {
    std::erase_if(t->apps, [&](const auto& kv) { return model::parent_group(kv.first) == u.id; });
    for (const auto& app : *u.apps) t->apps[app.id] = app;
  }
  if (u.groups) {
    std::set<std::string> listed;
    for (const auto& sub : *u.groups) listed.insert(sub.id);
    for (const auto& sub : direct_subgroups(*t, u.id)) {
      if (!listed.count(sub)) erase_within(t, sub);
    }
    for (const auto& sub : *u.groups) apply_update(sub, t);
  }
}

// The versions of subtree `group`: those group changes stored, and those of the apps in it (an
// app's change through /v2/apps is a change of its groups too, as in Marathon).
Result<std::set<std::string>> versions_of_subtree(Store& store, const MasterState& state,
                                                  const std::string& group) {
  std::set<std::string> out;
  const std::string prefix = group_versions_prefix(group);
  auto snapshots = store.list(prefix);
  if (!snapshots) return snapshots.error();
  for (const auto& kv : *snapshots) out.insert(kv.key.substr(prefix.size()));
  for (const auto& [id, app] : current_subtree(state, group).apps) {
    auto versions = store.list(versions_prefix(id));
    if (!versions) return versions.error();
    for (const auto& kv : *versions) out.insert(kv.key.substr(versions_prefix(id).size()));
  }
  return out;
}

// The subtree as stored by a group change at `version`.
Result<GroupTarget> stored_subtree(const std::string& group, const std::string& version,
                                   const std::string& text) {
  GroupTarget target;
  target.group = group;
  nlohmann::json snapshot = json::parse_or_discarded(text);
  for (const auto& app_json : snapshot.value("apps", nlohmann::json::array())) {
    auto app = model::restore_app(app_json);
    if (!app.app)
      return make_error(ErrorCode::kInternal, "stored version " + version + " of " + group +
                                                  " holds an app that no longer validates");
    target.apps[app.app->id] = std::move(*app.app);
  }
  for (const auto& g : snapshot.value("groups", nlohmann::json::array())) {
    GroupRecord record;
    record.id = g.value("id", "");
    record.dependencies = g.value("dependencies", std::vector<std::string>{});
    if (!record.id.empty()) target.groups[record.id] = record;
  }
  return target;
}

// Subtree `group` as it was at `version`: the stored group version, or else each app of it at
// its newest version up to then (an app with none did not exist yet, and goes).
Result<GroupTarget> subtree_at(Store& store, const MasterState& state, const std::string& group,
                               const std::string& version) {
  auto stored = store.get(group_versions_prefix(group) + version);
  if (!stored) return stored.error();
  if (*stored) return stored_subtree(group, version, (*stored)->value);
  auto known = versions_of_subtree(store, state, group);
  if (!known) return known.error();
  if (!known->count(version)) {
    return make_error(ErrorCode::kNotFound, "Group " + group + " has no version " + version);
  }
  GroupTarget target = current_subtree(state, group);
  for (auto it = target.apps.begin(); it != target.apps.end();) {
    const std::string prefix = versions_prefix(it->first);
    auto versions = store.list(prefix);
    if (!versions) return versions.error();
    const KeyValue* then = nullptr;
    for (const auto& kv : *versions) {
      if (kv.key.substr(prefix.size()) <= version && (!then || kv.key > then->key)) then = &kv;
    }
    if (!then) {
      it = target.apps.erase(it);
      continue;
    }
    auto app = model::restore_app(json::parse_or_discarded(then->value));
    if (!app.app) {
      return make_error(ErrorCode::kInternal,
                        "stored version of " + it->first + " does not validate");
    }
    it->second = std::move(*app.app);
    ++it;
  }
  return target;
}

}  // namespace

Result<DeploymentRef> MasterCore::persist_group_change(const GroupTarget& target, bool force,
                                                       nlohmann::json* dry_run) {
  GroupChangeStore stored;
  for (const auto& [id, record] : state_.apps) {
    if (model::is_within(id, target.group) || target.apps.count(id))
      stored.app_versions[id] = stored_versions(id);
  }
  auto versions = store_.list(group_versions_prefix(target.group));
  if (!versions) return versions.error();
  for (const auto& kv : *versions) stored.group_versions.push_back(kv.key);
  AppChangeSettings settings{options_.max_versions,
                             options_.service_port_min,
                             options_.service_port_max,
                             options_.default_dataset_driver,
                             {}};
  auto change = plan_group_change(state_, target, force, stored, new_version(), ids_, settings);
  if (!change) return change.error();
  if (dry_run) {
    *dry_run = {{"steps", deployment_steps_json(change->deployment)}};
    return DeploymentRef{"", change->deployment.version};
  }
  const std::vector<StoreOp>& ops = change->ops;
  auto committed = store_.commit(ops);
  if (!committed) return committed.error();
  drop_overridden_deployments(ops);
  for (const auto& d : change->new_datasets) {
    keep_dataset(d);
    note("dataset " + d.dataset_id + " (" + d.metadata.at("name") + ") created for group " +
         target.group + " (" + d.driver + ")");
  }
  for (auto& app : change->apps) {
    AppRecord& record = state_.apps[app.id];
    if (change->config_changed.count(app.id)) record.backoff = {};
    record.deleting = false;
    record.app = std::move(app);
  }
  for (const auto& id : change->deleted_apps) state_.apps[id].deleting = true;
  for (const auto& g : change->groups) state_.groups[g.id] = g;
  for (const auto& id : change->deleted_groups) state_.groups.erase(id);
  const DeploymentRecord& deployment = change->deployment;
  state_.deployments[deployment.id] = deployment;
  note("deployment " + deployment.id + " of group " + target.group + ": " +
       std::to_string(deployment.steps.size()) + " step(s)");
  publish_deployment("deployment_info", deployment);
  publish_event("group_change_success",
                {{"groupId", target.group}, {"version", deployment.version}});
  return DeploymentRef{deployment.id, deployment.version};
}

Result<DeploymentRef> MasterCore::change_group(const model::GroupUpdate& update, bool create,
                                               bool force, nlohmann::json* dry_run) {
  std::lock_guard lock(mu_);
  if (create && update.id != "/" && group_exists(state_, update.id)) {
    return make_error(ErrorCode::kConflict,
                      "Group " + update.id + " is already created. Use PUT to change this group.");
  }
  if (auto app = state_.apps.find(update.id); app != state_.apps.end() && !app->second.deleting) {
    return make_error(ErrorCode::kConflict,
                      "An app with id [" + update.id + "] already exists; a group cannot take it.");
  }
  GroupTarget target = current_subtree(state_, update.id);
  if (update.version) {
    auto at = subtree_at(store_, state_, update.id, *update.version);
    if (!at) return at.error();
    target = std::move(*at);
  } else if (update.scale_by) {
    for (auto& [id, app] : target.apps) {
      app.instances = static_cast<uint32_t>(std::ceil(app.instances * *update.scale_by - 1e-9));
    }
  } else {
    apply_update(update, &target);
  }
  return persist_group_change(target, force, dry_run);
}

Result<DeploymentRef> MasterCore::delete_group(const std::string& id, bool force) {
  std::lock_guard lock(mu_);
  if (!group_exists(state_, id)) {
    return make_error(ErrorCode::kNotFound, "Group '" + id + "' does not exist");
  }
  GroupTarget target;
  target.group = id;
  return persist_group_change(target, force, nullptr);
}

Result<std::vector<std::string>> MasterCore::group_versions(const std::string& id) {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  if (!group_exists(state_, id)) {
    return make_error(ErrorCode::kNotFound, "Group '" + id + "' does not exist");
  }
  auto versions = versions_of_subtree(store_, state_, id);
  if (!versions) return versions.error();
  return std::vector<std::string>(versions->rbegin(), versions->rend());  // newest first
}

Result<nlohmann::json> MasterCore::group_version(const std::string& id,
                                                 const std::string& version) {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  auto at = subtree_at(store_, state_, id, version);
  if (!at) return at.error();
  nlohmann::json out = {{"id", id},
                        {"version", version},
                        {"apps", nlohmann::json::array()},
                        {"groups", nlohmann::json::array()}};
  for (const auto& [app_id, app] : at->apps) out["apps"].push_back(model::app_to_json(app));
  for (const auto& [group_id, g] : at->groups)
    out["groups"].push_back({{"id", group_id}, {"dependencies", g.dependencies}});
  return out;
}

Result<std::optional<DeploymentRef>> MasterCore::cancel_deployment(const std::string& id,
                                                                   bool force) {
  std::lock_guard lock(mu_);
  auto found = state_.deployments.find(id);
  if (found == state_.deployments.end()) {
    return make_error(ErrorCode::kNotFound, "DeploymentPlan " + id + " does not exist");
  }
  const DeploymentRecord deployment = found->second;
  if (force) {
    auto erased = store_.erase(deployment_key(id));
    if (!erased) return erased.error();
    publish_deployment("deployment_failed", deployment, "canceled");
    note("deployment " + id + " canceled");
    state_.deployments.erase(id);
    return std::optional<DeploymentRef>();
  }
  // Everything this deployment changed goes back to how it was; the rest of the tree (changes
  // of other deployments among it) stays.
  GroupTarget target = current_subtree(state_, "/");
  for (const auto& [app_id, original] : deployment.original_apps) {
    if (original.empty()) {
      target.apps.erase(app_id);
      continue;
    }
    auto app = model::restore_app(json::parse_or_discarded(original));
    if (!app.app) {
      return make_error(
          ErrorCode::kInternal,
          "the definition of " + app_id + " before deployment " + id + " no longer validates");
    }
    target.apps[app_id] = std::move(*app.app);
  }
  for (const auto& [group_id, original] : deployment.original_groups) {
    if (original.empty()) {
      target.groups.erase(group_id);
      continue;
    }
    auto record = parse_group_record(original);
    if (record) target.groups[group_id] = *record;
  }
  auto reverted = persist_group_change(target, true, nullptr);
  if (!reverted) return reverted.error();
  if (state_.deployments.count(id)) {
    // The revert changed none of its apps (so it did not override it): it ends now.
    if (store_.erase(deployment_key(id)).ok()) {
      publish_deployment("deployment_failed", deployment, "rolled back");
      state_.deployments.erase(id);
    }
  }
  note("deployment " + id + " rolled back by deployment " + reverted->deployment_id);
  return std::optional<DeploymentRef>(*reverted);
}

}  // namespace berth::master
