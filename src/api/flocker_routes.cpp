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

http::Response version(master::MasterCore&, const http::Request&) {
  return json_response(200, {{"flocker", "1.15.0+berth"}});
}

http::Response list_configurations(master::MasterCore& core, const http::Request&) {
  nlohmann::json list = nlohmann::json::array();
  core.read([&](const master::MasterState& s) {
    for (const auto& [id, d] : s.datasets) list.push_back(config_json(d));
  });
  return with_tag(core, json_response(200, list));
}

http::Response create_configuration(master::MasterCore& core, const http::Request& request) {
  nlohmann::json body;
  http::Response error;
  if (!parse_flocker_body(request, &body, &error)) return error;
  auto created = core.create_dataset(body, request.header("x-if-configuration-matches"));
  if (!created) return flocker_error(created.error());
  return with_tag(core, json_response(201, config_json(*created)));
}

http::Response method_not_allowed(master::MasterCore&, const http::Request&) {
  return description(405, "Method not allowed");
}

http::Response dataset_state(master::MasterCore& core, const http::Request&) {
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

http::Response node_state(master::MasterCore& core, const http::Request&) {
  nlohmann::json list = nlohmann::json::array();
  core.read([&](const master::MasterState& s) {
    for (const auto& [id, agent] : s.agents) {
      if (!agent.lost)
        list.push_back({{"host", agent.address}, {"uuid", id}, {"hostname", agent.hostname}});
    }
  });
  return json_response(200, list);
}

// /v1/configuration/datasets/<id>: show, update or delete one dataset's configuration.
http::Response dataset_configuration(master::MasterCore& core, const http::Request& request,
                                     const std::string& id) {
  if (!model::is_uuid(id)) return description(404, "Dataset not found.");
  const std::string if_tag = request.header("x-if-configuration-matches");
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

struct Route {
  const char* path;
  const char* method;  // "": any method
  http::Response (*handler)(master::MasterCore&, const http::Request&);
};

// The first route whose path and method match serves a request.
constexpr Route kRoutes[] = {
    {"/v1/version", "GET", version},
    {"/v1/configuration/datasets", "GET", list_configurations},
    {"/v1/configuration/datasets", "POST", create_configuration},
    {"/v1/configuration/datasets", "", method_not_allowed},
    {"/v1/state/datasets", "GET", dataset_state},
    {"/v1/state/nodes", "GET", node_state},
};

}  // namespace

http::Response handle_flocker(master::MasterCore& core, const http::Request& request) {
  for (const Route& route : kRoutes) {
    if (request.path == route.path && (*route.method == '\0' || request.method == route.method)) {
      return route.handler(core, request);
    }
  }
  const std::string prefix = "/v1/configuration/datasets/";
  if (request.path.rfind(prefix, 0) == 0) {
    return dataset_configuration(core, request, request.path.substr(prefix.size()));
  }
  return description(404, "Not found: " + request.path);
}

}  // namespace berth::api
