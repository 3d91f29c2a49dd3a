// /v2/groups routes (docs/compatibility.md §2.8).
#include "api/groups_routes.h"

#include "api/responses.h"
#include "api/views.h"
#include "master/plan.h"
#include "model/group.h"

namespace berth::api {
namespace {

struct Embed {
  bool apps = true, groups = true;
  bool app_info = false;  // counts and deployments of each app
  bool tasks = false, failure = false;
};

Embed embed_of(const http::Request& request) {
  Embed e;
  auto [it, end] = request.query.equal_range("embed");
  if (it == end) return e;
  e.apps = e.groups = false;
  for (; it != end; ++it) {
    const std::string& v = it->second;
    if (v == "group.groups") e.groups = true;
    if (v.rfind("group.apps", 0) == 0) e.apps = true;
    if (v == "group.apps.counts" || v == "group.apps.deployments" || v == "group.apps.readiness" ||
        v == "group.apps.taskStats")
      e.app_info = true;
    if (v == "group.apps.tasks") e.app_info = e.tasks = true;
    if (v == "group.apps.lastTaskFailure") e.app_info = e.failure = true;
  }
  return e;
}

// The tree under `root`, built from one pass over the apps and group records.
class GroupTree {
 public:
  GroupTree(const master::MasterCore& core, const master::MasterState& state, const Embed& embed)
      : core_(core), state_(state), embed_(embed) {
    if (embed_.app_info) tasks_ = tasks_by_app(state);
    for (const auto& [id, record] : state.apps) {
      if (record.deleting) continue;
      apps_of_[model::parent_group(id)].push_back(&record);
      note_group(model::parent_group(id));
      note_version(id, record.app.version);
    }
    for (const auto& [id, g] : state.groups) {
      note_group(id);
      note_version(id, g.version);
    }
  }

  nlohmann::json render(const std::string& id) const {
    auto record = state_.groups.find(id);
    nlohmann::json j = {
        {"id", id},
        {"dependencies",
         record == state_.groups.end() ? std::vector<std::string>{} : record->second.dependencies},
        {"version", version_of(id)},
        {"apps", nlohmann::json::array()},
        {"groups", nlohmann::json::array()},
        {"pods", nlohmann::json::array()}};
    if (embed_.apps) {
      if (auto apps = apps_of_.find(id); apps != apps_of_.end()) {
        for (const auto* app : apps->second) {
          j["apps"].push_back(embed_.app_info ? app_info_json(core_, state_, *app, embed_.tasks,
                                                              embed_.failure, &tasks_)
                                              : model::app_to_json(app->app));
        }
      }
    }
    if (auto subs = children_.find(id); subs != children_.end()) {
      for (const auto& sub : subs->second) {
        if (embed_.groups) {
          j["groups"].push_back(render(sub));
        }
      }
    }
    return j;
  }

 private:
  void note_group(const std::string& id) {
    for (std::string g = id; g != "/"; g = model::parent_group(g)) {
      children_[model::parent_group(g)].insert(g);
    }
  }
  // A group's version is its newest change: its own record's or that of anything in it.
  void note_version(const std::string& member, const std::string& version) {
    for (std::string g = member;; g = model::parent_group(g)) {
      std::string& v = versions_[g];
      if (version > v) v = version;
      if (g == "/") break;
    }
  }
  std::string version_of(const std::string& id) const {
    auto v = versions_.find(id);
    return v == versions_.end() ? std::string() : v->second;
  }

