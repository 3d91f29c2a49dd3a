// The Docker Engine API's wire formats, without any I/O: version negotiation, the JSON bodies
// DockerClient reads (create, inspect, list, wait, errors), the label filter of a list, and the
// multiplexed log stream. docker_client.cpp is the only production user; the unit tests check
// these against bodies captured from the daemon (Docker 20.10.24, API 1.41).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "docker/docker_client.h"

namespace berth::docker {

// The largest answer body DockerClient reads, and so the largest JSON answer parsed here.
inline constexpr size_t kMaxAnswerBytes = size_t{64} << 20;

// min(kMaxApiVersion, daemon_version), both "major.minor" compared as numbers ("1.9" < "1.41").
// nullopt when `daemon_version` is not of that form.
std::optional<std::string> negotiate_api_version(const std::string& daemon_version);

// Which error code a failed Docker call gets: 404 kNotFound, 409 kConflict, 400
// kInvalidArgument, anything else kInternal.
ErrorCode error_code_for_status(int http_status);

// Docker's own words from an error body: the "message" of {"message": ...}, else the body
// itself (trimmed; old daemons answer some errors in plain text), else "HTTP <status>".
std::string docker_error_message(int http_status, const std::string& body);

// The query of GET /containers/json: "all=1", plus a URL-encoded
// filters={"label":["<label_filter>"]} when the filter is not empty.
std::string list_containers_query(const std::string& label_filter);

// The "Id" of a create answer.
Result<std::string> parse_create_answer(const std::string& body);
// GET /containers/{id}/json, host_ports included (each port once, though Docker lists it for
// both 0.0.0.0 and ::).
Result<ContainerState> parse_inspect_answer(const std::string& body);
// GET /containers/json. The list has no pid, OOM flag or timestamps; exit_code comes from the
// "Exited (N) ..." status text.
Result<std::vector<ContainerState>> parse_list_answer(const std::string& body);
// POST /containers/{id}/wait: {"Error":null|{"Message":...},"StatusCode":N}.
Result<WaitResult> parse_wait_answer(const std::string& body);

// The exit code in a list entry's Status text ("Exited (137) 2 seconds ago"), or 0.
int exit_code_from_status_text(const std::string& status_text);

// Demultiplexes a log stream that arrives in pieces of any size, without buffering whole
// frames: each payload byte goes to the sink as soon as it arrives, so a huge frame costs no
// memory. Stream 0 (stdin) is reported as stdout and 3 (Docker's own error) as stderr. Output
// that is not multiplexed at all (a container with a TTY) is passed through as stdout from the
// first header that cannot be one.
class LogDemuxer {
 public:
  // Returns false to stop; feed() then returns false too and drops the rest of `data`.
  using Sink = std::function<bool(int stream, std::string_view data)>;

  bool feed(std::string_view data, const Sink& sink);

 private:
  std::string header_;      // bytes of a frame header received so far (< 8)
  uint32_t remaining_ = 0;  // payload bytes of the current frame still to come
  int stream_ = 1;
  bool raw_ = false;
};

}  // namespace berth::docker
