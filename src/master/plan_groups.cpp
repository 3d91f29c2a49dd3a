// Group changes as plans (master/plan.h): the apps and groups a change of a group's subtree
// stores, and its deployment's steps in dependency order (docs/compatibility.md §2.8).
#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "master/plan.h"
#include "model/group.h"

namespace berth::master {
namespace {

std::string group_json(const GroupRecord& g) {
  return nlohmann::json{{"id", g.id}, {"dependencies", g.dependencies}, {"version", g.version}}
      .dump();
}

// The ids an app waits for, in the world `apps_of` and `group_of` describe: its own
// dependencies and those of every group it is in; a group stands for every app in it.
class DependencyOrder {
 public:
  DependencyOrder(std::function<const model::App*(const std::string&)> app_of,
                  std::function<const GroupRecord*(const std::string&)> group_of)
      : app_of_(std::move(app_of)), group_of_(std::move(group_of)) {}

  // Layers of `apps` (each depends only on apps of earlier layers); kInvalidArgument on a
  // cycle among them. Dependencies outside `apps` do not order anything here.
  Result<std::vector<std::vector<std::string>>> layers(const std::set<std::string>& apps) {
    std::map<std::string, std::set<std::string>> waits_for;
    for (const auto& id : apps) {
      std::vector<std::string> deps;
      if (const model::App* app = app_of_(id)) deps = app->dependencies;
      for (std::string g = model::parent_group(id);; g = model::parent_group(g)) {
        if (g != "/") {
          if (const GroupRecord* group = group_of_(g)) {
            deps.insert(deps.end(), group->dependencies.begin(), group->dependencies.end());
          }
        }
        if (g == "/") break;
      }
      for (const auto& dep : deps) {
        for (const auto& other : apps) {
          // A dependency on one's own group (or above) orders nothing.
          if (other != id && model::is_within(other, dep) && !model::is_within(id, dep))
            waits_for[id].insert(other);
        }
      }
    }
    std::map<std::string, size_t> depth;
    std::set<std::string> visiting;
    std::function<Result<size_t>(const std::string&)> depth_of =
        [&](const std::string& id) -> Result<size_t> {
      if (auto known = depth.find(id); known != depth.end()) return known->second;
      if (!visiting.insert(id).second) {
        return make_error(ErrorCode::kInvalidArgument,
                          "Dependency graph has cyclic dependencies (through " + id + ")");
      }
      size_t d = 0;
      for (const auto& dep : waits_for[id]) {
        auto dd = depth_of(dep);
        if (!dd) return dd.error();
        d = std::max(d, *dd + 1);
      }
      visiting.erase(id);
      depth[id] = d;
      return d;
    };
    std::vector<std::vector<std::string>> out;
    for (const auto& id : apps) {
      auto d = depth_of(id);
      if (!d) return d.error();
      if (out.size() <= *d) out.resize(*d + 1);
      out[*d].push_back(id);
    }
    return out;
  }

 private:
  std::function<const model::App*(const std::string&)> app_of_;
  std::function<const GroupRecord*(const std::string&)> group_of_;
};

// Version fields aside, the same definition.
bool same_definition(const model::App& a, const model::App& b) {
  nlohmann::json ja = model::app_to_json(a), jb = model::app_to_json(b);
  for (auto* j : {&ja, &jb}) {
    j->erase("version");
    j->erase("versionInfo");
  }
  return ja == jb;
}

}  // namespace

std::string group_key(const std::string& id) { return "/groups" + id; }
std::string group_versions_prefix(const std::string& id) {
  return "/groupversions" + (id == "/" ? std::string() : id) + "@";
}

std::optional<GroupRecord> parse_group_record(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) return std::nullopt;
  GroupRecord g;
  g.id = j["id"].get<std::string>();
  try {
    g.dependencies = j.value("dependencies", std::vector<std::string>{});
    g.version = j.value("version", "");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return g;
}

GroupTarget current_subtree(const MasterState& state, const std::string& group) {
  GroupTarget t;
  t.group = group;
  for (const auto& [id, record] : state.apps) {
    if (!record.deleting && model::is_within(id, group) && id != group) t.apps[id] = record.app;
  }
  for (const auto& [id, g] : state.groups) {
    if (model::is_within(id, group)) t.groups[id] = g;
  }
  return t;
}

bool group_exists(const MasterState& state, const std::string& id) {
  if (id == "/" || state.groups.count(id)) return true;
  for (const auto& [app_id, record] : state.apps) {
    if (!record.deleting && app_id != id && model::is_within(app_id, id)) return true;
  }
  return false;
}

namespace {

// plan_group_change's steps, over one change.
class GroupPlanner {
 public:
  GroupPlanner(const MasterState& state, const GroupTarget& target, bool force,
               const GroupChangeStore& stored, const std::string& version, IdSource& ids,
               const AppChangeSettings& settings)
      : state_(state),
        target_(target),
        before_(current_subtree(state, target.group)),
        force_(force),
        stored_(stored),
        version_(version),
        ids_(ids),
        settings_(settings) {}

