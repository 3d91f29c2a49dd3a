// /v2/apps routes (docs/compatibility.md §2.1).
#include "api/apps_routes.h"

#include "api/label_selector.h"
#include "api/responses.h"
#include "api/views.h"

namespace berth::api {
namespace {

http::Response deployment_response(int status, const master::DeploymentRef& ref) {
  http::Response r =
      json_response(status, {{"deploymentId", ref.deployment_id}, {"version", ref.version}});
  r.headers.push_back({"Marathon-Deployment-Id", ref.deployment_id});
  return r;
}

// Whether `embed` asks for `what` ("tasks", "lastTaskFailure", ...): Marathon takes it with the
// "apps." or "app." prefix or none, on the list and on one app alike.
bool embeds(const http::Request& request, const std::string& what) {
  auto range = request.query.equal_range("embed");
  for (auto it = range.first; it != range.second; ++it) {
    std::string v = it->second;
    for (const char* prefix : {"apps.", "app."}) {
      if (v.rfind(prefix, 0) == 0) {
        v = v.substr(std::string(prefix).size());
        break;
      }
    }
    if (v == what) return true;
  }
  return false;
}

std::optional<model::App> current_app(master::MasterCore& core, const std::string& id) {
  std::optional<model::App> app;
  core.read([&](const master::MasterState& s) {
    auto it = s.apps.find(id);
    if (it != s.apps.end() && !it->second.deleting) app = it->second.app;
  });
  return app;
}

// Marathon's api_post_event for a change of app `id` made by `request`: the app as stored
// now (or, for a delete, `deleted` as it was).
void publish_api_post(master::MasterCore& core, const http::Request& request, const std::string& id,
                      const std::optional<model::App>& deleted = std::nullopt) {
  if (!core.events().has_subscribers()) return;
  std::optional<model::App> app = deleted ? deleted : current_app(core, id);
  if (!app) return;
  std::string client_ip = request.remote_address.substr(0, request.remote_address.rfind(':'));
  core.publish_event("api_post_event", {{"clientIp", client_ip},
                                        {"uri", request.path},
                                        {"appDefinition", model::app_to_json(*app)}});
}

// berth serves external volumes of provider dvdi with the berth driver (or "flocker", its
// alias); an exclusive volume belongs to one app.
std::vector<model::FieldError> volume_errors(master::MasterCore& core, const model::App& app) {
  std::vector<model::FieldError> errors;
  auto volumes = model::external_volumes(app);
  for (size_t i = 0; i < volumes.size(); ++i) {
    std::string path = "/container/volumes(" + std::to_string(i) + ")/external";
    if (volumes[i].provider != "dvdi") {
      errors.push_back({path + "/provider",
                        {"berth supports provider 'dvdi', got '" + volumes[i].provider + "'"}});
    }
    if (volumes[i].driver != "berth" && volumes[i].driver != "flocker") {
      errors.push_back({path + "/options",
                        {"dvdi/driver must be 'berth' (or its alias 'flocker'), got '" +
                         volumes[i].driver + "'"}});
    }
  }
  for (const auto& conflict : core.volume_conflicts(app)) {
    errors.push_back({"/container/volumes",
                      {"volume " + conflict + " is exclusive; use another name or shared: true"}});
  }
  return errors;
}

// `info` (an AppInfo as JSON text) with `taskStats` added.
std::string with_task_stats(std::string info, const master::MasterState& state,
                            const master::AppRecord& record, const TasksByApp* index = nullptr) {
  if (info.empty() || info.back() != '}') return info;
  info.pop_back();
  return info + ",\"taskStats\":" + task_stats_json(state, record, index).dump() + "}";
}

http::Response not_found(const std::string& id) {
  return message_response(404, "App '" + id + "' does not exist");
}

http::Response list_apps(master::MasterCore& core, const http::Request& request) {
  bool with_tasks = embeds(request, "tasks") || embeds(request, "failures");
  bool with_failure = embeds(request, "lastTaskFailure") || embeds(request, "failures");
  bool with_stats = embeds(request, "taskStats");
  std::string cmd_filter = request.query_value("cmd");
  std::string id_filter = request.query_value("id");
  std::optional<LabelSelector> labels;
  if (std::string text = request.query_value("label"); !text.empty()) {
    auto parsed = LabelSelector::parse(text);
    if (!parsed) return message_response(400, parsed.error().message);
    labels = std::move(*parsed);
  }
  auto wanted = [&](const std::string& id, const master::AppRecord& record) {
    if (record.deleting) return false;
    if (labels && !labels->matches(record.app.labels)) return false;
    if (!id_filter.empty() && id.find(id_filter) == std::string::npos) return false;
    if (!cmd_filter.empty()) {
      std::string cmd = record.app.cmd.value_or("");
      auto lower = [](std::string v) {
        for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return v;
      };
      if (lower(cmd).find(lower(cmd_filter)) == std::string::npos) return false;
    }
    return true;
  };
  // The apps are rendered a few at a time, each batch under its own hold of the state lock:
  // a list of 1,000 apps and 10,000 tasks takes a while to render, and the controller, the
  // heartbeats and the writes of other clients do not wait for all of it
  // (docs/architecture.md §4). Each app is shown as it was at one moment; apps changed
  // between two batches show their state of that moment.
  constexpr size_t kAppsPerHold = 50;
  http::Response r;
  std::string& body = r.body;
  body = "{\"apps\":[";
  bool first = true, done = false;
  std::string after;  // the last app id looked at
  while (!done) {
    if (!after.empty()) core.let_waiters_go();  // not before the first batch
    core.read([&](const master::MasterState& s) {
      std::vector<const master::AppRecord*> batch;
      std::unordered_set<std::string> ids;
      auto it = after.empty() ? s.apps.begin() : s.apps.upper_bound(after);
      for (size_t looked = 0; it != s.apps.end() && looked < kAppsPerHold; ++it, ++looked) {
        after = it->first;
        if (!wanted(it->first, it->second)) continue;
        batch.push_back(&it->second);
        ids.insert(it->first);
      }
      done = it == s.apps.end();
      const TasksByApp index = tasks_by_app(s, &ids);
      for (const master::AppRecord* record : batch) {
        if (!first) body += ',';
        first = false;
        std::string info = app_info_text(core, s, *record, with_tasks, with_failure, &index);
        body += with_stats ? with_task_stats(std::move(info), s, *record, &index) : info;
      }
    });
  }
  body += "]}";
  return r;
}

http::Response create_app(master::MasterCore& core, const http::Request& request) {
  nlohmann::json body;
  http::Response error;
  if (!parse_body(request, &body, &error, JsonShape::kObject)) return error;
  auto parsed = model::parse_app(body, model::ParseOptions{"/", std::nullopt, ""});
  if (!parsed.app) return json_response(422, model::validation_error_body(parsed.errors));
  if (auto errors = volume_errors(core, *parsed.app); !errors.empty()) {
    return json_response(422, model::validation_error_body(errors));
  }
  auto ref = core.create_app(*parsed.app, request.query_flag("force", false));
  if (!ref) return error_response(ref.error());
  nlohmann::json info;
  core.read([&](const master::MasterState& s) {
    // The app as created, before any of its instances: like Marathon, the answer counts no
    // tasks (the controller may have placed some since; GET shows them). Nor does it look for
    // them among every task of the cluster.
    const TasksByApp none;
    auto it = s.apps.find(parsed.app->id);
    if (it != s.apps.end()) info = app_info_json(core, s, it->second, false, false, &none);
  });
  publish_api_post(core, request, parsed.app->id);
  http::Response r = json_response(201, info);
  r.headers.push_back({"Location", "/v2/apps" + parsed.app->id});
  r.headers.push_back({"Marathon-Deployment-Id", ref->deployment_id});
  return r;
}

// PUT and PATCH on one app; PUT /v2/apps (bulk) reuses it per element.
Result<model::App> decode_update(master::MasterCore& core, const std::string& id,
                                 const nlohmann::json& body, bool partial, bool must_exist,
                                 std::vector<model::FieldError>* errors) {
  auto current = current_app(core, id);
  if (!current && must_exist)
    return make_error(ErrorCode::kNotFound, "App '" + id + "' does not exist");
  if (model::is_rollback_request(body)) {
    return core.app_version(id, body["version"].get<std::string>());
  }
  model::ParseOutcome parsed;
  if (current && partial) {
    parsed = model::merge_app(*current, body, "");
  } else {
    parsed = model::parse_app(body, model::ParseOptions{"/", id, ""});
  }
  if (!parsed.app) {
    *errors = parsed.errors;
    return make_error(ErrorCode::kInvalidArgument, "Object is not valid");
  }
  if (auto volume_problems = volume_errors(core, *parsed.app); !volume_problems.empty()) {
    *errors = volume_problems;
    return make_error(ErrorCode::kInvalidArgument, "Object is not valid");
  }
  return std::move(*parsed.app);
}

http::Response update_app(master::MasterCore& core, const http::Request& request,
                          const std::string& id, bool patch) {
  nlohmann::json body;
  http::Response error;
  if (!parse_body(request, &body, &error, JsonShape::kObject)) return error;
  std::vector<model::FieldError> errors;
  bool partial = patch || request.query_flag("partialUpdate", true);
  auto app = decode_update(core, id, body, partial, patch, &errors);
  if (!app) {
    if (!errors.empty()) return json_response(422, model::validation_error_body(errors));
    return error_response(app.error());
  }
  bool created = false;
  auto ref = core.update_app(*app, request.query_flag("force", false), &created);
  if (!ref) return error_response(ref.error());
  publish_api_post(core, request, app->id);
  return deployment_response(created ? 201 : 200, *ref);
}

http::Response bulk_update(master::MasterCore& core, const http::Request& request, bool patch) {
  nlohmann::json body;
  http::Response error;
  if (!parse_body(request, &body, &error, JsonShape::kArray)) return error;
  std::vector<model::App> apps;
  std::vector<model::FieldError> all_errors;
  for (size_t i = 0; i < body.size(); ++i) {
    const auto& item = body[i];
    std::string prefix = "/(" + std::to_string(i) + ")";
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string()) {
      all_errors.push_back({prefix + "/id", {"error.path.missing"}});
      continue;
    }
    std::string id = model::normalize_app_id(item["id"].get<std::string>(), "/");
    if (auto bad = model::app_id_error(item["id"].get<std::string>())) {
      all_errors.push_back({prefix + "/id", {*bad}});
      continue;
    }
    std::vector<model::FieldError> errors;
    bool partial = patch || request.query_flag("partialUpdate", true);
    auto app = decode_update(core, id, item, partial, patch, &errors);
    if (!app) {
      if (errors.empty()) return error_response(app.error());
      for (auto& e : errors) all_errors.push_back({prefix + e.path, e.errors});
      continue;
    }
    apps.push_back(std::move(*app));
  }
  if (!all_errors.empty()) return json_response(422, model::validation_error_body(all_errors));
  std::optional<master::DeploymentRef> first;
  for (auto& app : apps) {
    bool created = false;
    auto ref = core.update_app(app, request.query_flag("force", false), &created);
    if (!ref) return error_response(ref.error());
    publish_api_post(core, request, app.id);
    if (!first) first = *ref;
  }
  if (!first) return message_response(400, "No apps given");
  return deployment_response(200, *first);
}

http::Response app_tasks(master::MasterCore& core, const http::Request& request,
                         const std::string& id, const std::string& task_id) {
  if (!current_app(core, id)) return not_found(id);
  if (request.method == "GET") {
    nlohmann::json tasks = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& [tid, task] : s.tasks) {
        if (task.app_id == id && (task_id.empty() || tid == task_id))
          tasks.push_back(task_json(s, task));
      }
    });
    if (!task_id.empty()) {
      if (tasks.empty()) return message_response(404, "Task '" + task_id + "' does not exist");
      return json_response(200, {{"task", tasks[0]}});
    }
    return json_response(200, {{"tasks", tasks}});
  }
  if (request.method != "DELETE") return message_response(405, "Method not allowed");
  bool scale = request.query_flag("scale", false);
  if (scale && request.query_flag("wipe", false)) {
    return message_response(400, "You cannot use scale and wipe at the same time.");
  }
  std::vector<std::string> ids;
  std::string host = request.query_value("host", "*");
  core.read([&](const master::MasterState& s) {
    for (const auto& [tid, task] : s.tasks) {
      if (task.app_id != id) continue;
      if (!task_id.empty() && tid != task_id) continue;
      if (host != "*" && task.host != host) continue;
      ids.push_back(tid);
    }
  });
  if (!task_id.empty() && ids.empty())
    return message_response(404, "Task '" + task_id + "' does not exist");
  std::vector<master::TaskRecord> killed;
  auto ref = core.kill_tasks(ids, scale, request.query_flag("force", false), &killed);
  if (!ref) return error_response(ref.error());
  if (scale && *ref) return deployment_response(200, **ref);
  nlohmann::json tasks = nlohmann::json::array();
  core.read([&](const master::MasterState& s) {
    for (const auto& t : killed) tasks.push_back(task_json(s, t));
  });
  if (!task_id.empty())
    return json_response(200, {{"task", tasks.empty() ? nlohmann::json() : tasks[0]}});
  return json_response(200, {{"tasks", tasks}});
}

