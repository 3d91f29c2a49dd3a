// App: Marathon's app definition (the body of POST/PUT/PATCH /v2/apps) as berth stores it.
// Parsing applies Marathon's normalisation (relative ids, legacy fields, defaults) and
// validation, and reports failures as Marathon's 422 `details` entries. app_to_json writes
// the canonical definition back with every default explicit.
//
// Called by the API layer (decode a request, answer 422), the master's state machine
// (merge updates, stamp versions, tell scale changes from restarts) and the store (persist
// with app_to_json, load with restore_app). Pure code: no I/O and no clock; the version
// timestamp is always passed in.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/container.h"
#include "model/json_value.h"

namespace berth::model {

// One entry of Marathon's validation `details`: a field path such as "/cpus",
// "/constraints(0)" or "/healthChecks(1)/portIndex" ("/" for rules about the whole app).
struct FieldError {
  std::string path;
  std::vector<std::string> errors;
  bool operator==(const FieldError&) const = default;
};

// A placement constraint. op is upper case and one of UNIQUE, CLUSTER, GROUP_BY, LIKE,
// UNLIKE, MAX_PER, IS; its value has been validated for that operator.
struct ConstraintSpec {
  std::string field;
  std::string op;
  std::optional<std::string> value;
  bool operator==(const ConstraintSpec&) const = default;
};

struct PortDefinition {
  uint32_t port = 0;             // 0: the master picks a port when it deploys the app
  std::string protocol = "tcp";  // tcp, udp or udp,tcp
  std::optional<std::string> name;
  std::map<std::string, std::string> labels;
  bool operator==(const PortDefinition&) const = default;
};

struct UpgradeStrategy {
  double minimum_health_capacity = 1.0;  // fractions of `instances`, in [0, 1]
  double maximum_over_capacity = 1.0;
  bool operator==(const UpgradeStrategy&) const = default;
};

struct VersionInfo {
  std::string last_scaling_at;  // ISO-8601, like App::version
  std::string last_config_change_at;
  bool operator==(const VersionInfo&) const = default;
};

// The definition fields kept as JSON in App::extra, each already normalised (legacy forms
// translated, defaults filled in). Always present: networks, healthChecks, readinessChecks,
// fetch, unreachableStrategy, secrets. Present when given (or implied): container,
// acceptedResourceRoles, residency, role, tty, check, executorResources, resourceLimits.
inline constexpr const char* kKeptFields[] = {
    "container",
    "networks",
    "healthChecks",
    "readinessChecks",
    "fetch",
    "unreachableStrategy",
    "secrets",
    "acceptedResourceRoles",
    "residency",
    "role",
    "tty",
    "check",
    "executorResources",
    "resourceLimits",
};

struct App {
  std::string id;  // absolute and normalised, e.g. "/prod/web"
  std::optional<std::string> cmd;
  std::optional<std::vector<std::string>> args;
  double cpus = 1;
  double mem = 128;  // MiB
  double disk = 0;   // MiB
  int gpus = 0;
  uint32_t instances = 1;
  std::map<std::string, std::string> env;          // plain values
  std::map<std::string, std::string> env_secrets;  // {"secret": name} values: variable -> secret
  std::map<std::string, std::string> labels;
  std::vector<ConstraintSpec> constraints;
  // Host networking: [{port:0, name:"default", protocol:"tcp"}] when omitted; [] is allowed.
  // Other network modes: always empty (their ports are container.portMappings in `extra`).
  std::vector<PortDefinition> port_definitions;
  bool require_ports = false;
  // {1, 1}, or {0.5, 0} when the app has persistent or external volumes.
  UpgradeStrategy upgrade_strategy;
  double backoff_seconds = 1;
  double backoff_factor = 1.15;
  double max_launch_delay_seconds = 300;
  std::string kill_selection = "YOUNGEST_FIRST";  // or OLDEST_FIRST
  std::optional<double> task_kill_grace_period_seconds;
  std::string user;                       // empty: unset
  std::string executor;                   // "" (default), "//cmd" or a path
  std::vector<std::string> dependencies;  // absolute app or group ids
  std::string version;                    // ISO-8601 timestamp of this definition
  VersionInfo version_info;
  // A JSON object holding the kKeptFields present in the definition, normalised.
  JsonValue extra;

