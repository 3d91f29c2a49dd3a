// The Marathon API's app changes as plans (master/plan.h): what an app change stores, in one
// transaction, and what it does to the master's memory once stored.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "master/plan.h"

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

// Datasets an app's external volumes need and that do not exist yet (created on first use).
std::vector<model::Dataset> missing_datasets(const MasterState& state, const model::App& app,
                                             IdSource& ids, const std::string& default_driver) {
  std::vector<model::Dataset> out;
  for (const auto& v : model::dataset_volumes(app)) {
    if (state.live_datasets_by_name.count(v.name)) continue;
    model::Dataset d;
    d.dataset_id = ids.uuid();
    d.metadata["name"] = v.name;
    auto driver = v.options.find("berth/driver");
    d.driver = driver != v.options.end() ? driver->second : default_driver;
    d.maximum_size = requested_size(v);
    d.epoch = 0;
    out.push_back(d);
  }
  return out;
}

// Service ports left at 0 get free ones from the settings' range.
void assign_service_ports(const MasterState& state, const AppChangeSettings& settings,
                          model::App* app) {
  std::vector<uint32_t> ports = model::service_ports(*app);
  // Only a port asked as 0 is given one: the others are not looked at (every app's would be).
  if (std::find(ports.begin(), ports.end(), 0u) == ports.end()) return;
  std::set<uint32_t> used(settings.reserved_service_ports.begin(),
                          settings.reserved_service_ports.end());
  for (const auto& [id, record] : state.apps) {
    if (id == app->id) continue;
    for (uint32_t port : model::service_ports(record.app)) used.insert(port);
  }
  std::set<uint32_t> mine;
  for (uint32_t port : ports) {
    if (port != 0) mine.insert(port);
  }
  uint32_t next = settings.service_port_min;
  for (auto& port : ports) {
    if (port != 0) continue;
    while (next < settings.service_port_max && (used.count(next) || mine.count(next))) ++next;
    if (next >= settings.service_port_max) break;
    port = next;
    mine.insert(next);
  }
  model::set_service_ports(*app, ports);
}

// kConflict naming the deployments that lock `app_id`, unless `force`: then their erasure is
// part of the change.
Status check_lock(const MasterState& state, const std::string& app_id, bool force,
                  std::vector<StoreOp>* ops) {
  auto locking = deployments_locking(state, app_id);
  if (locking.empty()) return {};
  if (!force) {
    Error locked = make_error(ErrorCode::kConflict,
                              "App is locked by one or more deployments. Override with the option "
                              "'?force=true'. View details at '/v2/deployments/" +
                                  locking.front() + "'.");
    locked.locked_by.assign(locking.begin(), locking.end());
    return locked;
  }
  for (const auto& id : locking) {
    ops->push_back(StoreOp{StoreOp::Kind::kErase, deployment_key(id), "", std::nullopt});
  }
  return {};
}

}  // namespace

bool has_readiness_checks(const model::App& app) {
  const auto& extra = app.extra.get();
  return extra.is_object() && extra.contains("readinessChecks") &&
         extra["readinessChecks"].is_array() && !extra["readinessChecks"].empty();
}

std::string app_key(const std::string& id) { return "/apps" + id; }
// '@' cannot appear in an app id, so one app's versions never share a prefix with another's.
std::string versions_prefix(const std::string& id) { return "/versions" + id + "@"; }
std::string deployment_key(const std::string& id) { return "/deployments/" + id; }

std::string deployment_json(const DeploymentRecord& d) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : d.steps) {
    nlohmann::json actions = nlohmann::json::array();
    for (const auto& a : step) actions.push_back({{"action", a.action}, {"app", a.app}});
    steps.push_back(actions);
  }
  return nlohmann::json{{"id", d.id},
                        {"version", d.version},
                        {"affectedApps", d.affected_apps},
                        {"steps", steps},
                        {"currentStep", d.current_step},
                        {"originalApps", d.original_apps},
                        {"originalGroups", d.original_groups}}
      .dump();
}

nlohmann::json deployment_steps_json(const DeploymentRecord& d) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : d.steps) {
    nlohmann::json actions = nlohmann::json::array();
    for (const auto& a : step) actions.push_back({{"action", a.action}, {"app", a.app}});
    steps.push_back({{"actions", actions}});
  }
  return steps;
}

std::optional<DeploymentRecord> parse_deployment(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    DeploymentRecord d;
    d.id = j.value("id", "");
    d.version = j.value("version", "");
    d.affected_apps = j.value("affectedApps", std::vector<std::string>{});
    if (j.contains("steps")) {
      for (const auto& step : j["steps"]) {
        std::vector<DeploymentAction> actions;
        for (const auto& a : step) actions.push_back({a.at("action"), a.at("app")});
        d.steps.push_back(std::move(actions));
      }
      d.current_step = j.value("currentStep", size_t{0});
      d.original_apps = j.value("originalApps", std::map<std::string, std::string>{});
      d.original_groups = j.value("originalGroups", std::map<std::string, std::string>{});
    } else {
      // Written by a berth without steps: one step, one action for every app.
      std::vector<DeploymentAction> actions;
      for (const auto& app : d.affected_apps) actions.push_back({j.value("action", ""), app});
      d.steps.push_back(std::move(actions));
    }
    if (d.id.empty()) return std::nullopt;
    return d;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> deployments_locking(const MasterState& state, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& [did, d] : state.deployments) {
    if (std::find(d.affected_apps.begin(), d.affected_apps.end(), id) != d.affected_apps.end()) {
      out.push_back(did);
    }
  }
  return out;
}

