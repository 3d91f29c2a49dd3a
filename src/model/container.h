// ContainerSpec and NetworkSpec: an app's normalised `container` object and `networks` array
// (kept as JSON in App::extra) as typed values, for what runs a task: the master puts them into
// the launch command (docs/protocol.md §5), the agent and the Docker executor read their fields.
// parse_container_spec and parse_networks are the one reader of that JSON; container_to_json and
// networks_to_json write it back in the same shape (Marathon's, docs/compatibility.md §2.2), so
// the launch command carries it as Marathon's JSON and the agent reads it with the same parser.
//
// The parsers check the shape (types, required fields, port numbers, protocols, network modes);
// what a runtime can run (parameter keys, volume drivers, host paths) is the executor's to check.
// Pure code: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::model {

// One entry of container.portMappings (bridge or container networking).
struct PortMapping {
  uint32_t container_port = 0;        // 0: the same as the host port
  std::optional<uint32_t> host_port;  // 0: any host port; absent: not published on the host
  uint32_t service_port = 0;          // 0 until the master assigns one
  std::string protocol = "tcp";       // tcp, udp, udp,tcp or tcp,udp
  std::string name;
  bool operator==(const PortMapping&) const = default;
};

// One `key`/`value` of container.docker.parameters, as `docker run --KEY VALUE` takes it.
struct DockerParameter {
  std::string key;
  std::string value;
  bool operator==(const DockerParameter&) const = default;
};

struct DockerSpec {
  std::string image;  // never empty in a DOCKER container
  bool privileged = false;
  bool force_pull_image = false;
  std::vector<DockerParameter> parameters;
  bool operator==(const DockerSpec&) const = default;
};

// container.volumes[].external: a volume served by a volume driver.
struct ExternalVolumeSource {
  std::string name;  // never empty
  std::optional<std::string> provider;
  std::map<std::string, std::string> options;  // e.g. "dvdi/driver"
  bool operator==(const ExternalVolumeSource&) const = default;
};

// One entry of container.volumes. Which kind it is follows from the members set: external,
// host_path, persistent or secret.
struct ContainerVolume {
  std::string container_path;  // never empty
  std::string mode = "RW";     // as written; Marathon's values are RW and RO
  std::optional<ExternalVolumeSource> external;
  std::optional<std::string> host_path;
  bool persistent = false;  // a local persistent volume: the agent attaches its dataset
  std::optional<std::string> secret;
  bool operator==(const ContainerVolume&) const = default;
};

struct ContainerSpec {
  std::string type = "DOCKER";  // or MESOS
  // Always set for DOCKER; for MESOS when the container names a Docker image.
  std::optional<DockerSpec> docker;
  std::vector<PortMapping> port_mappings;
  std::vector<ContainerVolume> volumes;
  bool operator==(const ContainerSpec&) const = default;
};

// One entry of `networks`.
struct NetworkSpec {
  std::string mode = "container";  // host, container/bridge or container
  std::string name;                // container networks: the network's name; empty: none given
  bool operator==(const NetworkSpec&) const = default;
};

// Reads a normalised `container` object. Unknown members are ignored, null members are absent.
// kInvalidArgument names the field as the user wrote it, e.g. "container.docker.image: ...",
// "container.portMappings[1].protocol: ...", "container.volumes[0].external.name: ...".
Result<ContainerSpec> parse_container_spec(const nlohmann::json& container);
// Reads a normalised `networks` array; null is no networks. Errors name "networks[i].mode" and
// the like.
Result<std::vector<NetworkSpec>> parse_networks(const nlohmann::json& networks);

// The JSON parse_container_spec reads back into an equal value (and parse_networks for
// networks_to_json).
nlohmann::json container_to_json(const ContainerSpec& container);
nlohmann::json networks_to_json(const std::vector<NetworkSpec>& networks);

}  // namespace berth::model