  const master::MasterCore& core_;
  const master::MasterState& state_;
  Embed embed_;
  TasksByApp tasks_;  // every app's tasks, when the apps are shown with their counts
  std::map<std::string, std::vector<const master::AppRecord*>> apps_of_;
  std::map<std::string, std::set<std::string>> children_;
  std::map<std::string, std::string> versions_;
};

http::Response deployment_answer(int status, const master::DeploymentRef& ref,
                                 const std::string& location = "") {
  http::Response r =
      json_response(status, {{"deploymentId", ref.deployment_id}, {"version", ref.version}});
  r.headers.push_back({"Marathon-Deployment-Id", ref.deployment_id});
  if (!location.empty()) r.headers.push_back({"Location", location});
  return r;
}

// Group changes answer a bad definition with Marathon's 422.
http::Response change_error(const Error& error) {
  if (error.code == ErrorCode::kInvalidArgument) {
    return json_response(422, model::validation_error_body({{"/", {error.message}}}));
  }
  return error_response(error);
}

http::Response change(master::MasterCore& core, const http::Request& request, const std::string& id,
                      bool create) {
  nlohmann::json body;
  http::Response error;
  if (!parse_body(request, &body, &error, JsonShape::kObject)) return error;
  auto parsed = model::parse_group(body, id, "");
  if (!parsed.group) return json_response(422, model::validation_error_body(parsed.errors));
  bool force = request.query_flag("force", false);
  if (request.query_flag("dryRun", false)) {
    nlohmann::json steps;
    auto planned = core.change_group(*parsed.group, create, force, &steps);
    if (!planned) return change_error(planned.error());
    return json_response(200, steps);
  }
  auto ref = core.change_group(*parsed.group, create, force);
  if (!ref) return change_error(ref.error());
  if (create) return deployment_answer(201, *ref, "/v2/groups" + parsed.group->id);
  return deployment_answer(200, *ref);
}

}  // namespace

http::Response handle_groups(master::MasterCore& core, const http::Request& request) {
  // /v2/groups[/{id}][/versions[/{version}]]
  std::string rest = request.path.substr(std::string("/v2/groups").size());
  PathParts parts = split_path(rest, {"versions", "apps"});
  std::string id = parts.id.empty() ? "/" : parts.id;
  if (auto bad = model::group_id_error(id)) return message_response(400, "group id " + *bad);
  const std::string& sub = parts.sub;
  const std::string& arg = parts.arg;
  if (parts.extra) return message_response(404, "URI not found");

  if (sub == "versions" && request.method == "PUT" && !arg.empty()) {
    // What python-marathon's rollback_group sends: the same as PUT {"version": v}.
    model::GroupUpdate rollback;
    rollback.id = id;
    rollback.version = arg;
    auto ref = core.change_group(rollback, false, request.query_flag("force", false));
    if (!ref) return change_error(ref.error());
    return deployment_answer(200, *ref);
  }
  if (sub == "versions") {
    if (request.method != "GET") return message_response(405, "Method not allowed");
    if (arg.empty()) {
      auto versions = core.group_versions(id);
      if (!versions) return error_response(versions.error());
      return json_response(200, *versions);
    }
    auto snapshot = core.group_version(id, arg);
    if (!snapshot) return error_response(snapshot.error());
    return json_response(200, *snapshot);
  }
  if (sub == "apps") {
    if (request.method != "GET") return message_response(405, "Method not allowed");
    nlohmann::json apps = nlohmann::json::array();
    bool found = false;
    core.read([&](const master::MasterState& s) {
      found = master::group_exists(s, id);
      for (const auto& [app_id, record] : s.apps) {
        if (!record.deleting && model::parent_group(app_id) == id)
          apps.push_back(app_info_json(core, s, record, false, false));
      }
    });
    if (!found) return message_response(404, "Group '" + id + "' does not exist");
    return json_response(200, {{"apps", apps}});
  }
  if (request.method == "GET") {
    std::optional<nlohmann::json> group;
    Embed embed = embed_of(request);
    core.read([&](const master::MasterState& s) {
      if (!master::group_exists(s, id)) return;
      group = GroupTree(core, s, embed).render(id);
    });
    if (!group) return message_response(404, "Group '" + id + "' does not exist");
    return json_response(200, *group);
  }
  if (request.method == "POST") return change(core, request, id, true);
  if (request.method == "PUT") return change(core, request, id, false);
  if (request.method == "DELETE") {
    auto ref = core.delete_group(id, request.query_flag("force", false));
    if (!ref) return error_response(ref.error());
    return deployment_answer(200, *ref);
  }
  return message_response(405, "Method not allowed");
}

}  // namespace berth::api
