// Marathon's group definitions (docs/compatibility.md §2.8): the body of POST and PUT
// /v2/groups, parsed into apps (model/app.h) and nested groups with their dependencies.
// Relative ids resolve against the enclosing group; every app and group must be a direct
// child of the group it is written in.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/app.h"

namespace berth::model {

struct GroupUpdate {
  std::string id;  // absolute
  // Each is set only when the body has it: an update keeps what it does not name.
  std::optional<std::vector<std::string>> dependencies;  // absolute app or group ids
  std::optional<std::vector<App>> apps;                  // the group's direct apps
  std::optional<std::vector<GroupUpdate>> groups;        // its direct subgroups
  // Special PUT bodies: a rollback to a stored version, or every app's instances scaled.
  std::optional<std::string> version;
  std::optional<double> scale_by;
};

struct GroupParseOutcome {
  std::optional<GroupUpdate> group;  // set exactly when errors is empty
  std::vector<FieldError> errors;
};

// Parses a group body for the group at `path_id` (absolute; from the URL, or "/" for
// /v2/groups, where the body's `id` then names the group, relative to the root). Every app
// gets `version` as its version. Errors carry the JSON path of the field.
GroupParseOutcome parse_group(const nlohmann::json& body, const std::string& path_id,
                              const std::string& version);

// A group's JSON id check: empty, bad segments or reserved names. nullopt when valid.
std::optional<std::string> group_id_error(const std::string& id);

// True when `id` is `group` or lies under it ("/" holds everything).
bool is_within(const std::string& id, const std::string& group);

}  // namespace berth::model
