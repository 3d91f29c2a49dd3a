// Normalisation of `networks` and `container` (kept as JSON in App::extra): the legacy
// container.docker.network, ipAddress and container.docker.portMappings become the 1.5+
// forms Marathon answers with, and the defaults the rest of the definition depends on
// (network mode, port mappings, volume kinds) are recorded in ExtraFacts.
#include <set>

#include "model/app.h"
#include "model/parse_support.h"

namespace berth::model::detail {
namespace {

bool is_network_mode(const std::string& mode) {
  return mode == kHostMode || mode == kBridgeMode || mode == kContainerMode;
}

json parse_network_list(const json& value, ErrorList& errors) {
  json out = json::array();
  if (!expect_array(value, "/networks", errors)) return out;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string path = element_path("/networks", i);
    const json& entry = value[i];
    if (!expect_object(entry, path, errors)) continue;
    json network = json::object();
    network["mode"] = kContainerMode;  // Marathon's default for an entry without a mode
    if (const json* mode = member(entry, "mode")) {
      auto text = read_string(*mode, path + "/mode", errors);
      if (!text) continue;
      if (!is_network_mode(*text)) {
        errors.add(path + "/mode",
                   "got " + quote(*text) + ", expected one of host, container/bridge, container");
        continue;
      }
      network["mode"] = *text;
    }
    if (const json* name = member(entry, "name")) {
      if (auto text = read_string(*name, path + "/name", errors)) network["name"] = *text;
    }
    if (const json* labels = member(entry, "labels")) {
      if (auto map = read_string_map(*labels, path + "/labels", errors)) network["labels"] = *map;
    }
    out.push_back(std::move(network));
  }
  return out;
}

void validate_networks(const json& networks, ErrorList& errors) {
  int host = 0;
  int bridge = 0;
  int container = 0;
  int unnamed_container = 0;
  std::set<std::string> names;
  bool duplicate_name = false;
  for (const json& network : networks) {
    std::string mode = network["mode"].get<std::string>();
    bool named = network.contains("name") && !network["name"].get<std::string>().empty();
    if (mode == kHostMode) {
      ++host;
      if (named || network.contains("labels")) {
        errors.add("/networks", "Host networks may not have names or labels");
      }
    } else if (mode == kBridgeMode) {
      ++bridge;
      if (named) errors.add("/networks", "Bridge networks may not have names");
    } else {
      ++container;
      if (!network.contains("name")) ++unnamed_container;
    }
    if (network.contains("name") && !names.insert(network["name"].get<std::string>()).second) {
      duplicate_name = true;
    }
  }
  if (duplicate_name || unnamed_container > 1) {
    errors.add("/networks", "Duplicate networks are not allowed");
  }
  bool valid = (host <= 1 && bridge == 0 && container == 0) ||
               (host == 0 && bridge <= 1 && container == 0) ||
               (host == 0 && bridge == 0 && container > 0);
  if (!valid) {
    errors.add("/networks",
               "May specify a single host network, single bridge network, or else 1-to-n container "
               "networks");
  }
}

// The 1.5+ `networks` for the legacy container.docker.network (and ipAddress.networkName).
json networks_from_docker_network(const json& network, const json* ip_address, ErrorList& errors) {
  const std::string path = "/container/docker/network";
  auto mode = read_string(network, path, errors);
  if (!mode) return json::array();
  if (*mode == "HOST") return json::array({{{"mode", kHostMode}}});
  if (*mode == "BRIDGE") return json::array({{{"mode", kBridgeMode}}});
  if (*mode == "USER") {
    json entry = {{"mode", kContainerMode}};
    if (ip_address != nullptr && ip_address->is_object()) {
      if (const json* name = member(*ip_address, "networkName");
          name != nullptr && name->is_string()) {
        entry["name"] = *name;
      }
    }
    return json::array({entry});
  }
  // Docker's own "none" network: a container network of that name, as `networks` writes it.
  if (*mode == "NONE") return json::array({{{"mode", kContainerMode}, {"name", "none"}}});
  errors.add(path, "got " + quote(*mode) + ", expected one of BRIDGE, HOST, NONE, USER");
  return json::array();
}

// The 1.5+ `networks` for the legacy ipAddress: one container network.
json networks_from_ip_address(const json& ip_address, ErrorList& errors) {
  if (!expect_object(ip_address, "/ipAddress", errors)) return json::array();
  json entry = {{"mode", kContainerMode}};
  if (const json* name = member(ip_address, "networkName")) {
    if (auto text = read_string(*name, "/ipAddress/networkName", errors)) entry["name"] = *text;
  }
  if (const json* labels = member(ip_address, "labels")) {
    if (auto map = read_string_map(*labels, "/ipAddress/labels", errors)) {
      if (!map->empty()) entry["labels"] = *map;
    }
  }
  return json::array({entry});
}

json normalize_networks(const json& body, const json* legacy_network, ErrorList& errors) {
  const json* networks = member(body, "networks");
  const json* ip_address = member(body, "ipAddress");
  json out = json::array();
  if (networks != nullptr) {
    if (legacy_network != nullptr) {
      errors.add("/", "must not specify both container.docker.network and networks");
    }
    if (ip_address != nullptr) errors.add("/", "must not specify both networks and ipAddress");
    out = parse_network_list(*networks, errors);
  } else if (legacy_network != nullptr) {
    out = networks_from_docker_network(*legacy_network, ip_address, errors);
  } else if (ip_address != nullptr) {
    out = networks_from_ip_address(*ip_address, errors);
  }
  if (out.empty()) out = json::array({{{"mode", kHostMode}}});
  validate_networks(out, errors);
  return out;
}

json normalize_port_mapping(const json& entry, const std::string& path, const std::string& mode,
                            ErrorList& errors) {
  if (!expect_object(entry, path, errors)) return json();
  json out = without_nulls(entry);
  for (const char* key : {"containerPort", "hostPort", "servicePort"}) {
    if (const json* port = member(entry, key)) read_port(*port, path + "/" + key, errors);
  }
  if (member(entry, "containerPort") == nullptr) out["containerPort"] = 0;
  if (member(entry, "servicePort") == nullptr) out["servicePort"] = 0;
  // Bridge networking maps to a random host port unless told otherwise; container networking
  // maps none.
  if (member(entry, "hostPort") == nullptr) {
    if (mode == kBridgeMode) {
      out["hostPort"] = 0;
    } else {
      out.erase("hostPort");
    }
  }
  if (const json* protocol = member(entry, "protocol")) {
    auto text = read_string(*protocol, path + "/protocol", errors);
    if (text && !is_valid_port_protocol(*text)) errors.add(path + "/protocol", kPortProtocolError);
  } else {
    out["protocol"] = "tcp";
  }
  if (const json* name = member(entry, "name")) read_string(*name, path + "/name", errors);
  if (const json* labels = member(entry, "labels"))
    read_string_map(*labels, path + "/labels", errors);
  if (const json* names = member(entry, "networkNames")) {
    read_string_array(*names, path + "/networkNames", errors);
  }
  return out;
}

void normalize_port_mappings(json& container, const std::string& mode, ExtraFacts& facts,
                             ErrorList& errors) {
  const std::string path = "/container/portMappings";
  const json* mappings = member(container, "portMappings");
  if (mode == kHostMode) {
    if (mappings != nullptr && mappings->is_array() && !mappings->empty()) {
      errors.add("/", "portMappings are not allowed with host-networking");
    }
    return;
  }
  json source = mappings != nullptr ? *mappings : default_port_mappings(mode);
  if (!expect_array(source, path, errors)) return;
  json out = json::array();
  std::set<std::string> names;
  for (size_t i = 0; i < source.size(); ++i) {
    json mapping = normalize_port_mapping(source[i], element_path(path, i), mode, errors);
    if (mapping.is_null()) continue;
    if (mapping.contains("name") && mapping["name"].is_string()) {
      std::string name = mapping["name"].get<std::string>();
      if (!names.insert(name).second) errors.add(path, "Port names must be unique.");
      facts.port_mapping_names.push_back(name);
    }
    out.push_back(std::move(mapping));
  }
  facts.port_mapping_count = out.size();
  container["portMappings"] = std::move(out);
}

void normalize_volumes(json& container, ExtraFacts& facts, ErrorList& errors) {
  const std::string path = "/container/volumes";
  const json* volumes = member(container, "volumes");
  if (volumes == nullptr) {
    container["volumes"] = json::array();
    return;
  }
  if (!expect_array(*volumes, path, errors)) return;
  std::set<std::string> external_names;
  for (size_t i = 0; i < volumes->size(); ++i) {
    std::string volume_path = element_path(path, i);
    const json& volume = (*volumes)[i];
    if (!expect_object(volume, volume_path, errors)) continue;
    if (const json* container_path = member(volume, "containerPath")) {
      auto text = read_string(*container_path, volume_path + "/containerPath", errors);
      if (text && text->empty()) errors.add(volume_path + "/containerPath", "must not be empty");
    } else {
      errors.add(volume_path + "/containerPath", "error.path.missing");
    }
    if (const json* persistent = member(volume, "persistent")) {
      facts.persistent_volumes = true;
      expect_object(*persistent, volume_path + "/persistent", errors);
    }
    if (const json* external = member(volume, "external")) {
      facts.external_volumes = true;
      if (!expect_object(*external, volume_path + "/external", errors)) continue;
      const json* name = member(*external, "name");
      if (name == nullptr) {
        errors.add(volume_path + "/external/name", "error.path.missing");
      } else if (auto text = read_string(*name, volume_path + "/external/name", errors)) {
        if (text->empty()) errors.add(volume_path + "/external/name", "must not be empty");
        if (!external_names.insert(*text).second) errors.add(path, "Volume names must be unique");
      }
      if (const json* options = member(*external, "options")) {
        read_string_map(*options, volume_path + "/external/options", errors);
      }
    }
  }
}

// container.docker: checks the image and moves the legacy network and portMappings out.
void normalize_docker(json& container, const std::string& type, ExtraFacts& facts,
                      ErrorList& errors) {
  const std::string path = "/container/docker";
  const json* docker_in = member(container, "docker");
  if (docker_in == nullptr) {
    if (type == "DOCKER") errors.add(path, "must be defined when the container type is DOCKER");
    return;
  }
  if (!expect_object(*docker_in, path, errors)) return;
  json docker = without_nulls(*docker_in);
  if (const json* image = member(docker, "image")) {
    if (auto text = read_string(*image, path + "/image", errors)) {
      if (text->empty()) {
        errors.add(path + "/image", "must not be empty");
      } else {
        facts.container_has_image = true;
      }
    }
  } else {
    errors.add(path + "/image", "error.path.missing");
  }
  docker.erase("network");  // already translated into `networks`
  if (const json* mappings = member(docker, "portMappings")) {
    if (member(container, "portMappings") != nullptr) {
      errors.add("/container",
                 "cannot specify both container.portMappings and container.docker.portMappings");
    } else {
      container["portMappings"] = *mappings;
    }
  }
  docker.erase("portMappings");
  std::vector<const char*> flags = {"forcePullImage"};
  if (type == "DOCKER") flags.push_back("privileged");
  for (const char* flag : flags) {
    if (const json* value = member(docker, flag)) {
      read_bool(*value, path + "/" + flag, errors);
    } else {
      docker[flag] = false;
    }
  }
  if (type == "DOCKER") {
    if (const json* parameters = member(docker, "parameters")) {
      if (expect_array(*parameters, path + "/parameters", errors)) {
        for (size_t i = 0; i < parameters->size(); ++i) {
          const json& parameter = (*parameters)[i];
          std::string parameter_path = element_path(path + "/parameters", i);
          if (!expect_object(parameter, parameter_path, errors)) continue;
          for (const char* field : {"key", "value"}) {
            if (const json* text = member(parameter, field)) {
              read_string(*text, parameter_path + "/" + field, errors);
            } else {
              errors.add(parameter_path + "/" + field, "error.path.missing");
            }
          }
        }
      }
    } else {
      docker["parameters"] = json::array();
    }
  }
  container["docker"] = std::move(docker);
  // `volume-driver=berth` parameters put datasets under the app, like dvdi volumes.
  if (type == "DOCKER" && !docker_parameter_volumes(container).empty())
    facts.external_volumes = true;
}

}  // namespace

