// DockerClient over http/'s unix-socket client (http/http.h): one connection per call, one
// deadline for the whole call. The JSON and log formats live in docker_wire.cpp.
#include "docker/docker_client.h"

#include <sys/un.h>

#include "docker/docker_wire.h"
#include "http/http.h"

namespace berth::docker {
namespace {

// Every call but wait and follow: generous next to create (~25 ms) and start (~0.7 s), but a
// daemon that hangs cannot hold a caller forever.
constexpr std::chrono::milliseconds kCallTimeout = std::chrono::seconds(30);
// Bounds what one answer may make us hold in memory (the logs of a chatty container included).
constexpr size_t kMaxBodyBytes = kMaxAnswerBytes;
constexpr size_t kMaxHeaderBytes = 64 << 10;

struct Reply {
  int status = 0;
  std::string api_version;  // the Api-Version header
  std::string body;
};

http::UnixRequest docker_request(const std::string& method, const std::string& target,
                                 const std::string& body, std::chrono::milliseconds timeout) {
  http::UnixRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  // Docker's Go server rejects HTTP/1.1 without a Host; the docker CLI sends a dummy one too.
  request.host = "docker";
  request.timeout = timeout;
  request.max_header_bytes = kMaxHeaderBytes;
  request.max_response_bytes = kMaxBodyBytes;
  return request;
}

Status check_socket_path(const std::string& op, const std::string& socket_path) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      op + ": the Docker socket path '" + socket_path + "' must be 1 to " +
                          std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
  }
  return {};
}

// What went wrong in a call, for the user. `step` overrides the step's own name.
Error failure(const std::string& op, const std::string& socket_path,
              std::chrono::milliseconds timeout, const http::UnixFailure& failure,
              std::string step = "") {
  using Kind = http::UnixFailure::Kind;
  using Step = http::UnixFailure::Step;
  if (failure.kind == Kind::kException)
    return make_error(ErrorCode::kInternal, op + ": " + failure.reason);
  if (failure.step == Step::kConnect) {
    return make_error(
        ErrorCode::kUnavailable,
        op + ": Docker does not answer on " + socket_path + " (" +
            (failure.kind == Kind::kTimedOut ? std::string("connect timed out") : failure.reason) +
            "); is dockerd running, and may this process use its socket?");
  }
  if (step.empty()) {
    step = failure.step == Step::kSend      ? "sending the request"
           : failure.step == Step::kReceive ? "reading the answer"
                                            : "reading the log stream";
  }
  if (failure.kind == Kind::kTimedOut) {
    return make_error(ErrorCode::kUnavailable,
                      op + ": Docker on " + socket_path + " did not answer within " +
                          std::to_string(timeout.count()) + " ms (" + step + ")");
  }
  if (failure.kind == Kind::kTooLarge) {
    return make_error(ErrorCode::kInternal, op + ": Docker's answer is larger than the " +
                                                std::to_string(kMaxBodyBytes >> 20) +
                                                " MiB this client accepts");
  }
  return make_error(ErrorCode::kUnavailable,
                    op + ": " + step + " on " + socket_path + " failed: " + failure.reason);
}

Error docker_error(const std::string& op, const Reply& reply) {
  return make_error(error_code_for_status(reply.status),
                    op + ": " + docker_error_message(reply.status, reply.body));
}

Status require_id(const std::string& op, const std::string& id) {
  if (id.empty()) return make_error(ErrorCode::kInvalidArgument, op + ": empty container id");
  return {};
}

}  // namespace

DockerClient::DockerClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

std::string DockerClient::api_version() const {
  return prefix_.size() > 2 ? prefix_.substr(2) : std::string();
}

namespace {

// One request and its whole answer; `*timed_out` (when given) tells a call that ran out of
// time from one that could not reach Docker.
Result<Reply> call(const std::string& socket_path, const std::string& op, const std::string& method,
                   const std::string& target, const std::string& body,
                   std::chrono::milliseconds timeout, bool* timed_out = nullptr) {
  if (Status path_ok = check_socket_path(op, socket_path); !path_ok) return path_ok.error();
  http::UnixAnswer answer =
      http::unix_request(socket_path, docker_request(method, target, body, timeout));
  if (timed_out) {
    *timed_out = answer.failure && answer.failure->kind == http::UnixFailure::Kind::kTimedOut;
  }
  if (answer.failure) return failure(op, socket_path, timeout, *answer.failure);
  Reply reply;
  reply.status = answer.response.status;
  if (auto it = answer.response.headers.find("api-version"); it != answer.response.headers.end()) {
    reply.api_version = it->second;
  }
  reply.body = std::move(answer.response.body);
  return reply;
}

}  // namespace

Status DockerClient::connect() {
  const std::string op = "docker ping";
  auto reply = call(socket_path_, op, "GET", "/_ping", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) {
    return make_error(ErrorCode::kUnavailable,
                      op + ": Docker on " + socket_path_ +
                          " is not ready: " + docker_error_message(reply->status, reply->body));
  }
  std::optional<std::string> version = negotiate_api_version(reply->api_version);
  if (!version) {
    return make_error(ErrorCode::kInternal, op + ": Docker on " + socket_path_ +
                                                " sent no usable Api-Version header (got '" +
                                                reply->api_version + "')");
  }
  prefix_ = "/v" + *version;
  return {};
}

Result<std::string> DockerClient::create_container(const std::string& name,
                                                   const std::string& body_json) {
  const std::string op = "docker create";
  std::string target = prefix_ + "/containers/create";
  if (!name.empty()) target += "?name=" + http::percent_encode(name);
  auto reply = call(socket_path_, op, "POST", target, body_json, kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 201 && reply->status != 200) return docker_error(op, *reply);
  return parse_create_answer(reply->body);
}

