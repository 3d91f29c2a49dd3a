// The Docker Engine API wire formats (docker/docker_wire.h): the answers DockerClient reads
// from dockerd, and its multiplexed log stream. The first byte picks the parser ('0' to '7'
// in the seeds); the rest is the answer.
#include <string>

#include "docker/docker_client.h"
#include "docker/docker_wire.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth;
  if (size == 0) return 0;
  std::string body(fuzz::as_text(data + 1, size - 1));
  switch (data[0] % 8) {
    case 0: {
      std::optional<std::string> version = docker::negotiate_api_version(body);
      if (version)
        fuzz::require(docker::negotiate_api_version(*version) == version,
                      "a negotiated version is stable");
      break;
    }
    case 1: {
      std::string message = docker::docker_error_message(404, body);
      fuzz::require(!message.empty(), "an error message is never empty");
      break;
    }
    case 2:
      (void)docker::parse_create_answer(body);
      break;
    case 3:
      (void)docker::parse_inspect_answer(body);
      break;
    case 4:
      (void)docker::parse_list_answer(body);
      break;
    case 5:
      (void)docker::parse_wait_answer(body);
      break;
    case 6:
      (void)docker::exit_code_from_status_text(body);
      break;
    case 7: {
      // The stream arrives in pieces whose size the stream's first byte sets.
      size_t piece = body.empty() ? 1 : 1 + static_cast<unsigned char>(body[0]) % 16;
      docker::LogDemuxer demuxer;
      size_t delivered = 0;
      auto sink = [&](int stream, std::string_view payload) {
        fuzz::require(stream == 1 || stream == 2, "log output goes to stdout or stderr");
        delivered += payload.size();
        return true;
      };
      for (size_t at = 0; at < body.size(); at += piece) {
        demuxer.feed(std::string_view(body).substr(at, piece), sink);
      }
      fuzz::require(delivered <= body.size(), "the demuxer delivers no more than it got");
      std::string out, err, rest;
      docker::demux_logs(body, &out, &err, &rest);
      fuzz::require(out.size() + err.size() + rest.size() <= body.size(),
                    "demux_logs keeps no more than it got");
      break;
    }
  }
  return 0;
}
