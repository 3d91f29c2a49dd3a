// docker_create_body (see docker_spec.h). The body is built in stages (image and command,
// network, resources, container.volumes, docker.parameters, the agent's own mounts); any stage
// may reject the task, naming the field the user wrote.
#include "executor/docker_spec.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

namespace berth {
namespace {

using nlohmann::json;

constexpr double kBytesPerMib = 1024.0 * 1024.0;
// The daemon refuses smaller limits ("Minimum memory limit allowed is 6MB") and CPU quotas
// below 0.01 CPU; Mesos likewise raised tiny limits instead of failing the task.
constexpr int64_t kDockerMinMemoryBytes = 6 * 1024 * 1024;
constexpr int64_t kDockerMinNanoCpus = 10'000'000;

constexpr const char* kParametersPath = "container.docker.parameters";
constexpr const char* kSupportedParameters =
    "volume-driver, volume (v), env (e), label (l), hostname (h), user (u), workdir (w), "
    "entrypoint, init, cap-add, cap-drop, add-host, dns, read-only, tmpfs, stop-signal";

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string single_quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

bool is_absolute(std::string_view path) { return !path.empty() && path[0] == '/'; }

bool is_berth_driver(std::string_view driver) { return driver == "berth" || driver == "flocker"; }

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// Go's strconv.ParseBool, which the docker CLI applies to `--init=VALUE` and `--read-only=VALUE`.
std::optional<bool> parse_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

bool is_ip_address(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// The mount options Docker accepts after a bind or volume's container path.
bool is_volume_mode(std::string_view mode) {
  static const std::set<std::string_view> kOptions = {
      "rw",    "ro",     "z",       "Z",        "nocopy",     "shared", "rshared",
      "slave", "rslave", "private", "rprivate", "consistent", "cached", "delegated"};
  if (mode.empty()) return false;
  for (const std::string& option : split(mode, ',')) {
    if (kOptions.count(option) == 0) return false;
  }
  return true;
}

// The task's body as it is built; every stage adds to it.
struct Build {
  json config = json::object();
  json host = json::object();
  std::map<std::string, std::string> env;
  // Labels from `label` parameters: key -> (value, the parameter's field).
  std::map<std::string, std::pair<std::string, std::string>> parameter_labels;
  json binds = json::array();
  json mounts = json::array();
  // Container path (trailing slashes dropped) -> the field that mounts something there.
  std::map<std::string, std::string> targets;
  DockerCreate out;

  void add_plugin_volume(const std::string& name) {
    for (const std::string& known : out.plugin_volumes) {
      if (known == name) return;
    }
    out.plugin_volumes.push_back(name);
  }
};

// Records that `field` mounts something at `target`; Docker refuses two mounts at one path.
Status claim_target(Build& build, std::string target, const std::string& field) {
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  auto [it, inserted] = build.targets.emplace(target, field);
  if (!inserted) {
    return invalid(field + ": container path " + single_quoted(target) + " is already mounted by " +
                   it->second + "; give each mount its own container path");
  }
  return {};
}

// ---- image and command ----

// The parser (model/container.h) sets docker with an image for every DOCKER container; a MESOS
// one may have none.
Result<const model::DockerSpec*> read_docker(const model::ContainerSpec& container) {
  if (!container.docker) {
    return invalid("container.docker: missing; a DOCKER container needs docker.image");
  }
  if (container.docker->image.empty()) {
    return invalid(
        "container.docker.image: missing or empty; name the image to run, e.g. \"busybox:1.36\"");
  }
  return &*container.docker;
}

void add_command(const DockerTaskSpec& spec, Build& build) {
  if (spec.cmd && !spec.cmd->empty()) {
    build.config["Cmd"] = json::array({"/bin/sh", "-c", *spec.cmd});
    // A shell command replaces the image's entrypoint, as Mesos's docker containerizer ran
    // `--entrypoint /bin/sh`; an empty (not absent) Entrypoint tells Docker not to use the image's.
    build.config["Entrypoint"] = json::array();
  } else if (!spec.args.empty()) {
    build.config["Cmd"] = spec.args;
  }
}

// ---- networking ----

// Publishes container.portMappings (their ports and protocols checked by the parser). In bridge
// networking every mapping publishes a host port; in container networking those with a hostPort
// do, when the agent passed host ports at all.
Status add_port_bindings(const DockerTaskSpec& spec, bool bridge, Build& build) {
  const std::vector<model::PortMapping>& mappings = spec.container.port_mappings;
  if (mappings.empty()) return {};
  json exposed = json::object();
  json bindings = json::object();
  size_t next_host_port = 0;
  for (size_t i = 0; i < mappings.size(); ++i) {
    const std::string field = "container.portMappings[" + std::to_string(i) + "]";
    const model::PortMapping& mapping = mappings[i];
    std::vector<std::string> protocols = split(mapping.protocol, ',');
    std::optional<uint32_t> host_port;
    if (bridge || mapping.host_port) {
      if (next_host_port < spec.host_ports.size() && spec.host_ports[next_host_port] != 0) {
        host_port = spec.host_ports[next_host_port];
      } else if (bridge || !spec.host_ports.empty()) {
        return invalid(
            field + ": no host port was assigned to this mapping (the task has " +
            std::to_string(spec.host_ports.size()) + " host ports); " +
            (bridge ? "bridge networking publishes every mapping" : "it sets a hostPort"));
      }
      ++next_host_port;
    }
    // containerPort 0 means "the same as the host port" (Marathon).
    uint32_t port = mapping.container_port != 0 ? mapping.container_port : host_port.value_or(0);
    if (port == 0) continue;  // nothing to expose: container networking without a host port
    for (const std::string& protocol : protocols) {
      std::string key = std::to_string(port) + "/" + protocol;
      exposed[key] = json::object();
      if (!host_port) continue;
      if (!bindings.contains(key)) bindings[key] = json::array();
      bindings[key].push_back({{"HostIp", ""}, {"HostPort", std::to_string(*host_port)}});
    }
  }
  if (!exposed.empty()) build.config["ExposedPorts"] = std::move(exposed);
  build.host["PortBindings"] = std::move(bindings);
  return {};
}

Status add_network(const DockerTaskSpec& spec, Build& build) {
  const std::vector<model::NetworkSpec>& networks = spec.networks;
  if (networks.empty()) {  // Marathon's default
    build.host["NetworkMode"] = "host";
    return {};
  }
  size_t container_networks = 0;
  for (const model::NetworkSpec& network : networks) {
    if (network.mode == "container") ++container_networks;
  }
  if (container_networks > 1) {
    return invalid("networks: a DOCKER container joins a single network; got " +
                   std::to_string(container_networks) + " container networks");
  }
  const model::NetworkSpec& network = networks[0];
  if (network.mode == "host") {
    build.host["NetworkMode"] = "host";  // host networking has no portMappings
    return {};
  }
  if (network.mode == "container/bridge") {
    build.host["NetworkMode"] = "bridge";
    return add_port_bindings(spec, /*bridge=*/true, build);
  }
  if (network.name.empty()) {
    return invalid(
        "networks[0].name: container networking needs a network name (\"none\" for no network, "
        "or a Docker network that exists on every node)");
  }
  build.host["NetworkMode"] = network.name;
  // Docker publishes no ports on its none and host networks.
  if (network.name == "none" || network.name == "host") return {};
  return add_port_bindings(spec, /*bridge=*/false, build);
}

// ---- resources ----

void add_resources(const DockerTaskSpec& spec, Build& build) {
  if (spec.mem_mib > 0) {
    int64_t bytes = std::llround(spec.mem_mib * kBytesPerMib);
    if (bytes < kDockerMinMemoryBytes) {
      build.out.warnings.push_back("mem raised to Docker's minimum of 6 MiB");
      bytes = kDockerMinMemoryBytes;
    }
    build.host["Memory"] = bytes;
  }
  if (spec.cpus > 0) {
    int64_t nano_cpus = std::llround(spec.cpus * 1e9);
    if (nano_cpus < kDockerMinNanoCpus) {
      build.out.warnings.push_back("cpus raised to Docker's minimum of 0.01");
      nano_cpus = kDockerMinNanoCpus;
    }
    build.host["NanoCpus"] = nano_cpus;
  }
}

// ---- container.volumes ----

Status add_external_volume(const DockerTaskSpec& spec, const model::ExternalVolumeSource& external,
                           const std::string& field, const std::string& target, bool read_only,
                           Build& build) {
  if (external.provider && *external.provider != "dvdi") {
    return invalid(field + ".external.provider: got \"" + *external.provider +
                   "\", but DOCKER containers support only \"dvdi\" volumes");
  }
  std::string driver = "berth";  // berth serves the dvdi volumes that do not name a driver
  if (auto option = external.options.find("dvdi/driver"); option != external.options.end()) {
    driver = option->second;
  }
  if (!is_berth_driver(driver)) {
    return invalid(field + ".external.options[\"dvdi/driver\"]: volume driver " +
                   single_quoted(driver) +
                   " is not available; berth serves external volumes itself, so use \"berth\" (or "
                   "\"flocker\")");
  }
  if (spec.volume_driver.empty()) {
    return invalid(field + ": this agent runs no volume plugin, so it cannot mount berth volumes");
  }
  std::string source = spec.volume_prefix + external.name;
  build.mounts.push_back({{"Type", "volume"},
                          {"Source", source},
                          {"Target", target},
                          {"ReadOnly", read_only},
                          {"VolumeOptions", {{"DriverConfig", {{"Name", spec.volume_driver}}}}}});
  build.add_plugin_volume(source);
  return {};
}

Status add_container_volume(const DockerTaskSpec& spec, const model::ContainerVolume& volume,
                            const std::string& field, Build& build) {
  if (volume.persistent) return {};  // the agent mounts these (bind_mounts)
  const std::string& target = volume.container_path;
  if (!is_absolute(target)) {
    return invalid(field + ".containerPath: " + single_quoted(target) +
                   " must be an absolute path in a DOCKER container");
  }
  if (volume.mode != "RW" && volume.mode != "RO") {
    return invalid(field + ".mode: got " + single_quoted(volume.mode) + ", expected RW or RO");
  }
  const bool read_only = volume.mode == "RO";
  if (volume.external) {
    Status status = add_external_volume(spec, *volume.external, field, target, read_only, build);
    if (!status) return status;
  } else if (volume.host_path) {
    if (!is_absolute(*volume.host_path)) {
      return invalid(
          field + ".hostPath: got \"" + *volume.host_path +
          "\", expected an absolute path on the node (relative host paths are not supported)");
    }
    build.binds.push_back(*volume.host_path + ":" + target + (read_only ? ":ro" : ":rw"));
  } else if (volume.secret) {
    return invalid(field + ": secret volumes are not supported");
  } else {
    return invalid(field + ": expected one of hostPath, external or persistent");
  }
  return claim_target(build, target, field);
}

Status add_container_volumes(const DockerTaskSpec& spec, Build& build) {
  const std::vector<model::ContainerVolume>& volumes = spec.container.volumes;
  for (size_t i = 0; i < volumes.size(); ++i) {
    std::string field = "container.volumes[" + std::to_string(i) + "]";
    Status status = add_container_volume(spec, volumes[i], field, build);
    if (!status) return status;
  }
  return {};
}

// ---- docker.parameters ----

struct Parameter {
  std::string key;  // canonical: "volume" for "v"
  std::string value;
  std::string field;  // e.g. "container.docker.parameters[2] (v)"
};

std::optional<std::string> canonical_key(const std::string& key) {
  static const std::map<std::string, std::string> kAliases = {{"v", "volume"}, {"e", "env"},
                                                              {"l", "label"},  {"h", "hostname"},
                                                              {"u", "user"},   {"w", "workdir"}};
  static const std::set<std::string> kKeys = {
      "volume-driver", "volume",     "env",   "label",      "hostname", "user",
      "workdir",       "entrypoint", "init",  "cap-add",    "cap-drop", "add-host",
      "dns",           "read-only",  "tmpfs", "stop-signal"};
  if (auto alias = kAliases.find(key); alias != kAliases.end()) return alias->second;
  if (kKeys.count(key) != 0) return key;
  return std::nullopt;
}

Result<std::vector<Parameter>> read_parameters(const model::DockerSpec& docker) {
  std::vector<Parameter> out;
  for (size_t i = 0; i < docker.parameters.size(); ++i) {
    std::string field = std::string(kParametersPath) + "[" + std::to_string(i) + "]";
    const std::string& written = docker.parameters[i].key;
    auto canonical = canonical_key(written);
    if (!canonical) {
      std::string hint =
          !written.empty() && written[0] == '-' ? "; write the key without leading dashes" : "";
      return invalid(field + ": " + single_quoted(written) +
                     " is not supported (supported: " + kSupportedParameters + ")" + hint);
    }
    out.push_back({*canonical, docker.parameters[i].value, field + " (" + written + ")"});
  }
  return out;
}

Error malformed(const Parameter& parameter, const std::string& expected) {
  return invalid(parameter.field + ": " + single_quoted(parameter.value) +
                 " is not valid; expected " + expected);
}

// volume NAME:PATH[:MODE] or /HOST/PATH:PATH[:MODE], with the volume-driver in force.
Status add_volume_parameter(const DockerTaskSpec& spec, const Parameter& parameter,
                            const std::string& driver, Build& build) {
  const char* expected =
      "NAME:PATH[:MODE] or /HOST/PATH:PATH[:MODE] with an absolute container PATH";
  std::vector<std::string> parts = split(parameter.value, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || !is_absolute(parts[1])) {
    return malformed(parameter, expected);
  }
  if (parts.size() == 3 && !is_volume_mode(parts[2])) {
    return malformed(parameter,
                     std::string(expected) + ", MODE being options such as ro, rw, z, nocopy");
  }
  const std::string mode_suffix = parts.size() == 3 ? ":" + parts[2] : "";
  if (!is_absolute(parts[0]) && is_berth_driver(driver)) {
    if (spec.volume_driver.empty()) {
      return invalid(parameter.field +
                     ": this agent runs no volume plugin, so it cannot mount berth volumes");
    }
    std::string source = spec.volume_prefix + parts[0];
    build.binds.push_back(source + ":" + parts[1] + mode_suffix);
    build.add_plugin_volume(source);
  } else {
    build.binds.push_back(parameter.value);  // a bind mount, or another driver's volume
  }
  return claim_target(build, parts[1], parameter.field);
}

// Splits KEY=VALUE (env, label); the key must not be empty.
std::optional<std::pair<std::string, std::string>> split_assignment(const std::string& text) {
  size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) return std::nullopt;
  return std::make_pair(text.substr(0, equals), text.substr(equals + 1));
}

Status add_list_parameter(const Parameter& parameter, Build& build) {
  const std::string& value = parameter.value;
  if (parameter.key == "add-host") {
    size_t colon = value.find(':');
    if (colon == std::string::npos || colon == 0 ||
        (value.substr(colon + 1) != "host-gateway" && !is_ip_address(value.substr(colon + 1)))) {
      return malformed(parameter, "HOST:IP, e.g. db.internal:10.0.0.5");
    }
    build.host["ExtraHosts"].push_back(value);
  } else if (parameter.key == "dns") {
    if (!is_ip_address(value)) return malformed(parameter, "an IP address");
    build.host["Dns"].push_back(value);
  } else {  // cap-add, cap-drop
    if (value.empty()) return malformed(parameter, "a capability such as NET_ADMIN");
    build.host[parameter.key == "cap-add" ? "CapAdd" : "CapDrop"].push_back(value);
  }
  return {};
}

Status add_parameter(const DockerTaskSpec& spec, const Parameter& parameter,
                     const std::string& driver, Build& build) {
  const std::string& key = parameter.key;
  const std::string& value = parameter.value;
  if (key == "volume-driver") return {};  // read before the volumes it applies to
  if (key == "volume") return add_volume_parameter(spec, parameter, driver, build);
  if (key == "env" || key == "label") {
    auto assignment = split_assignment(value);
    if (!assignment) return malformed(parameter, key == "env" ? "NAME=VALUE" : "KEY=VALUE");
    if (key == "env") {
      build.env[assignment->first] = assignment->second;  // overrides the task's variable
    } else {
      build.parameter_labels[assignment->first] = {assignment->second, parameter.field};
    }
    return {};
  }
  if (key == "init" || key == "read-only") {
    auto flag = parse_bool(value);
    if (!flag) return malformed(parameter, "true or false");
    build.host[key == "init" ? "Init" : "ReadonlyRootfs"] = *flag;
    return {};
  }
  if (key == "entrypoint") {
    // docker run --entrypoint VALUE: one executable; an empty value clears the image's entrypoint.
    build.config["Entrypoint"] = value.empty() ? json::array() : json::array({value});
    return {};
  }
  if (key == "tmpfs") {
    size_t colon = value.find(':');
    std::string target = value.substr(0, colon);
    if (!is_absolute(target)) return malformed(parameter, "/PATH[:OPTIONS], e.g. /run:size=64m");
    build.host["Tmpfs"][target] = colon == std::string::npos ? "" : value.substr(colon + 1);
    return claim_target(build, target, parameter.field);
  }
  if (key == "add-host" || key == "dns" || key == "cap-add" || key == "cap-drop") {
    return add_list_parameter(parameter, build);
  }
  // hostname, user, workdir, stop-signal: one string each; the last one wins, as with docker run.
  if (value.empty()) return malformed(parameter, "a non-empty value");
  if (key == "workdir" && !is_absolute(value)) return malformed(parameter, "an absolute path");
  static const std::map<std::string, std::string> kFields = {{"hostname", "Hostname"},
                                                             {"user", "User"},
                                                             {"workdir", "WorkingDir"},
                                                             {"stop-signal", "StopSignal"}};
  build.config[kFields.at(key)] = value;
  return {};
}

// On an agent that runs no task as root, a container may not be root on the host either.
Status check_root(const DockerTaskSpec& spec, const Build& build) {
  if (spec.allow_root) return {};
  const std::string advice =
      ": this agent does not run tasks as root (start it with --allow-root-tasks)";
  std::string user = build.config.value("User", "");
  user = user.substr(0, user.find(':'));
  if (user == "root" || user == "0") {
    return make_error(ErrorCode::kPermissionDenied,
                      "the container would run as user " + user + advice);
  }
  if (build.host.value("Privileged", false)) {
    return make_error(ErrorCode::kPermissionDenied, "container.docker.privileged is true" + advice);
  }
  if (build.host.contains("CapAdd") && !build.host["CapAdd"].empty()) {
    return make_error(ErrorCode::kPermissionDenied,
                      "the cap-add parameter adds capabilities" + advice);
  }
  return {};
}

Status add_parameters(const DockerTaskSpec& spec, const std::vector<Parameter>& parameters,
                      Build& build) {
  // `docker run --volume-driver` applies to every named volume however the flags are ordered;
  // the last one given wins.
  std::string driver;
  for (const Parameter& parameter : parameters) {
    if (parameter.key != "volume-driver") continue;
    if (parameter.value.empty()) return malformed(parameter, "a volume driver name such as berth");
    driver = parameter.value;
  }
  if (!driver.empty()) {
    build.host["VolumeDriver"] = is_berth_driver(driver) ? spec.volume_driver : driver;
  }
  for (const Parameter& parameter : parameters) {
    if (auto status = add_parameter(spec, parameter, driver, build); !status) return status;
  }
  return {};
}

// ---- the agent's own mounts, environment and labels ----

Status add_bind_mounts(const DockerTaskSpec& spec, Build& build) {
  for (const auto& [host_path, container_path] : spec.bind_mounts) {
    std::string field = "the agent's mount of " + host_path;
    if (!is_absolute(host_path) || !is_absolute(container_path)) {
      return invalid(field + " at " + single_quoted(container_path) +
                     ": both paths must be absolute");
    }
    build.binds.push_back(host_path + ":" + container_path);
    if (auto status = claim_target(build, container_path, field); !status) return status;
  }
  return {};
}

json environment(const DockerTaskSpec& spec, const Build& build) {
  std::map<std::string, std::string> env = spec.env;
  for (const auto& [name, value] : build.env) env[name] = value;
  json out = json::array();
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

// The task's labels win: berth finds its containers by its own labels.
json labels(const DockerTaskSpec& spec, Build& build) {
  json out = json::object();
  for (const auto& [key, entry] : build.parameter_labels) {
    auto task_label = spec.labels.find(key);
    if (task_label != spec.labels.end() && task_label->second != entry.first) {
      build.out.warnings.push_back(entry.second + ": label " + key + "=" + entry.first +
                                   " ignored; the app's or berth's label " + key + "=" +
                                   task_label->second + " wins");
    }
    out[key] = entry.first;
  }
  for (const auto& [key, value] : spec.labels) out[key] = value;
  return out;
}

}  // namespace

Result<DockerCreate> docker_create_body(const DockerTaskSpec& spec) {
  auto docker_spec = read_docker(spec.container);
  if (!docker_spec) return docker_spec.error();
  const model::DockerSpec& docker = **docker_spec;
  const std::string& image = docker.image;

  Build build;
  build.config["Image"] = image;
  build.config["Tty"] = false;
  add_command(spec, build);
  if (auto status = add_network(spec, build); !status) return status.error();
  add_resources(spec, build);
  // Before the parameters: `docker run --user` in them is the more specific choice.
  if (!spec.user.empty()) build.config["User"] = spec.user;
  build.host["Privileged"] = docker.privileged;
  if (docker.force_pull_image) {
    build.out.warnings.push_back(
        "forcePullImage ignored: no registry is reachable from this node; using the local image " +
        image);
  }
  if (auto status = add_container_volumes(spec, build); !status) return status.error();
  auto parameters = read_parameters(docker);
  if (!parameters) return parameters.error();
  if (auto status = add_parameters(spec, *parameters, build); !status) return status.error();
  if (auto status = add_bind_mounts(spec, build); !status) return status.error();
  if (auto status = check_root(spec, build); !status) return status.error();

  build.config["Env"] = environment(spec, build);
  build.config["Labels"] = labels(spec, build);
  if (!build.binds.empty()) build.host["Binds"] = std::move(build.binds);
  if (!build.mounts.empty()) build.host["Mounts"] = std::move(build.mounts);
  build.host["RestartPolicy"] = {{"Name", "no"}};
  build.config["HostConfig"] = std::move(build.host);
  // Replacing invalid UTF-8 (say, in an environment value) keeps dump() from throwing.
  build.out.body_json = build.config.dump(-1, ' ', false, json::error_handler_t::replace);
  return std::move(build.out);
}

}  // namespace berth
