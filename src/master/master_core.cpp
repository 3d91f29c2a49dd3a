#include "master/master_core.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "base/check.h"
#include "json/bounded.h"

namespace berth::master {
namespace {

std::string app_key(const std::string& id) { return "/apps" + id; }
// '@' cannot appear in an app id, so one app's versions never share a prefix with another's.
std::string versions_prefix(const std::string& id) { return "/versions" + id + "@"; }
std::string deployment_key(const std::string& id) { return "/deployments/" + id; }

nlohmann::json deployment_to_json(const DeploymentRecord& d) {
  return {{"id", d.id},
          {"version", d.version},
          {"affectedApps", d.affected_apps},
          {"action", d.action}};
}

DeploymentRecord deployment_from_json(const nlohmann::json& j) {
  DeploymentRecord d;
  d.id = j.value("id", "");
  d.version = j.value("version", "");
  d.affected_apps = j.value("affectedApps", std::vector<std::string>{});
  d.action = j.value("action", "");
  return d;
}

}  // namespace

MasterCore::MasterCore(MasterOptions options, Store& store, Clock& clock, IdSource& ids)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      ids_(ids),
      leases_(options_.timing, MonoTime{}) {}

Status MasterCore::load() {
  std::lock_guard<std::mutex> lock(mu_);
  // Every lease starts again: nobody is declared lost before the grace has passed.
  leases_ = lease::MasterLeases(options_.timing, clock_.mono_now());
  auto apps = store_.list("/apps/");
  if (!apps) return apps.error();
  for (const auto& kv : *apps) {
    nlohmann::json j = json::parse_or_discarded(kv.value);
    if (j.is_discarded()) {
      return make_error(ErrorCode::kInternal, "stored app at " + kv.key + " is not valid JSON");
    }
    auto parsed = model::restore_app(j);
    if (!parsed.app) {
      std::string why;
      for (const auto& e : parsed.errors) {
        for (const auto& message : e.errors)
          why += (why.empty() ? "" : "; ") + e.path + ": " + message;
      }
      return make_error(ErrorCode::kInternal,
                        "stored app at " + kv.key + " no longer validates: " + why);
    }
    AppRecord record;
    record.app = std::move(*parsed.app);
    state_.apps[record.app.id] = std::move(record);
  }
  auto datasets = store_.list("/datasets/");
  if (!datasets) return datasets.error();
  for (const auto& kv : *datasets) {
    auto d = model::dataset_from_json(json::parse_or_discarded(kv.value));
    if (!d)
      return make_error(ErrorCode::kInternal,
                        "stored dataset at " + kv.key + ": " + d.error().message);
    keep_dataset(*d);
  }
  auto deployments = store_.list("/deployments/");
  if (!deployments) return deployments.error();
  for (const auto& kv : *deployments) {
    nlohmann::json j = json::parse_or_discarded(kv.value);
    if (j.is_discarded()) continue;
    DeploymentRecord d = deployment_from_json(j);
    state_.deployments[d.id] = d;
  }
  return {};
}

void MasterCore::read(const std::function<void(const MasterState&)>& reader) const {
  std::lock_guard<std::mutex> lock(mu_);
  reader(state_);
}

std::vector<std::string> MasterCore::deployments_of(const MasterState& state,
                                                    const std::string& id) const {
  std::vector<std::string> out;
  for (const auto& [did, d] : state.deployments) {
    if (std::find(d.affected_apps.begin(), d.affected_apps.end(), id) != d.affected_apps.end()) {
      out.push_back(did);
    }
  }
  return out;
}

std::string MasterCore::new_version() {
  WallTime now = clock_.wall_now();
  auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(now);
  if (ms <= last_version_)
    ms = std::chrono::time_point_cast<std::chrono::milliseconds>(last_version_) +
         std::chrono::milliseconds(1);
  last_version_ = ms;
  return format_iso8601(ms);
}

Status MasterCore::check_lock(const std::string& app_id, bool force, std::vector<StoreOp>* ops) {
  auto locking = deployments_of(state_, app_id);
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

void MasterCore::assign_service_ports(model::App* app) const {
  std::set<uint32_t> used;
  for (const auto& [id, record] : state_.apps) {
    if (id == app->id) continue;
    for (uint32_t port : model::service_ports(record.app)) used.insert(port);
  }
  std::vector<uint32_t> ports = model::service_ports(*app);
  std::set<uint32_t> mine;
  for (uint32_t port : ports) {
    if (port != 0) mine.insert(port);
  }
  uint32_t next = options_.service_port_min;
  for (auto& port : ports) {
    if (port != 0) continue;
    while (next < options_.service_port_max && (used.count(next) || mine.count(next))) ++next;
    if (next >= options_.service_port_max) break;
    port = next;
    mine.insert(next);
  }
  model::set_service_ports(*app, ports);
}

Result<DeploymentRef> MasterCore::persist_app_change(const model::App& given,
                                                     const std::string& action, bool force) {
  std::vector<StoreOp> ops;
  Status locked = check_lock(given.id, force, &ops);
  if (!locked) return locked.error();
  model::App app = given;
  auto existing = state_.apps.find(app.id);
  bool had_record = existing != state_.apps.end() && !existing->second.deleting;
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
  assign_service_ports(&app);
  std::string version = new_version();
  if (action == "RestartApplication") {
    app.version = version;
    app.version_info = {version, version};
  } else {
    model::apply_version(app, had_record ? &existing->second.app : nullptr, version);
  }
  bool scale_only = had_record && app.version_info.last_config_change_at ==
                                      existing->second.app.version_info.last_config_change_at;
  std::string what = action;
  if (action.empty())
    what = !had_record  ? "StartApplication"
           : scale_only ? "ScaleApplication"
                        : "RestartApplication";

  DeploymentRecord deployment;
  deployment.id = ids_.uuid();
  deployment.version = app.version;
  deployment.affected_apps = {app.id};
  deployment.action = what;

  std::string body = model::app_to_json(app).dump();
  std::vector<model::Dataset> new_datasets = missing_datasets(app);
  for (const auto& d : new_datasets) {
    ops.push_back(StoreOp{StoreOp::Kind::kPut, "/datasets/" + d.dataset_id,
                          model::dataset_to_json(d).dump(), std::nullopt});
  }
  ops.push_back(StoreOp{StoreOp::Kind::kPut, app_key(app.id), body, std::nullopt});
  ops.push_back(
      StoreOp{StoreOp::Kind::kPut, versions_prefix(app.id) + app.version, body, std::nullopt});
  ops.push_back(StoreOp{StoreOp::Kind::kPut, deployment_key(deployment.id),
                        deployment_to_json(deployment).dump(), std::nullopt});
  // Keep at most max_versions versions.
  auto versions = store_.list(versions_prefix(app.id));
  if (versions && versions->size() + 1 > options_.max_versions) {
    size_t drop = versions->size() + 1 - options_.max_versions;
    for (size_t i = 0; i < drop; ++i) {
      ops.push_back(StoreOp{StoreOp::Kind::kErase, (*versions)[i].key, "", std::nullopt});
    }
  }
  auto committed = store_.commit(ops);
  if (!committed) return committed.error();

  drop_overridden_deployments(ops);
  for (const auto& d : new_datasets) {
    keep_dataset(d);
    note("dataset " + d.dataset_id + " (" + d.metadata.at("name") + ") created for app " + app.id +
         " (" + d.driver + ")");
  }
  AppRecord& record = state_.apps[app.id];
  bool config_changed = !had_record || record.app.version_info.last_config_change_at !=
                                           app.version_info.last_config_change_at;
  record.app = std::move(app);
  record.deleting = false;
  if (config_changed) record.backoff = {};  // a new version resets the launch delay
  state_.deployments[deployment.id] = deployment;
  publish_deployment("deployment_info", deployment);
  return DeploymentRef{deployment.id, deployment.version};
}

Result<DeploymentRef> MasterCore::create_app(model::App app, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.apps.find(app.id);
  if (it != state_.apps.end() && !it->second.deleting) {
    return make_error(ErrorCode::kConflict, "An app with id [" + app.id + "] already exists.");
  }
  return persist_app_change(app, "", force);
}

Result<DeploymentRef> MasterCore::update_app(model::App app, bool force, bool* created) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.apps.find(app.id);
  *created = it == state_.apps.end() || it->second.deleting;
  return persist_app_change(app, "", force);
}

Result<DeploymentRef> MasterCore::restart_app(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.apps.find(id);
  if (it == state_.apps.end() || it->second.deleting) {
    return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
  }
  return persist_app_change(it->second.app, "RestartApplication", force);
}

Result<DeploymentRef> MasterCore::delete_app(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.apps.find(id);
  if (it == state_.apps.end() || it->second.deleting) {
    return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
  }
  std::vector<StoreOp> ops;
  Status locked = check_lock(id, force, &ops);
  if (!locked) return locked.error();
  DeploymentRecord deployment;
  deployment.id = ids_.uuid();
  deployment.version = new_version();
  deployment.affected_apps = {id};
  deployment.action = "StopApplication";
  ops.push_back(StoreOp{StoreOp::Kind::kErase, app_key(id), "", std::nullopt});
  auto versions = store_.list(versions_prefix(id));
  if (versions) {
    for (const auto& kv : *versions)
      ops.push_back(StoreOp{StoreOp::Kind::kErase, kv.key, "", std::nullopt});
  }
  ops.push_back(StoreOp{StoreOp::Kind::kPut, deployment_key(deployment.id),
                        deployment_to_json(deployment).dump(), std::nullopt});
  auto committed = store_.commit(ops);
  if (!committed) return committed.error();
  drop_overridden_deployments(ops);
  it->second.deleting = true;
  state_.deployments[deployment.id] = deployment;
  publish_deployment("deployment_info", deployment);
  return DeploymentRef{deployment.id, deployment.version};
}

Result<std::optional<DeploymentRef>> MasterCore::kill_tasks(
    const std::vector<std::string>& task_ids, bool scale, bool force,
    std::vector<TaskRecord>* killed) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : task_ids) {
    if (!state_.tasks.count(id)) {
      return make_error(ErrorCode::kNotFound, "Task '" + id + "' does not exist");
    }
  }
  std::map<std::string, uint32_t> per_app;
  for (const auto& id : task_ids) per_app[state_.tasks[id].app_id]++;
  std::optional<DeploymentRef> ref;
  if (scale) {
    for (const auto& [app_id, count] : per_app) {
      auto it = state_.apps.find(app_id);
      if (it == state_.apps.end() || it->second.deleting) continue;
      model::App app = it->second.app;
      app.instances = app.instances > count ? app.instances - count : 0;
      auto r = persist_app_change(app, "ScaleApplication", force);
      if (!r) return r.error();
      ref = *r;
    }
  }
  for (const auto& id : task_ids) {
    TaskRecord& task = state_.tasks[id];
    killed->push_back(task);
    request_kill(task);
  }
  return ref;
}

