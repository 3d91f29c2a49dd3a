// DockerClient: the Docker Engine API over its unix socket (docs/architecture.md §7,
// docs/compatibility.md §5), the part the agent's Docker executor needs: version
// negotiation, create/start/kill/remove/inspect/list/wait of containers, logs and image
// inspection. Every call opens its own connection, so calls may run concurrently from any
// thread and a long wait() never holds up anything else.
//
// Errors carry Docker's own message ({"message": ...}) so that the user sees what Docker said:
// kNotFound for 404 (no such container / image), kConflict for 409, kInvalidArgument for 400,
// kUnavailable when the socket does not answer, kInternal for anything else.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::docker {

// The newest Engine API version berth speaks; older daemons are used at their own version.
inline constexpr const char* kMaxApiVersion = "1.41";

struct ContainerState {
  std::string id;
  std::string name;    // without the leading "/"
  std::string image;   // as given at create
  std::string status;  // created, running, paused, restarting, removing, exited, dead
  bool running = false;
  int pid = 0;  // host pid of the container's init; 0 when not running
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;                    // State.Error, e.g. why a start failed
  std::string started_at, finished_at;  // RFC 3339 as Docker gives them
  std::map<std::string, std::string> labels;
  // "8080/tcp" -> host ports bound for it (from NetworkSettings.Ports; inspect only)
  std::map<std::string, std::vector<uint32_t>> host_ports;
};

struct WaitResult {
  int status_code = 0;
  std::string error;  // Docker's Error.Message, when it gave one
};

// Splits Docker's multiplexed log stream (8-byte headers: stream 1 = stdout, 2 = stderr, then
// a big-endian uint32 length) into stdout and stderr. Bytes of an incomplete last frame are
// left in `*rest` (when given) so a streaming reader can prepend them to the next chunk.
void demux_logs(const std::string& stream, std::string* out, std::string* err,
                std::string* rest = nullptr);

class DockerClient {
 public:
  explicit DockerClient(std::string socket_path = "/var/run/docker.sock");

  // GET /_ping, then uses min(kMaxApiVersion, the daemon's Api-Version) as the path prefix of
  // every later call. kUnavailable (naming the socket) when Docker does not answer.
  Status connect();
  std::string api_version() const;  // e.g. "1.41"; empty before connect()
  const std::string& socket_path() const { return socket_path_; }

  // POST /containers/create?name=NAME with `body_json` (the Engine API's create body).
  // Returns the container id. kNotFound when the image does not exist ("No such image: ...").
  // kConflict when the name is taken.
  Result<std::string> create_container(const std::string& name, const std::string& body_json);
  // POST /containers/{id}/start; an already running container is fine. kInternal with
  // Docker's message when the start fails (e.g. the command is not found, a volume mount fails).
  Status start_container(const std::string& id);
  // POST /containers/{id}/kill?signal=SIG (e.g. "SIGTERM", "SIGKILL"). kConflict when it is not
  // running, kNotFound when it does not exist.
  Status kill_container(const std::string& id, const std::string& signal);
  // DELETE /containers/{id}?force=1 (kills first when running). kNotFound when it is gone.
  Status remove_container(const std::string& id);
  Result<ContainerState> inspect_container(const std::string& id);
  // GET /containers/json?all=1 with a label filter ("key" or "key=value"; empty: all).
  // host_ports is not filled here.
  Result<std::vector<ContainerState>> list_containers(const std::string& label_filter);
  // POST /containers/{id}/wait?condition=not-running: blocks until the container is not
  // running (at once when it is not) or `timeout` passes (kUnavailable).
  Result<WaitResult> wait_container(const std::string& id, std::chrono::milliseconds timeout);
  // GET /containers/{id}/logs?stdout=1&stderr=1: everything the container wrote so far,
  // demultiplexed (containers are created without a TTY).
  Status logs(const std::string& id, std::string* out, std::string* err);
  // The same with follow=1: calls `chunk(stream, data)` (stream 1 = stdout, 2 = stderr) as
  // output arrives until the container stops, `chunk` returns false, or `timeout` passes.
  Status follow_logs(const std::string& id,
                     const std::function<bool(int, const std::string&)>& chunk,
                     std::chrono::milliseconds timeout);
  // GET /images/{name}/json: true when the image exists locally, false on 404.
  Result<bool> image_exists(const std::string& image);

 private:
  std::string socket_path_;
  std::string prefix_;  // "/v1.41"
};

}  // namespace berth::docker