Status DockerClient::start_container(const std::string& id) {
  const std::string op = "docker start";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply =
      call(socket_path_, op, "POST", prefix_ + "/containers/" + http::percent_encode(id) + "/start",
           "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204 || reply->status == 304) return {};
  Error error = docker_error(op, *reply);
  // A start the runtime refuses comes back as 400 (command not found) or 500 (a mount failed);
  // both are a failed start to our callers, not a bad request of ours.
  if (error.code == ErrorCode::kInvalidArgument) error.code = ErrorCode::kInternal;
  return error;
}

Status DockerClient::kill_container(const std::string& id, const std::string& signal) {
  const std::string op = "docker kill";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply = call(socket_path_, op, "POST",
                    prefix_ + "/containers/" + http::percent_encode(id) +
                        "/kill?signal=" + http::percent_encode(signal),
                    "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204) return {};
  return docker_error(op, *reply);
}

Status DockerClient::remove_container(const std::string& id) {
  const std::string op = "docker rm";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply =
      call(socket_path_, op, "DELETE",
           prefix_ + "/containers/" + http::percent_encode(id) + "?force=1", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 204) return {};
  return docker_error(op, *reply);
}

Result<ContainerState> DockerClient::inspect_container(const std::string& id) {
  const std::string op = "docker inspect";
  if (Status ok = require_id(op, id); !ok) return ok.error();
  auto reply =
      call(socket_path_, op, "GET", prefix_ + "/containers/" + http::percent_encode(id) + "/json",
           "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_inspect_answer(reply->body);
}

Result<std::vector<ContainerState>> DockerClient::list_containers(const std::string& label_filter) {
  const std::string op = "docker ps";
  auto reply =
      call(socket_path_, op, "GET",
           prefix_ + "/containers/json?" + list_containers_query(label_filter), "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_list_answer(reply->body);
}

Result<WaitResult> DockerClient::wait_container(const std::string& id,
                                                std::chrono::milliseconds timeout) {
  const std::string op = "docker wait";
  if (Status ok = require_id(op, id); !ok) return ok.error();
  bool timed_out = false;
  auto reply =
      call(socket_path_, op, "POST",
           prefix_ + "/containers/" + http::percent_encode(id) + "/wait?condition=not-running", "",
           timeout, &timed_out);
  if (!reply && timed_out) {
    return make_error(ErrorCode::kUnavailable, op + ": container " + id + " did not stop within " +
                                                   std::to_string(timeout.count()) + " ms");
  }
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  return parse_wait_answer(reply->body);
}

Status DockerClient::logs(const std::string& id, std::string* out, std::string* err) {
  const std::string op = "docker logs";
  if (Status ok = require_id(op, id); !ok) return ok;
  auto reply = call(socket_path_, op, "GET",
                    prefix_ + "/containers/" + http::percent_encode(id) + "/logs?stdout=1&stderr=1",
                    "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status != 200) return docker_error(op, *reply);
  if (out) out->clear();
  if (err) err->clear();
  demux_logs(reply->body, out, err);
  return {};
}

Status DockerClient::follow_logs(const std::string& id,
                                 const std::function<bool(int, const std::string&)>& chunk,
                                 std::chrono::milliseconds timeout) {
  const std::string op = "docker logs --follow";
  if (Status ok = require_id(op, id); !ok) return ok;
  if (Status path_ok = check_socket_path(op, socket_path_); !path_ok) return path_ok;
  std::string target =
      prefix_ + "/containers/" + http::percent_encode(id) + "/logs?stdout=1&stderr=1&follow=1";
  LogDemuxer demuxer;
  LogDemuxer::Sink sink = [&](int stream, std::string_view data) {
    return chunk(stream, std::string(data));
  };
  http::UnixAnswer answer =
      http::unix_stream(socket_path_, docker_request("GET", target, "", timeout),
                        [&](std::string_view data) { return demuxer.feed(data, sink); });
  const int status = answer.response.status;
  if (answer.failure) {
    using Kind = http::UnixFailure::Kind;
    using Step = http::UnixFailure::Step;
    const http::UnixFailure& failed = *answer.failure;
    if (failed.kind == Kind::kTimedOut) {
      // Docker 20.10 sends no headers until the container writes something, so a silent
      // container and the end of the caller's time look alike: both end the follow. Following
      // ends when the caller's time is up: what arrived until then is the result.
      if (failed.step == Step::kReceive || (failed.step == Step::kStream && status == 200)) {
        return {};
      }
      if (failed.step == Step::kStream) {
        return failure(op, socket_path_, timeout, failed, "reading the answer");
      }
    }
    return failure(op, socket_path_, timeout, failed);
  }
  if (status != 200) return docker_error(op, Reply{status, "", answer.response.body});
  return {};
}

Result<bool> DockerClient::image_exists(const std::string& image) {
  const std::string op = "docker image inspect";
  if (image.empty()) return make_error(ErrorCode::kInvalidArgument, op + ": empty image name");
  // Docker routes /images/{name:.*}/json on the decoded path, so "berth/busybox" may be encoded
  // whole.
  auto reply = call(socket_path_, op, "GET",
                    prefix_ + "/images/" + http::percent_encode(image) + "/json", "", kCallTimeout);
  if (!reply) return reply.error();
  if (reply->status == 200) return true;
  if (reply->status == 404) return false;
  return docker_error(op, *reply);
}

}  // namespace berth::docker
