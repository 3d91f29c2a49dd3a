// Internals shared by the app parser's translation units (not part of the model's API): an
// error list keyed by Marathon's field paths, typed readers that report Marathon's JSON type
// errors, and the messages several rules share.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/app.h"

namespace berth::model::detail {

using nlohmann::json;

class ErrorList {
 public:
  // Appends `message` to the entry for `path`, creating it at the end when new.
  void add(const std::string& path, std::string message);
  bool empty() const { return errors_.empty(); }
  bool has(const std::string& path) const;
  std::vector<FieldError> take() { return std::move(errors_); }

 private:
  std::vector<FieldError> errors_;
};

// Marathon's path of an array element: "/constraints" + 0 -> "/constraints(0)".
std::string element_path(const std::string& array_path, size_t index);

// object[key], or nullptr when the key is absent or null (Marathon reads null as absent).
const json* member(const json& object, std::string_view key);

// Each reader returns the value, or nullopt after adding the JSON type error at `path`.
std::optional<std::string> read_string(const json& value, const std::string& path,
                                       ErrorList& errors);
std::optional<double> read_number(const json& value, const std::string& path, ErrorList& errors);
// An integral number within [INT32_MIN, INT32_MAX] ("error.expected.int" otherwise).
std::optional<int64_t> read_int(const json& value, const std::string& path, ErrorList& errors);
std::optional<bool> read_bool(const json& value, const std::string& path, ErrorList& errors);
bool expect_array(const json& value, const std::string& path, ErrorList& errors);
bool expect_object(const json& value, const std::string& path, ErrorList& errors);
std::optional<std::vector<std::string>> read_string_array(const json& value,
                                                          const std::string& path,
                                                          ErrorList& errors);
std::optional<std::map<std::string, std::string>> read_string_map(const json& value,
                                                                  const std::string& path,
                                                                  ErrorList& errors);

// A copy of `object` without its null members (Marathon reads null as absent).
json without_nulls(const json& object);

// A user's value quoted for a message: 'value', cut to 64 characters ('abc...') so a huge
// field does not make a huge error body.
std::string quote(std::string_view value);

// 1 -> "1", 0.5 -> "0.5": numbers as users wrote them, for messages.
std::string format_number(double value);
// "got -1, expected 0 or more" and friends (the wording of Marathon's validator library).
std::string expected_at_least(double got, double minimum);
std::string expected_at_most(double got, double maximum);
std::string expected_between(double got, double minimum, double maximum);
std::string must_match(std::string_view pattern);

// Matchers for Marathon's fixed patterns, written by hand because libstdc++'s std::regex
// recurses once per input character and would overflow the stack on a long request field.
// An id segment: "." or "..", or dot-separated labels (see is_dns_label).
bool is_id_segment(std::string_view text);
// ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ : port names and the labels of id segments.
bool is_dns_label(std::string_view text);
// ^[a-zA-Z0-9_/.-]*$ : the values the IS constraint operator accepts.
bool is_mesos_literal(std::string_view text);
// ^(//cmd)|(/?[^/]+(/[^/]+)*)|$ : the executor field.
bool is_executor(std::string_view text);
// What Java's Integer.parseInt accepts: an optional sign and decimal digits, within 32 bits.
bool is_int32_text(std::string_view text);

// An integer port (0-65535) at `path`, or nullopt after adding the error.
std::optional<uint32_t> read_port(const json& value, const std::string& path, ErrorList& errors);
bool is_valid_port_protocol(std::string_view protocol);
inline constexpr const char* kPortProtocolError = "must be one of tcp, udp, udp,tcp";

inline constexpr const char* kSingleInstanceLabel = "MARATHON_SINGLE_INSTANCE_APP";
inline constexpr const char* kHostMode = "host";
inline constexpr const char* kBridgeMode = "container/bridge";
inline constexpr const char* kContainerMode = "container";

// What the kept-JSON normalisation learned that other rules and defaults depend on.
struct ExtraFacts {
  std::string network_mode = kHostMode;
  int container_networks = 0;
  bool has_container = false;
  bool docker_engine = false;        // container.type == DOCKER
  bool container_has_image = false;  // a docker image: enough to run without cmd or args
  bool persistent_volumes = false;
  bool external_volumes = false;
  std::vector<std::string> port_mapping_names;
  size_t port_mapping_count = 0;
};

// Normalises networks (incl. the legacy container.docker.network and ipAddress) and container
// into `extra`; called before the typed fields, whose defaults depend on the facts.
ExtraFacts normalize_networks_and_container(const json& body, json& extra, ErrorList& errors);
// Normalises the remaining kept fields into `extra`: health and readiness checks (which refer
// to the app's ports), fetch/uris, unreachableStrategy, secrets and the plain passthroughs.
void normalize_other_kept_fields(const json& body, const App& app, const ExtraFacts& facts,
                                 json& extra, ErrorList& errors);

// Defaults that depend on other fields; merge_app recomputes them when they were defaults.
UpgradeStrategy default_upgrade_strategy(bool has_volumes, bool single_instance);
json default_unreachable_strategy(bool persistent_volumes);
std::vector<PortDefinition> default_port_definitions(const std::string& network_mode);
json default_residency();
json default_port_mappings(const std::string& network_mode);
// The volumes a normalised DOCKER `container` mounts through berth's plugin via its
// docker.parameters: a `volume-driver` of berth or flocker and `volume` (or `v`) entries
// NAME:PATH[:ro|rw] whose NAME is not a host path.
std::vector<ExternalVolume> docker_parameter_volumes(const json& container);

// Parses and validates one constraint array at `path` (e.g. "/constraints(0)").
std::optional<ConstraintSpec> parse_constraint(const json& value, const std::string& path,
                                               ErrorList& errors);
// Rules between fields, after everything was read.
void validate_app_rules(const App& app, const ExtraFacts& facts, ErrorList& errors);

}  // namespace berth::model::detail