  bool operator==(const App&) const = default;
};

struct ParseOutcome {
  std::optional<App> app;          // set exactly when errors is empty
  std::vector<FieldError> errors;  // Marathon's `details`, in the order found
};

struct ParseOptions {
  // The group relative ids resolve against: "/" for POST /v2/apps, the group for an app
  // nested in a group definition.
  std::string base_group = "/";
  // PUT /v2/apps/{id}: the id from the URL. When set it is the app's id and any id in the
  // body is ignored, as Marathon does.
  std::optional<std::string> path_id;
  // The timestamp (from the caller's clock) this definition gets as its version; both
  // versionInfo fields are set to it too. apply_version adjusts them for an update.
  std::string version;
};

// Parses a full definition (POST, or PUT with partialUpdate=false). `body` is the decoded
// request; the caller answers malformed JSON itself. Unknown fields are ignored, `version`
// and `versionInfo` in the body are ignored (see is_rollback_request), JSON type errors are
// reported like Marathon ("/cpus": "error.expected.jsnumber"). Returns the normalised app with
// every default applied, or every error found.
ParseOutcome parse_app(const nlohmann::json& body, const ParseOptions& options);

// Applies a partial update (PATCH, or PUT with partialUpdate=true): each field present (and
// not null) in `patch` replaces the current one; the id never changes. Defaults that depend
// on other fields (upgradeStrategy, unreachableStrategy, portDefinitions, residency) are
// recomputed when the current value was the default. The result is validated like parse_app
// and stamped with apply_version(result, &current, version_timestamp).
ParseOutcome merge_app(const App& current, const nlohmann::json& patch,
                       const std::string& version_timestamp);

// Rebuilds an app from app_to_json output (the store's copy), keeping its version and
// versionInfo. Errors mean the stored document is damaged or from an incompatible writer.
ParseOutcome restore_app(const nlohmann::json& stored);

// Marathon's canonical definition JSON (AppDefinition fields only; the API adds counts,
// tasks and deployments). Every default is explicit. portDefinitions is written only in host
// networking, as Marathon does.
nlohmann::json app_to_json(const App& app);

// Marathon's 422 body: {"message":"Object is not valid","details":[{"path","errors"}...]}.
nlohmann::json validation_error_body(const std::vector<FieldError>& errors);

// True when `body` asks PUT /v2/apps/{id} to roll back: a string `version` and no keys other
// than `id` and `version`. The master then loads that version instead of parsing the body.
bool is_rollback_request(const nlohmann::json& body);

// Sets next.version to `timestamp` and next.version_info as Marathon does: a new app or a
// config change sets both fields; a change of `instances` only sets lastScalingAt; no change
// keeps previous->version_info.
void apply_version(App& next, const App* previous, const std::string& timestamp);

// True when `instances` differs and nothing else does (version and versionInfo ignored): the
// master scales instead of restarting.
bool is_scale_only_change(const App& before, const App& after);
// True when anything but instances, version and versionInfo differs: tasks must be replaced.
bool is_config_change(const App& before, const App& after);

// The message for an invalid app id as given by a user (relative or absolute), or nullopt.
// Checks every segment against Marathon's pattern, the reserved last segments (restart,
// tasks, versions, ".", "..") and that the id is not empty or the root.
std::optional<std::string> app_id_error(const std::string& id);
// Resolves `id` against the absolute group `base` ("/" for the top level), then "." and "..";
// empty segments are dropped. normalize_app_id("web", "/prod") == "/prod/web".
std::string normalize_app_id(const std::string& id, const std::string& base);
// The group containing an absolute id: "/prod" for "/prod/web", "/" for "/web".
std::string parent_group(const std::string& id);
// The id as it appears in task ids: "/prod/web" -> "prod_web".
std::string safe_app_id(const std::string& app_id);

// "host", "container/bridge" or "container": the mode of the app's networks.
std::string network_mode(const App& app);
// container.docker.image, when the app has one.
std::optional<std::string> docker_image(const App& app);
bool has_external_volumes(const App& app);
bool has_persistent_volumes(const App& app);

// container.portMappings (PortMapping is in model/container.h).
std::vector<PortMapping> port_mappings(const App& app);
// The app's service ports, one per port: portDefinitions[].port in host networking,
// portMappings[].servicePort otherwise (0 where none is assigned yet).
std::vector<uint32_t> service_ports(const App& app);
// Writes service ports back where service_ports() reads them.
void set_service_ports(App& app, const std::vector<uint32_t>& ports);

// An external (DVDI) volume of container.volumes, for the dataset controller. A DOCKER
// container's `volume-driver` berth/flocker parameters with `volume` NAME:PATH entries count
// as external volumes too (options "berth/source": "docker.parameters").
struct ExternalVolume {
  std::string container_path;
  std::string name;
  std::string provider;  // "dvdi" unless given
  std::string driver;    // options["dvdi/driver"], e.g. "berth", "flocker", "rexray"
  std::string mode;      // "RW" unless given
  bool shared = false;
  std::map<std::string, std::string> options;
};
std::vector<ExternalVolume> external_volumes(const App& app);
// Every volume that berth backs with a dataset: the external ones, and Marathon's local
// `persistent` volumes as datasets of the `local` driver named "<safe app id>.<containerPath>"
// (options "berth/driver": "local", "berth/size-mib"), which pin the app to its node.
std::vector<ExternalVolume> dataset_volumes(const App& app);

}  // namespace berth::model