Result<std::vector<std::string>> MasterCore::app_versions(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = state_.apps.find(id);
    if (it == state_.apps.end() || it->second.deleting) {
      return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
    }
  }
  auto versions = store_.list(versions_prefix(id));
  if (!versions) return versions.error();
  std::vector<std::string> out;
  size_t prefix = versions_prefix(id).size();
  for (auto it = versions->rbegin(); it != versions->rend(); ++it)
    out.push_back(it->key.substr(prefix));
  return out;
}

Result<model::App> MasterCore::app_version(const std::string& id, const std::string& version) {
  auto kv = store_.get(versions_prefix(id) + version);
  if (!kv) return kv.error();
  if (!kv->has_value()) {
    return make_error(ErrorCode::kNotFound,
                      "App '" + id + "' does not exist in version " + version);
  }
  nlohmann::json j = json::parse_or_discarded((*kv)->value);
  auto parsed = model::restore_app(j);
  if (!parsed.app)
    return make_error(ErrorCode::kInternal, "stored version of " + id + " does not validate");
  return std::move(*parsed.app);
}

Status MasterCore::reset_delay(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.apps.find(id);
  if (it == state_.apps.end() || it->second.backoff.delay_seconds == 0) {
    return make_error(ErrorCode::kNotFound, "No delay for app '" + id + "'");
  }
  it->second.backoff = {};
  return {};
}

void MasterCore::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  commands_cv_.notify_all();
  events_.close();
}

}  // namespace berth::master
