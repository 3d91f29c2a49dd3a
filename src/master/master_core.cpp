#include "master/master_core.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/check.h"
#include "json/bounded.h"
#include "master/plan.h"

namespace berth::master {
namespace {

const char* const kEventCallbacksKey = "/eventSubscriptions";

}  // namespace

MasterCore::MasterCore(MasterOptions options, Store& store, Clock& clock, IdSource& ids)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      ids_(ids),
      leases_(options_.timing, MonoTime{}),
      granted_interval_ms_(options_.timing.heartbeat_interval.count()),
      granted_lease_ms_(options_.timing.lease.count()),
      ceiling_(options_.timing) {
  mu_.on_release([this] { answer_woken_polls(); });
}

Status MasterCore::load() {
  std::lock_guard lock(mu_);
  // Every lease starts again: nobody is declared lost before the grace has passed, which is
  // as long as the longest lease an earlier master may have granted (docs/fencing.md §10).
  auto ceiling = load_lease_ceiling(options_.timing);
  if (!ceiling) return ceiling.error();
  ceiling_ = *ceiling;
  lowered_at_ = clock_.mono_now();
  granted_interval_ms_ = options_.timing.heartbeat_interval.count();
  granted_lease_ms_ = options_.timing.lease.count();
  leases_ = lease::MasterLeases(ceiling_, clock_.mono_now());
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
  auto groups = store_.list("/groups/");
  if (!groups) return groups.error();
  for (const auto& kv : *groups) {
    auto g = parse_group_record(kv.value);
    if (!g) return make_error(ErrorCode::kInternal, "stored group at " + kv.key + " is not valid");
    state_.groups[g->id] = *g;
  }
  auto callbacks = store_.get(kEventCallbacksKey);
  if (!callbacks) return callbacks.error();
  if (*callbacks) {
    nlohmann::json urls = json::parse_or_discarded((*callbacks)->value);
    if (urls.is_array()) {
      for (const auto& url : urls) {
        if (url.is_string()) state_.event_callbacks.push_back(url.get<std::string>());
      }
    }
  }
  if (!state_.event_callbacks.empty() && !callback_events_)
    callback_events_ = events_.subscribe({});
  auto deployments = store_.list("/deployments/");
  if (!deployments) return deployments.error();
  for (const auto& kv : *deployments) {
    auto d = parse_deployment(kv.value);
    if (!d) continue;
    state_.deployments[d->id] = *d;
  }
  return {};
}

Result<std::vector<KeyValue>> MasterCore::stored_state() {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  return store_.list("");
}

Status MasterCore::add_event_callback(const std::string& url) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "callbackUrl must be an http:// or https:// URL, got '" + url + "'");
  }
  std::lock_guard lock(mu_);
  auto& urls = state_.event_callbacks;
  if (std::find(urls.begin(), urls.end(), url) != urls.end()) return {};
  if (urls.size() >= kMaxEventCallbacks) {
    return make_error(ErrorCode::kInvalidArgument, "at most " + std::to_string(kMaxEventCallbacks) +
                                                       " callback subscribers; remove one first");
  }
  std::vector<std::string> next = urls;
  next.push_back(url);
  auto stored = store_.put(kEventCallbacksKey, nlohmann::json(next).dump());
  if (!stored) return stored.error();
  urls = std::move(next);
  if (!callback_events_) callback_events_ = events_.subscribe({});
  note("event callback subscriber added: " + url);
  return {};
}

Status MasterCore::remove_event_callback(const std::string& url) {
  std::lock_guard lock(mu_);
  auto& urls = state_.event_callbacks;
  std::vector<std::string> next = urls;
  std::erase(next, url);
  if (next.size() == urls.size()) return {};
  auto stored = store_.put(kEventCallbacksKey, nlohmann::json(next).dump());
  if (!stored) return stored.error();
  urls = std::move(next);
  if (urls.empty() && callback_events_) {
    events_.unsubscribe(callback_events_);
    callback_events_.reset();
  }
  note("event callback subscriber removed: " + url);
  return {};
}

std::vector<std::string> MasterCore::event_callbacks() const {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  return state_.event_callbacks;
}