  Result<GroupChange> plan() {
    if (Status ids = check_ids(); !ids) return ids.error();
    if (Status apps = plan_apps(); !apps) return apps.error();
    if (Status stops = plan_stops(); !stops) return stops.error();
    plan_groups();
    if (Status steps = order_steps(); !steps) return steps.error();
    keep_version();
    change_.ops.push_back({StoreOp::Kind::kPut, deployment_key(change_.deployment.id),
                           deployment_json(change_.deployment), std::nullopt});
    return std::move(change_);
  }

 private:
  // An app and a group cannot share an id, and everything stays inside the subtree.
  Status check_ids() const {
    for (const auto& [id, app] : target_.apps) {
      if (!model::is_within(id, target_.group))
        return make_error(ErrorCode::kInvalidArgument,
                          "identifier " + id + " is not child of " + target_.group);
      auto inside = target_.apps.lower_bound(id + "/");
      bool holds_apps = inside != target_.apps.end() && model::is_within(inside->first, id);
      if (target_.groups.count(id) || holds_apps)
        return make_error(ErrorCode::kInvalidArgument,
                          "the id " + id + " names a group; an app cannot take it");
    }
    for (const auto& [id, g] : target_.groups) {
      auto app = state_.apps.find(id);
      bool app_outside =
          app != state_.apps.end() && !app->second.deleting && !before_.apps.count(id);
      if (target_.apps.count(id) || app_outside)
        return make_error(ErrorCode::kInvalidArgument,
                          "the id " + id + " names an app; a group cannot take it");
    }
    return {};
  }

  std::vector<std::string> versions_of(const std::string& id) const {
    auto v = stored_.app_versions.find(id);
    return v == stored_.app_versions.end() ? std::vector<std::string>{} : v->second;
  }

  // Takes an app plan's store operations, without its own deployment, each key erased once.
  void take_ops(const std::vector<StoreOp>& ops, const std::string& own_deployment) {
    for (const auto& op : ops) {
      if (op.key == deployment_key(own_deployment)) continue;
      if (op.kind == StoreOp::Kind::kErase && !erased_keys_.insert(op.key).second) continue;
      change_.ops.push_back(op);
    }
  }

  // Starts, scales and restarts; unchanged apps are left alone.
  Status plan_apps() {
    AppChangeSettings settings = settings_;
    for (const auto& [id, app] : target_.apps) {
      auto existing = before_.apps.find(id);
      if (existing != before_.apps.end() && same_definition(existing->second, app)) continue;
      auto planned =
          plan_app_change(state_, app, "", force_, versions_of(id), version_, ids_, settings);
      if (!planned) return planned.error();
      for (uint32_t port : model::service_ports(planned->app))
        settings.reserved_service_ports.insert(port);
      take_ops(planned->ops, planned->deployment.id);
      action_of_[id] = planned->deployment.steps.at(0).at(0).action;
      if (planned->config_changed) change_.config_changed.insert(id);
      for (auto& d : planned->new_datasets) change_.new_datasets.push_back(std::move(d));
      change_.deployment.original_apps[id] = planned->deployment.original_apps[id];
      change_.apps.push_back(std::move(planned->app));
    }
    return {};
  }

  Status plan_stops() {
    for (const auto& [id, app] : before_.apps) {
      if (target_.apps.count(id)) continue;
      auto planned = plan_app_delete(state_, id, force_, versions_of(id), version_, ids_);
      if (!planned) return planned.error();
      take_ops(planned->ops, planned->deployment.id);
      change_.deployment.original_apps[id] = planned->deployment.original_apps[id];
      change_.deleted_apps.push_back(id);
      stopped_.insert(id);
    }
    return {};
  }

