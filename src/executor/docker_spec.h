// The Docker Engine API create body of a task (docs/compatibility.md §2.2): how a Marathon app with
// container.type DOCKER becomes `POST /containers/create`, as Marathon passes it to
// `docker run`. Pure (no I/O); the Docker executor sends the result with docker::DockerClient.
//
// What is mapped:
//   - container.docker.image; `cmd` as ["/bin/sh", "-c", cmd] with an empty Entrypoint (a shell
//     command replaces the image's entrypoint, as Mesos's `--entrypoint /bin/sh` did), else
//     `args` as Cmd (the image's entrypoint stays), else the image's own command; the task's
//     whole environment (Marathon's variables included); labels. Tty is off, RestartPolicy "no"
//     (the agent restarts nothing; Marathon replaces tasks).
//   - networks: host (or none given) -> NetworkMode "host"; container/bridge -> "bridge" with
//     PortBindings for every portMappings entry (containerPort/protocol -> the task's host port,
//     containerPort 0 meaning the host port, "udp,tcp" binds both); container -> the network
//     named in `networks[0].name` ("none" for Docker's none, which publishes nothing), binding
//     the mappings that have a hostPort when the agent passed host ports.
//   - cpus -> NanoCpus, mem -> Memory (MiB), each omitted when 0 and raised to Docker's minimum
//     (0.01 CPU, 6 MiB) with a warning; container.docker.privileged; the app's `user` -> User
//     (resolved by Docker in the image; omitted when unset, so the image's user applies).
//   - container.docker.parameters, as `docker run --KEY VALUE`: volume-driver, volume (v),
//     env (e), label (l), hostname (h), user (u), workdir (w), entrypoint, init, cap-add,
//     cap-drop, add-host, dns, read-only, tmpfs, stop-signal. Any other key is an error naming it.
//     A `user` parameter overrides the app's `user`. An `env` parameter overrides the task's
//     variable of that name; a `label` parameter loses to the task's label of that key (berth
//     finds its containers by its labels), with a warning. For single-valued keys the last one
//     given wins, as with docker run.
//   - container.volumes: external dvdi volumes of the berth driver ("berth" or "flocker", or no
//     dvdi/driver) become HostConfig.Mounts of the plugin `volume_driver`, and parameters'
//     `volume-driver=berth|flocker` with `volume` NAME:PATH[:MODE] become Binds with VolumeDriver
//     `volume_driver`; either way the Docker volume name is volume_prefix + dataset name. A
//     `volume` whose source is an absolute path is a bind mount; with another volume-driver the
//     parameters pass through unchanged. Host volumes (absolute hostPath) and the agent's own
//     mounts (`bind_mounts`) become bind mounts. Persistent volumes are skipped: the agent
//     attaches them and passes them in `bind_mounts`.
//   - container.docker.forcePullImage: accepted with a warning, since no registry is reachable.
//
// The container's shape (types, port numbers, protocols, network modes) was checked when
// model::parse_container_spec read it; what is checked here is what Docker can run. Errors are
// kInvalidArgument, naming the field path the user wrote, e.g.
// "container.docker.parameters[2] (volume): ...", "container.portMappings[1].protocol: ...".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/container.h"

namespace berth {

struct DockerTaskSpec {
  std::string task_id;
  model::ContainerSpec container;            // the app's `container` (type DOCKER)
  std::vector<model::NetworkSpec> networks;  // the app's `networks`; empty: host networking
  std::optional<std::string> cmd;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;     // the task's complete environment
  std::map<std::string, std::string> labels;  // the app's labels plus berth's own
  double cpus = 0;
  double mem_mib = 0;
  std::string user;  // the app's `user`; empty: the image's
  // False on an agent without --allow-root-tasks: a container that would be root on the host
  // (User root or 0 after the `user` parameter, privileged, added capabilities) is refused.
  bool allow_root = true;
  // The host port of each portMappings entry that publishes one, in the order of
  // container.portMappings: every entry in bridge networking, those with a hostPort in container
  // networking (where empty means publish nothing). Empty in host networking.
  std::vector<uint32_t> host_ports;
  // The volume plugin berth volumes use on this agent ("berth" when the agent serves
  // /run/docker/plugins/berth.sock) and the prefix that turns a dataset name into this plugin's
  // Docker volume name ("" normally; several agents sharing one dockerd use distinct ones).
  // An app with berth volumes cannot run when volume_driver is empty.
  std::string volume_driver = "berth";
  std::string volume_prefix;
  // host path -> container path, e.g. local persistent volumes the agent attached itself.
  // Both must be absolute.
  std::vector<std::pair<std::string, std::string>> bind_mounts;
};

struct DockerCreate {
  std::string body_json;  // the create body
  std::vector<std::string>
      warnings;  // e.g. forcePullImage ignored; shown in the task's status message
  // Docker volume names (prefix included) the container mounts through the berth plugin.
  std::vector<std::string> plugin_volumes;
};

// kInvalidArgument naming the field for what cannot be run: no image, an unsupported
// parameter, a malformed parameter value, a port mapping without a host port in bridge mode,
// an external volume of another driver, a relative host or container path, two mounts at one
// container path, a container network without a name. No `networks` means host networking
// (Marathon's default).
Result<DockerCreate> docker_create_body(const DockerTaskSpec& spec);

}  // namespace berth