std::shared_ptr<EventSubscription> MasterCore::callback_events() {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  if (state_.event_callbacks.empty() || shutting_down_) return nullptr;
  if (!callback_events_ || callback_events_->closed()) {
    if (callback_events_) events_.unsubscribe(callback_events_);
    callback_events_ = events_.subscribe({});
  }
  return callback_events_;
}

void MasterCore::let_waiters_go(std::chrono::milliseconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (mu_.waiting() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void MasterCore::read(const std::function<void(const MasterState&)>& reader) const {
  std::lock_guard lock(mu_);
  mu_.unchanged();
  reader(state_);
}

std::vector<std::string> MasterCore::deployments_of(const MasterState& state,
                                                    const std::string& id) const {
  return deployments_locking(state, id);
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

std::vector<std::string> MasterCore::stored_versions(const std::string& id) {
  std::vector<std::string> keys;
  auto versions = store_.list(versions_prefix(id));
  if (versions) {
    for (const auto& kv : *versions) keys.push_back(kv.key);
  }
  return keys;
}

Result<DeploymentRef> MasterCore::persist_app_change(const model::App& given,
                                                     const std::string& action, bool force) {
  AppChangeSettings settings{options_.max_versions,
                             options_.service_port_min,
                             options_.service_port_max,
                             options_.default_dataset_driver,
                             {}};
  auto change = plan_app_change(state_, given, action, force, stored_versions(given.id),
                                new_version(), ids_, settings);
  if (!change) return change.error();
  auto committed = store_.commit(change->ops);
  if (!committed) return committed.error();
  drop_overridden_deployments(change->ops);
  for (const auto& d : change->new_datasets) {
    keep_dataset(d);
    note("dataset " + d.dataset_id + " (" + d.metadata.at("name") + ") created for app " +
         change->app.id + " (" + d.driver + ")");
  }
  AppRecord& record = state_.apps[change->app.id];
  record.app = std::move(change->app);
  record.deleting = false;
  if (change->config_changed) record.backoff = {};  // a new version resets the launch delay
  state_.deployments[change->deployment.id] = change->deployment;
  publish_deployment("deployment_info", change->deployment);
  return DeploymentRef{change->deployment.id, change->deployment.version};
}

Result<DeploymentRef> MasterCore::create_app(model::App app, bool force) {
  std::lock_guard lock(mu_);
  auto it = state_.apps.find(app.id);
  if (it != state_.apps.end() && !it->second.deleting) {
    return make_error(ErrorCode::kConflict, "An app with id [" + app.id + "] already exists.");
  }
  return persist_app_change(app, "", force);
}

Result<DeploymentRef> MasterCore::update_app(model::App app, bool force, bool* created) {
  std::lock_guard lock(mu_);
  auto it = state_.apps.find(app.id);
  *created = it == state_.apps.end() || it->second.deleting;
  return persist_app_change(app, "", force);
}

Result<DeploymentRef> MasterCore::restart_app(const std::string& id, bool force) {
  std::lock_guard lock(mu_);
  auto it = state_.apps.find(id);
  if (it == state_.apps.end() || it->second.deleting) {
    return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
  }
  return persist_app_change(it->second.app, "RestartApplication", force);
}

Result<DeploymentRef> MasterCore::delete_app(const std::string& id, bool force) {
  std::lock_guard lock(mu_);
  auto change = plan_app_delete(state_, id, force, stored_versions(id), new_version(), ids_);
  if (!change) return change.error();
  auto committed = store_.commit(change->ops);
  if (!committed) return committed.error();
  drop_overridden_deployments(change->ops);
  state_.apps[id].deleting = true;
  state_.deployments[change->deployment.id] = change->deployment;
  publish_deployment("deployment_info", change->deployment);
  return DeploymentRef{change->deployment.id, change->deployment.version};
}

Result<std::optional<DeploymentRef>> MasterCore::kill_tasks(
    const std::vector<std::string>& task_ids, bool scale, bool force,
    std::vector<TaskRecord>* killed) {
  std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
    mu_.unchanged();
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
  std::lock_guard lock(mu_);
  auto it = state_.apps.find(id);
  if (it == state_.apps.end()) {
    return make_error(ErrorCode::kNotFound, "Application " + id + " not found in tasks queue.");
  }
  it->second.backoff = {};
  return {};
}

void MasterCore::shutdown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  waiters_.wake_all();
  events_.close();
}

}  // namespace berth::master