std::vector<ExternalVolume> docker_parameter_volumes(const json& container) {
  std::vector<ExternalVolume> out;
  const json* docker = member(container, "docker");
  const json* parameters = docker != nullptr ? member(*docker, "parameters") : nullptr;
  if (parameters == nullptr || !parameters->is_array()) return out;
  std::string driver;
  std::vector<std::string> specs;
  for (const json& parameter : *parameters) {
    if (!parameter.is_object()) continue;
    const json* key_json = member(parameter, "key");
    const json* value_json = member(parameter, "value");
    if (key_json == nullptr || value_json == nullptr || !key_json->is_string() ||
        !value_json->is_string())
      continue;
    std::string key = key_json->get<std::string>();
    std::string value = value_json->get<std::string>();
    if (key == "volume-driver") driver = value;
    if (key == "volume" || key == "v") specs.push_back(value);
  }
  if (driver != "berth" && driver != "flocker") return out;
  for (const auto& spec : specs) {
    size_t colon = spec.find(':');
    if (colon == std::string::npos || colon == 0 || spec[0] == '/') continue;
    ExternalVolume volume;
    volume.name = spec.substr(0, colon);
    std::string rest = spec.substr(colon + 1);
    size_t mode_colon = rest.find(':');
    volume.container_path = rest.substr(0, mode_colon);
    if (mode_colon != std::string::npos) {
      std::string mode = rest.substr(mode_colon + 1);
      if (mode.find("ro") != std::string::npos) volume.mode = "RO";
    }
    if (volume.container_path.empty()) continue;
    volume.provider = "dvdi";
    volume.driver = driver;
    volume.options["dvdi/driver"] = driver;
    volume.options["berth/source"] = "docker.parameters";
    out.push_back(std::move(volume));
  }
  return out;
}