  void plan_groups() {
    for (const auto& [id, g] : target_.groups) {
      auto old = before_.groups.find(id);
      if (old != before_.groups.end() && old->second.dependencies == g.dependencies) continue;
      GroupRecord record = g;
      record.version = version_;
      change_.deployment.original_groups[id] =
          old == before_.groups.end() ? "" : group_json(old->second);
      change_.ops.push_back({StoreOp::Kind::kPut, group_key(id), group_json(record), std::nullopt});
      change_.groups.push_back(record);
    }
    for (const auto& [id, g] : before_.groups) {
      if (target_.groups.count(id)) continue;
      change_.deployment.original_groups[id] = group_json(g);
      change_.ops.push_back({StoreOp::Kind::kErase, group_key(id), "", std::nullopt});
      change_.deleted_groups.push_back(id);
    }
  }

  // The steps: stops first, dependents before what they depend on (the world before the
  // change); then the rest, what others depend on first (the world after it).
  Status order_steps() {
    auto app_before = [&](const std::string& id) -> const model::App* {
      auto it = state_.apps.find(id);
      return it == state_.apps.end() ? nullptr : &it->second.app;
    };
    auto group_before = [&](const std::string& id) -> const GroupRecord* {
      auto it = state_.groups.find(id);
      return it == state_.groups.end() ? nullptr : &it->second;
    };
    auto app_after = [&](const std::string& id) -> const model::App* {
      if (auto it = target_.apps.find(id); it != target_.apps.end()) return &it->second;
      return model::is_within(id, target_.group) ? nullptr : app_before(id);
    };
    auto group_after = [&](const std::string& id) -> const GroupRecord* {
      if (auto it = target_.groups.find(id); it != target_.groups.end()) return &it->second;
      return model::is_within(id, target_.group) ? nullptr : group_before(id);
    };
    auto stop_layers = DependencyOrder(app_before, group_before).layers(stopped_);
    if (!stop_layers) return stop_layers.error();
    std::set<std::string> forward;
    for (const auto& [id, action] : action_of_) forward.insert(id);
    auto layers = DependencyOrder(app_after, group_after).layers(forward);
    if (!layers) return layers.error();
    auto& steps = change_.deployment.steps;
    for (auto layer = stop_layers->rbegin(); layer != stop_layers->rend(); ++layer) {
      std::vector<DeploymentAction> step;
      for (const auto& id : *layer) step.push_back({"StopApplication", id});
      if (!step.empty()) steps.push_back(std::move(step));
    }
    for (const auto& layer : *layers) {
      std::vector<DeploymentAction> step;
      for (const auto& id : layer) step.push_back({action_of_[id], id});
      if (!step.empty()) steps.push_back(std::move(step));
    }
    change_.deployment.id = ids_.uuid();
    change_.deployment.version = version_;
    for (const auto& step : steps) {
      for (const auto& a : step) change_.deployment.affected_apps.push_back(a.app);
    }
    return {};
  }

  // The subtree as it now is, kept as the group's version (GET /v2/groups/{id}/versions).
  void keep_version() {
    nlohmann::json snapshot = {{"id", target_.group}, {"apps", nlohmann::json::array()}};
    std::map<std::string, model::App> stored_apps = target_.apps;
    for (const auto& app : change_.apps) stored_apps[app.id] = app;
    for (const auto& [id, app] : stored_apps) snapshot["apps"].push_back(model::app_to_json(app));
    snapshot["groups"] = nlohmann::json::array();
    for (const auto& [id, g] : target_.groups) {
      snapshot["groups"].push_back({{"id", id}, {"dependencies", g.dependencies}});
    }
    change_.ops.push_back({StoreOp::Kind::kPut, group_versions_prefix(target_.group) + version_,
                           snapshot.dump(), std::nullopt});
    const auto& kept = stored_.group_versions;
    if (kept.size() + 1 > settings_.max_versions) {
      size_t drop = kept.size() + 1 - settings_.max_versions;
      for (size_t i = 0; i < drop; ++i) {
        change_.ops.push_back({StoreOp::Kind::kErase, kept[i], "", std::nullopt});
      }
    }
  }

  const MasterState& state_;
  const GroupTarget& target_;
  const GroupTarget before_;
  const bool force_;
  const GroupChangeStore& stored_;
  const std::string& version_;
  IdSource& ids_;
  const AppChangeSettings& settings_;
  GroupChange change_;
  std::set<std::string> erased_keys_;
  std::map<std::string, std::string> action_of_;
  std::set<std::string> stopped_;
};

}  // namespace

Result<GroupChange> plan_group_change(const MasterState& state, const GroupTarget& target,
                                      bool force, const GroupChangeStore& stored,
                                      const std::string& version, IdSource& ids,
                                      const AppChangeSettings& settings) {
  return GroupPlanner(state, target, force, stored, version, ids, settings).plan();
}

}  // namespace berth::master