// GET /v2/apps/{id}/versions[/{version}].
http::Response app_versions(master::MasterCore& core, const http::Request& request,
                            const std::string& id, const std::string& version) {
  if (request.method != "GET") return message_response(405, "Method not allowed");
  if (version.empty()) {
    auto versions = core.app_versions(id);
    if (!versions) return error_response(versions.error());
    return json_response(200, {{"versions", *versions}});
  }
  if (!current_app(core, id)) return not_found(id);
  auto app = core.app_version(id, version);
  if (!app) return error_response(app.error());
  return json_response(200, model::app_to_json(*app));
}

}  // namespace

http::Response handle_apps(master::MasterCore& core, const http::Request& request) {
  const std::string prefix = "/v2/apps";
  std::string rest = request.path.substr(prefix.size());
  if (rest.empty() || rest == "/") {
    if (request.method == "GET") return list_apps(core, request);
    if (request.method == "POST") return create_app(core, request);
    if (request.method == "PUT") return bulk_update(core, request, false);
    if (request.method == "PATCH") return bulk_update(core, request, true);
    return message_response(405, "Method not allowed");
  }
  PathParts parts = split_path(rest, {"tasks", "versions", "restart"});
  const std::string& id = parts.id;
  const std::string& sub = parts.sub;
  const std::string& arg = parts.arg;
  if (id.empty() || parts.extra) return message_response(404, "URI not found");

  if (sub.empty()) {
    if (request.method == "GET") {
      std::optional<std::string> info;
      core.read([&](const master::MasterState& s) {
        auto it = s.apps.find(id);
        if (it != s.apps.end() && !it->second.deleting) {
          info = app_info_text(core, s, it->second, true, true);
          if (embeds(request, "taskStats")) info = with_task_stats(*info, s, it->second);
        }
      });
      if (!info) return not_found(id);
      http::Response r;
      r.body = "{\"app\":" + *info + "}";
      return r;
    }
    if (request.method == "PUT") return update_app(core, request, id, false);
    if (request.method == "PATCH") return update_app(core, request, id, true);
    if (request.method == "DELETE") {
      std::optional<model::App> before = current_app(core, id);
      auto ref = core.delete_app(id, request.query_flag("force", true));
      if (!ref) return error_response(ref.error());
      publish_api_post(core, request, id, before);
      return deployment_response(200, *ref);
    }
    return message_response(405, "Method not allowed");
  }
  if (sub == "restart") {
    if (request.method != "POST") return message_response(405, "Method not allowed");
    auto ref = core.restart_app(id, request.query_flag("force", false));
    if (!ref) return error_response(ref.error());
    return deployment_response(200, *ref);
  }
  if (sub == "tasks") return app_tasks(core, request, id, arg);
  if (sub == "versions") return app_versions(core, request, id, arg);
  return message_response(404, "URI not found");
}

}  // namespace berth::api