Result<AppChange> plan_app_change(const MasterState& state, const model::App& given,
                                  const std::string& action, bool force,
                                  const std::vector<std::string>& stored_versions,
                                  const std::string& version, IdSource& ids,
                                  const AppChangeSettings& settings) {
  AppChange change;
  Status locked = check_lock(state, given.id, force, &change.ops);
  if (!locked) return locked.error();
  model::App app = given;
  auto existing = state.apps.find(app.id);
  bool had_record = existing != state.apps.end() && !existing->second.deleting;
  if (had_record) {
    // Ports left at 0 keep the ones assigned before.
    std::vector<uint32_t> ports = model::service_ports(app);
    std::vector<uint32_t> before = model::service_ports(existing->second.app);
    if (ports.size() == before.size()) {
      for (size_t i = 0; i < ports.size(); ++i) {
        if (ports[i] == 0) ports[i] = before[i];
      }
      model::set_service_ports(app, ports);
    }
  }
  assign_service_ports(state, settings, &app);
  if (action == "RestartApplication") {
    app.version = version;
    app.version_info = {version, version};
  } else {
    model::apply_version(app, had_record ? &existing->second.app : nullptr, version);
  }
  change.config_changed =
      !had_record || app.version_info.last_config_change_at !=
                         existing->second.app.version_info.last_config_change_at;
  change.deployment.id = ids.uuid();
  change.deployment.version = app.version;
  change.deployment.affected_apps = {app.id};
  change.deployment.steps = {{{!action.empty()          ? action
                               : !had_record            ? "StartApplication"
                               : !change.config_changed ? "ScaleApplication"
                                                        : "RestartApplication",
                               app.id}}};
  change.deployment.original_apps[app.id] =
      had_record ? model::app_to_json(existing->second.app).dump() : "";
  std::string body = model::app_to_json(app).dump();
  change.new_datasets = missing_datasets(state, app, ids, settings.default_dataset_driver);
  for (const auto& d : change.new_datasets) {
    change.ops.push_back(StoreOp{StoreOp::Kind::kPut, "/datasets/" + d.dataset_id,
                                 model::dataset_to_json(d).dump(), std::nullopt});
  }
  change.ops.push_back(StoreOp{StoreOp::Kind::kPut, app_key(app.id), body, std::nullopt});
  change.ops.push_back(
      StoreOp{StoreOp::Kind::kPut, versions_prefix(app.id) + app.version, body, std::nullopt});
  change.ops.push_back(StoreOp{StoreOp::Kind::kPut, deployment_key(change.deployment.id),
                               deployment_json(change.deployment), std::nullopt});
  // Keep at most max_versions versions: the oldest go.
  if (stored_versions.size() + 1 > settings.max_versions) {
    size_t drop = stored_versions.size() + 1 - settings.max_versions;
    for (size_t i = 0; i < drop; ++i) {
      change.ops.push_back(StoreOp{StoreOp::Kind::kErase, stored_versions[i], "", std::nullopt});
    }
  }
  change.app = std::move(app);
  return change;
}

Result<AppChange> plan_app_delete(const MasterState& state, const std::string& id, bool force,
                                  const std::vector<std::string>& stored_versions,
                                  const std::string& version, IdSource& ids) {
  auto it = state.apps.find(id);
  if (it == state.apps.end() || it->second.deleting) {
    return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
  }
  AppChange change;
  Status locked = check_lock(state, id, force, &change.ops);
  if (!locked) return locked.error();
  change.app = it->second.app;
  change.deployment.id = ids.uuid();
  change.deployment.version = version;
  change.deployment.affected_apps = {id};
  change.deployment.steps = {{{"StopApplication", id}}};
  change.deployment.original_apps[id] = model::app_to_json(it->second.app).dump();
  change.ops.push_back(StoreOp{StoreOp::Kind::kErase, app_key(id), "", std::nullopt});
  for (const auto& key : stored_versions) {
    change.ops.push_back(StoreOp{StoreOp::Kind::kErase, key, "", std::nullopt});
  }
  change.ops.push_back(StoreOp{StoreOp::Kind::kPut, deployment_key(change.deployment.id),
                               deployment_json(change.deployment), std::nullopt});
  return change;
}

// A node where an app keeps failing (master/plan.h).
void record_node_failure(AppRecord& record, const std::string& agent_id, WallTime now) {
  NodeFailures& f = record.failures_by_node[agent_id];
  if (f.count > 0 && now - f.last > kNodeFailureWindow) f.count = 0;
  ++f.count;
  f.last = now;
}

std::vector<std::string> nodes_to_avoid(const AppRecord& record, WallTime now) {
  std::vector<std::string> nodes;
  for (const auto& [agent_id, f] : record.failures_by_node) {
    if (f.count >= kAvoidAfterFailures && now - f.last <= kNodeFailureWindow)
      nodes.push_back(agent_id);
  }
  return nodes;
}

}  // namespace berth::master
