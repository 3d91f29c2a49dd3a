#include "api/flocker_routes.h"

#include "api/responses.h"

namespace berth::api {
namespace {

http::Response description(int status, const std::string& text) {
  return json_response(status, {{"description", text}});
}

http::Response flocker_error(const Error& error) {
  return description(status_of(error.code), error.message);
}

// Flocker's dataset_config without berth's internal fields.
nlohmann::json config_json(const model::Dataset& d) {
  nlohmann::json j = model::dataset_to_json(d);
  j.erase("epoch");
  j.erase("moving_from");
  return j;
}

bool parse_flocker_body(const http::Request& request, nlohmann::json* body, http::Response* error) {
  auto parsed = json::parse(request.body.empty() ? std::string("{}") : request.body);
  if (!parsed) {
    *error = description(
        400, "The provided JSON doesn't match the required schema: " + parsed.error().message);
    return false;
  }
  *body = std::move(*parsed);
  if (!body->is_object()) {
    *error = description(
        400, "The provided JSON doesn't match the required schema: the body must be a JSON object");
    return false;
  }
  return true;
}

http::Response with_tag(master::MasterCore& core, http::Response r) {
  core.read([&](const master::MasterState& s) {
    r.headers.push_back({"X-Configuration-Tag", core.configuration_tag(s)});
  });
  return r;
}

}  // namespace

http::Response handle_flocker(master::MasterCore& core, const http::Request& request) {
  const std::string& path = request.path;
  const std::string if_tag = request.header("x-if-configuration-matches");
  if (path == "/v1/version" && request.method == "GET")
    return json_response(200, {{"flocker", "1.15.0+berth"}});

  if (path == "/v1/configuration/datasets") {
    if (request.method == "GET") {
      nlohmann::json list = nlohmann::json::array();
      core.read([&](const master::MasterState& s) {
        for (const auto& [id, d] : s.datasets) list.push_back(config_json(d));
      });
      return with_tag(core, json_response(200, list));
    }
    if (request.method == "POST") {
      nlohmann::json body;
      http::Response error;
      if (!parse_flocker_body(request, &body, &error)) return error;
      auto created = core.create_dataset(body, if_tag);
      if (!created) return flocker_error(created.error());
      return with_tag(core, json_response(201, config_json(*created)));
    }
    return description(405, "Method not allowed");
  }
  const std::string prefix = "/v1/configuration/datasets/";
  if (path.rfind(prefix, 0) == 0) {
    std::string id = path.substr(prefix.size());
    if (!model::is_uuid(id)) return description(404, "Dataset not found.");
    Result<model::Dataset> result = make_error(ErrorCode::kNotAllowed, "Method not allowed");
    if (request.method == "POST") {
      nlohmann::json body;
      http::Response error;
      if (!parse_flocker_body(request, &body, &error)) return error;
      result = core.update_dataset(id, body, if_tag);
    } else if (request.method == "DELETE") {
      result = core.delete_dataset(id, if_tag);
    } else if (request.method == "GET") {
      std::optional<model::Dataset> found;
      core.read([&](const master::MasterState& s) {
        auto it = s.datasets.find(id);
        if (it != s.datasets.end()) found = it->second;
      });
      if (!found) return description(404, "Dataset not found.");
      return json_response(200, config_json(*found));
    }
    if (!result) return flocker_error(result.error());
    return with_tag(core, json_response(200, config_json(*result)));
  }
  if (path == "/v1/state/datasets" && request.method == "GET") {
    nlohmann::json list = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& [id, d] : s.datasets) {
        if (d.deleted) continue;
        nlohmann::json item = {{"dataset_id", id}};
        if (d.maximum_size) item["maximum_size"] = *d.maximum_size;
        for (const auto& [aid, agent] : s.agents) {
          if (agent.lost) continue;
          for (const auto& r : agent.datasets) {
            if (r.dataset_id == id && r.attached) {
              item["primary"] = aid;
              item["path"] = r.path;
            }
            // Why a node cannot attach it (yet), e.g. a copy that failed and is retried.
            if (r.dataset_id == id && !r.error.empty()) item["errors"][aid] = r.error;
          }
        }
        list.push_back(item);
      }
    });
    return json_response(200, list);
  }
  if (path == "/v1/state/nodes" && request.method == "GET") {
    nlohmann::json list = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& [id, agent] : s.agents) {
        if (!agent.lost)
          list.push_back({{"host", agent.address}, {"uuid", id}, {"hostname", agent.hostname}});
      }
    });
    return json_response(200, list);
  }
  return description(404, "Not found: " + path);
}

}  // namespace berth::api
