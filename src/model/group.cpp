// Group bodies (model/group.h, docs/compatibility.md §2.8).
#include "model/group.h"

#include <nlohmann/json.hpp>

namespace berth::model {
namespace {

void add_error(std::vector<FieldError>* errors, const std::string& path,
               const std::string& message) {
  errors->push_back({path.empty() ? "/" : path, {message}});
}

std::optional<std::vector<std::string>> read_ids(const nlohmann::json& body, const char* key,
                                                 const std::string& base, const std::string& path,
                                                 std::vector<FieldError>* errors) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  const auto& list = body[key];
  if (!list.is_array()) {
    add_error(errors, path + "/" + key, "error.expected.jsarray");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = path + "/" + key + "(" + std::to_string(i) + ")";
    if (!list[i].is_string()) {
      add_error(errors, at, "error.expected.jsstring");
      continue;
    }
    std::string id = normalize_app_id(list[i].get<std::string>(), base);
    if (id == "/") {
      add_error(errors, at, "a dependency must name an app or a group, not the root");
      continue;
    }
    out.push_back(id);
  }
  return out;
}

// Parses the group at absolute `id` from `body`; `path` is the JSON path for errors.
GroupUpdate parse_at(const nlohmann::json& body, const std::string& id, const std::string& path,
                     const std::string& version, std::vector<FieldError>* errors) {
  GroupUpdate group;
  group.id = id;
  group.dependencies = read_ids(body, "dependencies", id, path, errors);
  if (body.contains("version") && !body["version"].is_null()) {
    if (body["version"].is_string()) {
      group.version = body["version"].get<std::string>();
    } else {
      add_error(errors, path + "/version", "error.expected.jsstring");
    }
  }
  if (body.contains("scaleBy") && !body["scaleBy"].is_null()) {
    if (!body["scaleBy"].is_number() || body["scaleBy"].get<double>() < 0) {
      add_error(errors, path + "/scaleBy", "scaleBy must be a number, 0 or more");
    } else {
      group.scale_by = body["scaleBy"].get<double>();
    }
  }
  if (body.contains("apps") && !body["apps"].is_null()) {
    if (!body["apps"].is_array()) {
      add_error(errors, path + "/apps", "error.expected.jsarray");
    } else {
      group.apps.emplace();
      for (size_t i = 0; i < body["apps"].size(); ++i) {
        const auto& app_body = body["apps"][i];
        std::string at = path + "/apps(" + std::to_string(i) + ")";
        if (!app_body.is_object()) {
          add_error(errors, at, "error.expected.jsobject");
          continue;
        }
        ParseOutcome parsed = parse_app(app_body, ParseOptions{id, std::nullopt, version});
        for (auto& e : parsed.errors) errors->push_back({at + e.path, e.errors});
        if (!parsed.app) continue;
        if (parent_group(parsed.app->id) != id) {
          add_error(errors, at + "/id",
                    "identifier " + parsed.app->id + " is not child of " + id +
                        ". Hint: use relative paths.");
          continue;
        }
        group.apps->push_back(std::move(*parsed.app));
      }
    }
  }
  if (body.contains("groups") && !body["groups"].is_null()) {
    if (!body["groups"].is_array()) {
      add_error(errors, path + "/groups", "error.expected.jsarray");
    } else {
      group.groups.emplace();
      for (size_t i = 0; i < body["groups"].size(); ++i) {
        const auto& sub = body["groups"][i];
        std::string at = path + "/groups(" + std::to_string(i) + ")";
        if (!sub.is_object() || !sub.contains("id") || !sub["id"].is_string()) {
          add_error(errors, at + "/id", "error.path.missing");
          continue;
        }
        std::string given = sub["id"].get<std::string>();
        if (auto bad = group_id_error(given)) {
          add_error(errors, at + "/id", *bad);
          continue;
        }
        std::string sub_id = normalize_app_id(given, id);
        if (parent_group(sub_id) != id) {
          add_error(
              errors, at + "/id",
              "identifier " + sub_id + " is not child of " + id + ". Hint: use relative paths.");
          continue;
        }
        group.groups->push_back(parse_at(sub, sub_id, at, version, errors));
      }
    }
  }
  return group;
}

}  // namespace

std::optional<std::string> group_id_error(const std::string& id) {
  if (id == "/" || id.empty()) return std::nullopt;
  return app_id_error(id);
}

bool is_within(const std::string& id, const std::string& group) {
  if (group == "/") return true;
  return id == group || (id.size() > group.size() && id.compare(0, group.size(), group) == 0 &&
                         id[group.size()] == '/');
}

GroupParseOutcome parse_group(const nlohmann::json& body, const std::string& path_id,
                              const std::string& version) {
  GroupParseOutcome out;
  if (!body.is_object()) {
    out.errors.push_back({"/", {"error.expected.jsobject"}});
    return out;
  }
  std::string id = path_id.empty() ? "/" : path_id;
  if (id == "/" && body.contains("id") && body["id"].is_string()) {
    std::string given = body["id"].get<std::string>();
    if (auto bad = group_id_error(given)) {
      out.errors.push_back({"/id", {*bad}});
      return out;
    }
    id = normalize_app_id(given, "/");
  }
  GroupUpdate group = parse_at(body, id, "", version, &out.errors);
  if (out.errors.empty()) out.group = std::move(group);
  return out;
}

}  // namespace berth::model
