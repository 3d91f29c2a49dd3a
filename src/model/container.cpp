// parse_container_spec, parse_networks and their writers (see container.h). Each reader takes
// the field path of its value, so an error names the field as the user wrote it.
#include "model/container.h"

#include <nlohmann/json.hpp>

#include "model/parse_support.h"

namespace berth::model {
namespace {

using detail::member;
using nlohmann::json;

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string element(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

Result<std::string> read_string(const json& value, const std::string& field) {
  if (!value.is_string()) return invalid(field + ": got " + value.dump() + ", expected a string");
  return value.get<std::string>();
}

// A string member, or `fallback` when it is absent.
Result<std::string> string_member(const json& object, const char* key, const std::string& field,
                                  std::string fallback) {
  const json* value = member(object, key);
  if (value == nullptr) return fallback;
  return read_string(*value, field + "." + key);
}

Result<bool> bool_member(const json& object, const char* key, const std::string& field) {
  const json* value = member(object, key);
  if (value == nullptr) return false;
  if (!value->is_boolean()) {
    return invalid(field + "." + key + ": got " + value->dump() + ", expected true or false");
  }
  return value->get<bool>();
}

Result<std::optional<uint32_t>> port_member(const json& object, const char* key,
                                            const std::string& field) {
  const json* port = member(object, key);
  if (port == nullptr) return std::optional<uint32_t>();
  if (port->is_number_integer()) {
    int64_t value = port->get<int64_t>();
    if (value >= 0 && value <= 65535) return std::optional<uint32_t>(static_cast<uint32_t>(value));
  }
  return invalid(field + "." + key + ": got " + port->dump() +
                 ", expected a port number from 0 to 65535");
}

// ---- container.docker ----

Result<std::vector<DockerParameter>> read_parameters(const json& docker) {
  const std::string path = "container.docker.parameters";
  std::vector<DockerParameter> out;
  const json* parameters = member(docker, "parameters");
  if (parameters == nullptr) return out;
  if (!parameters->is_array()) return invalid(path + ": expected an array of {key, value}");
  for (size_t i = 0; i < parameters->size(); ++i) {
    const json& parameter = (*parameters)[i];
    const json* key = member(parameter, "key");
    const json* value = member(parameter, "value");
    if (key == nullptr || value == nullptr || !key->is_string() || !value->is_string()) {
      return invalid(element(path, i) + ": expected {\"key\": string, \"value\": string}");
    }
    out.push_back({key->get<std::string>(), value->get<std::string>()});
  }
  return out;
}

Result<std::optional<DockerSpec>> read_docker(const json& container, const std::string& type) {
  const std::string path = "container.docker";
  const json* docker = member(container, "docker");
  if (docker == nullptr && type != "DOCKER") return std::optional<DockerSpec>();
  if (docker == nullptr || !docker->is_object()) {
    return invalid(path + ": missing; a DOCKER container needs docker.image");
  }
  DockerSpec out;
  const json* image = member(*docker, "image");
  if (image == nullptr || !image->is_string() || image->get<std::string>().empty()) {
    return invalid(path + ".image: missing or empty; name the image to run, e.g. \"busybox:1.36\"");
  }
  out.image = image->get<std::string>();
  auto privileged = bool_member(*docker, "privileged", path);
  if (!privileged) return privileged.error();
  out.privileged = *privileged;
  auto force_pull = bool_member(*docker, "forcePullImage", path);
  if (!force_pull) return force_pull.error();
  out.force_pull_image = *force_pull;
  auto parameters = read_parameters(*docker);
  if (!parameters) return parameters.error();
  out.parameters = std::move(*parameters);
  return std::optional<DockerSpec>(std::move(out));
}

// ---- container.portMappings ----

bool is_port_protocol(const std::string& protocol) {
  return protocol == "tcp" || protocol == "udp" || protocol == "udp,tcp" || protocol == "tcp,udp";
}

Result<PortMapping> read_port_mapping(const json& mapping, const std::string& field) {
  if (!mapping.is_object()) return invalid(field + ": expected an object");
  PortMapping out;
  auto container_port = port_member(mapping, "containerPort", field);
  if (!container_port) return container_port.error();
  out.container_port = container_port->value_or(0);
  auto host_port = port_member(mapping, "hostPort", field);
  if (!host_port) return host_port.error();
  out.host_port = *host_port;
  auto service_port = port_member(mapping, "servicePort", field);
  if (!service_port) return service_port.error();
  out.service_port = service_port->value_or(0);
  const json* protocol = member(mapping, "protocol");
  if (protocol != nullptr) {
    if (!protocol->is_string() || !is_port_protocol(protocol->get<std::string>())) {
      return invalid(field + ".protocol: got " + protocol->dump() +
                     ", expected \"tcp\", \"udp\" or \"udp,tcp\"");
    }
    out.protocol = protocol->get<std::string>();
  }
  auto name = string_member(mapping, "name", field, "");
  if (!name) return name.error();
  out.name = std::move(*name);
  return out;
}

// ---- container.volumes ----

Result<ExternalVolumeSource> read_external(const json& external, const std::string& field) {
  if (!external.is_object()) return invalid(field + ": expected an object");
  ExternalVolumeSource out;
  const json* name = member(external, "name");
  if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
    return invalid(field + ".name: missing; name the volume's dataset");
  }
  out.name = name->get<std::string>();
  if (const json* provider = member(external, "provider")) {
    auto text = read_string(*provider, field + ".provider");
    if (!text) return text.error();
    out.provider = std::move(*text);
  }
  if (const json* options = member(external, "options")) {
    if (!options->is_object()) return invalid(field + ".options: expected an object of strings");
    for (const auto& [key, value] : options->items()) {
      if (value.is_null()) continue;
      auto text = read_string(value, field + ".options[\"" + key + "\"]");
      if (!text) return text.error();
      out.options[key] = std::move(*text);
    }
  }
  return out;
}

Result<ContainerVolume> read_volume(const json& volume, const std::string& field) {
  if (!volume.is_object()) return invalid(field + ": expected an object");
  ContainerVolume out;
  const json* path = member(volume, "containerPath");
  if (path == nullptr || !path->is_string() || path->get<std::string>().empty()) {
    return invalid(field + ".containerPath: missing");
  }
  out.container_path = path->get<std::string>();
  auto mode = string_member(volume, "mode", field, "RW");
  if (!mode) return mode.error();
  out.mode = std::move(*mode);
  if (const json* external = member(volume, "external")) {
    auto source = read_external(*external, field + ".external");
    if (!source) return source.error();
    out.external = std::move(*source);
  }
  if (const json* host_path = member(volume, "hostPath")) {
    auto text = read_string(*host_path, field + ".hostPath");
    if (!text) return text.error();
    out.host_path = std::move(*text);
  }
  out.persistent = member(volume, "persistent") != nullptr;
  if (const json* secret = member(volume, "secret")) {
    auto text = read_string(*secret, field + ".secret");
    if (!text) return text.error();
    out.secret = std::move(*text);
  }
  return out;
}

template <typename T>
Result<std::vector<T>> read_list(const json& object, const char* key, const std::string& path,
                                 Result<T> (*read)(const json&, const std::string&)) {
  std::vector<T> out;
  const json* list = member(object, key);
  if (list == nullptr) return out;
  if (!list->is_array()) return invalid(path + ": expected an array");
  for (size_t i = 0; i < list->size(); ++i) {
    auto entry = read((*list)[i], element(path, i));
    if (!entry) return entry.error();
    out.push_back(std::move(*entry));
  }
  return out;
}

// ---- networks ----

Result<NetworkSpec> read_network(const json& network, const std::string& field) {
  if (!network.is_object()) return invalid(field + ": expected an object");
  NetworkSpec out;
  auto mode = string_member(network, "mode", field, "container");
  if (!mode) return mode.error();
  if (*mode != "host" && *mode != "container/bridge" && *mode != "container") {
    return invalid(field + ".mode: got '" + *mode +
                   "', expected host, container/bridge or container");
  }
  out.mode = std::move(*mode);
  auto name = string_member(network, "name", field, "");
  if (!name) return name.error();
  out.name = std::move(*name);
  return out;
}

}  // namespace

Result<ContainerSpec> parse_container_spec(const json& container) {
  if (!container.is_object()) return invalid("container: expected an object");
  ContainerSpec out;
  auto type = string_member(container, "type", "container", "DOCKER");
  if (!type) return type.error();
  if (*type != "DOCKER" && *type != "MESOS") {
    return invalid("container.type: got '" + *type + "', expected DOCKER or MESOS");
  }
  out.type = std::move(*type);
  auto docker = read_docker(container, out.type);
  if (!docker) return docker.error();
  out.docker = std::move(*docker);
  auto mappings = read_list<PortMapping>(container, "portMappings", "container.portMappings",
                                         read_port_mapping);
  if (!mappings) return mappings.error();
  out.port_mappings = std::move(*mappings);
  auto volumes = read_list<ContainerVolume>(container, "volumes", "container.volumes", read_volume);
  if (!volumes) return volumes.error();
  out.volumes = std::move(*volumes);
  return out;
}

Result<std::vector<NetworkSpec>> parse_networks(const json& networks) {
  if (networks.is_null()) return std::vector<NetworkSpec>{};
  if (!networks.is_array()) return invalid("networks: expected an array");
  std::vector<NetworkSpec> out;
  for (size_t i = 0; i < networks.size(); ++i) {
    auto network = read_network(networks[i], element("networks", i));
    if (!network) return network.error();
    out.push_back(std::move(*network));
  }
  return out;
}

json container_to_json(const ContainerSpec& container) {
  json out = {{"type", container.type}};
  if (container.docker) {
    const DockerSpec& docker = *container.docker;
    json parameters = json::array();
    for (const auto& parameter : docker.parameters) {
      parameters.push_back({{"key", parameter.key}, {"value", parameter.value}});
    }
    out["docker"] = {{"image", docker.image},
                     {"privileged", docker.privileged},
                     {"forcePullImage", docker.force_pull_image},
                     {"parameters", std::move(parameters)}};
  }
  json mappings = json::array();
  for (const auto& mapping : container.port_mappings) {
    json entry = {{"containerPort", mapping.container_port},
                  {"servicePort", mapping.service_port},
                  {"protocol", mapping.protocol}};
    if (mapping.host_port) entry["hostPort"] = *mapping.host_port;
    if (!mapping.name.empty()) entry["name"] = mapping.name;
    mappings.push_back(std::move(entry));
  }
  out["portMappings"] = std::move(mappings);
  json volumes = json::array();
  for (const auto& volume : container.volumes) {
    json entry = {{"containerPath", volume.container_path}, {"mode", volume.mode}};
    if (volume.external) {
      json external = {{"name", volume.external->name}, {"options", volume.external->options}};
      if (volume.external->provider) external["provider"] = *volume.external->provider;
      entry["external"] = std::move(external);
    }
    if (volume.host_path) entry["hostPath"] = *volume.host_path;
    if (volume.persistent) entry["persistent"] = json::object();
    if (volume.secret) entry["secret"] = *volume.secret;
    volumes.push_back(std::move(entry));
  }
  out["volumes"] = std::move(volumes);
  return out;
}

json networks_to_json(const std::vector<NetworkSpec>& networks) {
  json out = json::array();
  for (const auto& network : networks) {
    json entry = {{"mode", network.mode}};
    if (!network.name.empty()) entry["name"] = network.name;
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace berth::model