ExtraFacts normalize_networks_and_container(const json& body, json& extra, ErrorList& errors) {
  ExtraFacts facts;
  const json* container_in = member(body, "container");
  const json* legacy_network = nullptr;
  if (container_in != nullptr && container_in->is_object()) {
    if (const json* docker = member(*container_in, "docker");
        docker != nullptr && docker->is_object()) {
      legacy_network = member(*docker, "network");
    }
  }
  json networks = normalize_networks(body, legacy_network, errors);
  facts.network_mode = networks[0]["mode"].get<std::string>();
  for (const json& network : networks) {
    if (network["mode"] == kContainerMode) ++facts.container_networks;
  }
  extra["networks"] = std::move(networks);

  if (container_in == nullptr || !expect_object(*container_in, "/container", errors)) return facts;
  facts.has_container = true;
  json container = without_nulls(*container_in);
  std::string type = "DOCKER";
  if (const json* type_in = member(*container_in, "type")) {
    auto text = read_string(*type_in, "/container/type", errors);
    if (text && *text != "DOCKER" && *text != "MESOS") {
      errors.add("/container/type", "got " + quote(*text) + ", expected one of DOCKER, MESOS");
    }
    if (text) type = *text;
  }
  container["type"] = type;
  facts.docker_engine = type == "DOCKER";
  normalize_docker(container, type, facts, errors);
  normalize_port_mappings(container, facts.network_mode, facts, errors);
  normalize_volumes(container, facts, errors);
  extra["container"] = std::move(container);
  return facts;
}

json default_port_mappings(const std::string& network_mode) {
  if (network_mode == kHostMode) return json::array();
  return json::array({{{"containerPort", 0}, {"name", "default"}}});
}

}  // namespace berth::model::detail
