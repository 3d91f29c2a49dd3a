// DockerClient without Docker: the wire formats (log demultiplexing, JSON answers captured from
// Docker 20.10.24, version negotiation, filters) and the transport against a scripted stand-in
// socket (errors, deadlines, streaming). tests/e2e/docker_client_e2e_test.cpp runs it against
// the real daemon.
#include "docker/docker_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "docker/docker_wire.h"
#include "http/http.h"

namespace berth::docker {
namespace {

std::string frame(int stream, const std::string& payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  return out + payload;
}

// stdout and stderr interleaved, an empty frame of each, binary bytes and a frame whose length
// needs more than one byte.
struct Sample {
  std::string stream;
  std::string out, err;
  std::vector<std::pair<int, std::string>> frames;  // non-empty frames, in order
};

Sample sample() {
  Sample s;
  std::string big(300, 'x');
  big[0] = '\0';
  big[299] = '\n';
  std::vector<std::pair<int, std::string>> frames = {
      {1, "out line\n"}, {2, "err line\n"}, {1, ""},           {2, std::string("\0\1\2", 3)},
      {1, big},          {2, ""},           {1, "last out\n"}, {2, "last err\n"}};
  for (const auto& [stream, payload] : frames) {
    s.stream += frame(stream, payload);
    (stream == 1 ? s.out : s.err) += payload;
    if (!payload.empty()) s.frames.push_back({stream, payload});
  }
  return s;
}

TEST(DemuxLogs, SplitsStdoutAndStderr) {
  Sample s = sample();
  std::string out, err, rest = "stale";
  demux_logs(s.stream, &out, &err, &rest);
  EXPECT_EQ(out, s.out);
  EXPECT_EQ(err, s.err);
  EXPECT_EQ(rest, "");
}

TEST(DemuxLogs, CarriesAFrameSplitAtAnyByteIntoTheNextChunk) {
  Sample s = sample();
  for (size_t cut = 0; cut <= s.stream.size(); ++cut) {
    std::string out, err, rest;
    demux_logs(s.stream.substr(0, cut), &out, &err, &rest);
    EXPECT_LE(rest.size(), 8u + 300u) << "cut at " << cut;
    demux_logs(rest + s.stream.substr(cut), &out, &err, &rest);
    EXPECT_EQ(out, s.out) << "cut at " << cut;
    EXPECT_EQ(err, s.err) << "cut at " << cut;
    EXPECT_EQ(rest, "") << "cut at " << cut;
  }
}

TEST(DemuxLogs, HandlesTheStreamOneByteAtATime) {
  Sample s = sample();
  std::string out, err, rest;
  for (char c : s.stream) demux_logs(rest + c, &out, &err, &rest);
  EXPECT_EQ(out, s.out);
  EXPECT_EQ(err, s.err);
  EXPECT_EQ(rest, "");
}

TEST(DemuxLogs, LeavesExactlyTheIncompleteLastFrameInRest) {
  std::string complete = frame(1, "a\n");
  std::string partial = frame(2, "bcdef").substr(0, 10);
  std::string out, err, rest;
  demux_logs(complete + partial, &out, &err, &rest);
  EXPECT_EQ(out, "a\n");
  EXPECT_EQ(err, "");
  EXPECT_EQ(rest, partial);
  // Without `rest` the incomplete frame is dropped, not delivered half.
  std::string out2, err2;
  demux_logs(complete + partial, &out2, &err2);
  EXPECT_EQ(out2, "a\n");
  EXPECT_EQ(err2, "");
}

TEST(DemuxLogs, AcceptsANullStreamAndMapsStdinAndSystemErrors) {
  std::string err;
  demux_logs(frame(0, "in\n") + frame(1, "out\n") + frame(3, "daemon error\n"), nullptr, &err);
  EXPECT_EQ(err, "daemon error\n");
  std::string out;
  demux_logs(frame(0, "in\n") + frame(1, "out\n"), &out, nullptr);
  EXPECT_EQ(out, "in\nout\n");
}

TEST(DemuxLogs, PassesOutputThatIsNotMultiplexedThroughAsStdout) {
  std::string out, err, rest;
  demux_logs("plain tty output\n", &out, &err, &rest);
  EXPECT_EQ(out, "plain tty output\n");
  EXPECT_EQ(err, "");
  EXPECT_EQ(rest, "");
}

// What a LogDemuxer delivered: consecutive pieces of one stream merged.
struct Collected {
  std::vector<std::pair<int, std::string>> frames;
  LogDemuxer::Sink sink() {
    return [this](int stream, std::string_view data) {
      EXPECT_FALSE(data.empty());
      if (!frames.empty() && frames.back().first == stream) {
        frames.back().second.append(data);
      } else {
        frames.push_back({stream, std::string(data)});
      }
      return true;
    };
  }
};

// Adjacent frames of the same stream merge in Collected; so must the expectation.
std::vector<std::pair<int, std::string>> merged(std::vector<std::pair<int, std::string>> frames) {
  std::vector<std::pair<int, std::string>> out;
  for (auto& [stream, payload] : frames) {
    if (!out.empty() && out.back().first == stream) {
      out.back().second += payload;
    } else {
      out.push_back({stream, payload});
    }
  }
  return out;
}

TEST(LogDemuxer, DeliversEveryByteInOrderWhereverTheChunksAreCut) {
  Sample s = sample();
  for (size_t first = 0; first <= s.stream.size(); ++first) {
    for (size_t second = first; second <= s.stream.size(); second += 7) {
      LogDemuxer demuxer;
      Collected got;
      ASSERT_TRUE(demuxer.feed(std::string_view(s.stream).substr(0, first), got.sink()));
      ASSERT_TRUE(
          demuxer.feed(std::string_view(s.stream).substr(first, second - first), got.sink()));
      ASSERT_TRUE(demuxer.feed(std::string_view(s.stream).substr(second), got.sink()));
      ASSERT_EQ(got.frames, merged(s.frames)) << "cuts at " << first << " and " << second;
    }
  }
}

TEST(LogDemuxer, DeliversAFramesBytesBeforeTheFrameIsComplete) {
  LogDemuxer demuxer;
  Collected got;
  std::string f = frame(2, "hello world\n");
  ASSERT_TRUE(demuxer.feed(std::string_view(f).substr(0, 13), got.sink()));
  ASSERT_EQ(got.frames, (std::vector<std::pair<int, std::string>>{{2, "hello"}}));
}

TEST(LogDemuxer, StopsWhenTheSinkSaysSo) {
  LogDemuxer demuxer;
  int calls = 0;
  bool more = demuxer.feed(frame(1, "a") + frame(2, "b") + frame(1, "c"),
                           [&](int, std::string_view) { return ++calls < 2; });
  EXPECT_FALSE(more);
  EXPECT_EQ(calls, 2);
}

TEST(LogDemuxer, PassesATtyStreamThroughAsStdout) {
  LogDemuxer demuxer;
  Collected got;
  ASSERT_TRUE(demuxer.feed("$ ", got.sink()));
  ASSERT_TRUE(demuxer.feed("ls -l\r\n", got.sink()));
  ASSERT_TRUE(demuxer.feed(frame(2, "looks like a frame"), got.sink()));
  ASSERT_EQ(got.frames.size(), 1u);
  EXPECT_EQ(got.frames[0].first, 1);
  EXPECT_EQ(got.frames[0].second, "$ ls -l\r\n" + frame(2, "looks like a frame"));
}

TEST(ApiVersion, TakesTheLowerOfOursAndTheDaemonsComparedAsNumbers) {
  EXPECT_EQ(negotiate_api_version("1.41"), "1.41");
  EXPECT_EQ(negotiate_api_version("1.43"), "1.41");
  EXPECT_EQ(negotiate_api_version("2.0"), "1.41");
  EXPECT_EQ(negotiate_api_version("1.40"), "1.40");
  EXPECT_EQ(negotiate_api_version("1.9"), "1.9");  // older than 1.41, though "1.9" > "1.41" as text
  EXPECT_EQ(negotiate_api_version(""), std::nullopt);
  EXPECT_EQ(negotiate_api_version("1."), std::nullopt);
  EXPECT_EQ(negotiate_api_version("1.41.2"), std::nullopt);
  EXPECT_EQ(negotiate_api_version("v1.41"), std::nullopt);
}

TEST(DockerErrors, MapStatusesAndKeepDockersMessage) {
  EXPECT_EQ(error_code_for_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(error_code_for_status(409), ErrorCode::kConflict);
  EXPECT_EQ(error_code_for_status(400), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_for_status(500), ErrorCode::kInternal);
  EXPECT_EQ(docker_error_message(404, "{\"message\":\"No such image: nope:latest\"}\n"),
            "No such image: nope:latest");
  EXPECT_EQ(docker_error_message(400, "client version 1.2 is too old\n"),
            "client version 1.2 is too old");
  EXPECT_EQ(docker_error_message(500, ""), "HTTP 500");
}

TEST(ListQuery, EncodesTheLabelFilterAsDockerExpects) {
  EXPECT_EQ(list_containers_query(""), "all=1");
  std::string query = list_containers_query("berth.task=web.1 \"x\"");
  ASSERT_EQ(query.rfind("all=1&filters=", 0), 0u);
  std::string encoded = query.substr(std::string("all=1&filters=").size());
  EXPECT_EQ(encoded.find_first_of(" \"{}[]=&"), std::string::npos) << encoded;
  auto filters = nlohmann::json::parse(http::percent_decode(encoded));
  EXPECT_EQ(filters, nlohmann::json::parse(R"({"label":["berth.task=web.1 \"x\""]})"));
}

// Trimmed from GET /v1.41/containers/{id}/json on Docker 20.10.24.
constexpr const char* kInspectRunning = R"({
  "Id": "370422d4e9ef026c2a81b85c1888104a531f33c6653182b6b181d19ed3021d55",
  "Path": "sh", "Args": ["-c", "echo out; echo err >&2; sleep 30"],
  "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false, "Pid": 15780, "ExitCode": 0, "Error": "",
            "StartedAt": "2026-11-23T21:05:10.3864739Z", "FinishedAt": "0001-01-01T00:00:00Z"},
  "Image": "sha256:7a2e7559cab6e3397f50a25080cb67bc8522a0df93447b2338c0b5a0a5ea5a89",
  "Name": "/probe-z",
  "Config": {"Image": "berth/busybox", "Env": ["PATH=/bin"],
             "Labels": {"org.berth.busybox-version": "v1.35.0", "probe.k": "v1"},
             "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}}},
  "NetworkSettings": {"Ports": {
      "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "::", "HostPort": "32768"}],
      "9090/udp": null}}
})";

TEST(InspectAnswer, ReadsStateLabelsAndEachHostPortOnce) {
  auto state = parse_inspect_answer(kInspectRunning);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->id, "370422d4e9ef026c2a81b85c1888104a531f33c6653182b6b181d19ed3021d55");
  EXPECT_EQ(state->name, "probe-z");
  EXPECT_EQ(state->image, "berth/busybox");
  EXPECT_EQ(state->status, "running");
  EXPECT_TRUE(state->running);
  EXPECT_EQ(state->pid, 15780);
  EXPECT_EQ(state->started_at, "2026-11-23T21:05:10.3864739Z");
  EXPECT_EQ(state->labels.at("probe.k"), "v1");
  using Ports = std::map<std::string, std::vector<uint32_t>>;
  EXPECT_EQ(state->host_ports, (Ports{{"8080/tcp", {32768}}}));
}

TEST(InspectAnswer, ReadsAFailedStartAndToleratesNulls) {
  auto state = parse_inspect_answer(R"({"Id":"526d","Name":"/probe-y",
    "State":{"Status":"created","Running":false,"OOMKilled":true,"Pid":0,"ExitCode":127,
             "Error":"exec: \"/nonexistent-bin\": stat /nonexistent-bin: no such file or directory",
             "StartedAt":"0001-01-01T00:00:00Z","FinishedAt":null},
    "Config":{"Image":"berth/busybox","Labels":null},"NetworkSettings":{"Ports":{}}})");
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->status, "created");
  EXPECT_FALSE(state->running);
  EXPECT_TRUE(state->oom_killed);
  EXPECT_EQ(state->exit_code, 127);
  EXPECT_NE(state->error.find("no such file or directory"), std::string::npos);
  EXPECT_EQ(state->finished_at, "");
  EXPECT_TRUE(state->labels.empty());
  EXPECT_TRUE(state->host_ports.empty());
}

TEST(InspectAnswer, RejectsWhatIsNotAnObject) {
  auto state = parse_inspect_answer("[1,2]");
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(parse_inspect_answer("{truncated").ok());
}

TEST(ListAnswer, ReadsNamesStatesLabelsAndExitCodes) {
  // Trimmed from GET /v1.41/containers/json?all=1. "Image" is an image id once the tag that
  // created the container has moved to a newer image.
  auto list = parse_list_answer(R"([
    {"Id":"3704","Names":["/probe-z"],"Image":"berth/busybox","State":"running",
     "Status":"Up Less than a second","Labels":{"probe.k":"v1"}},
    {"Id":"526d","Names":["/probe-y"],"Image":"sha256:7a2e7559cab6","State":"exited",
     "Status":"Exited (137) 2 minutes ago","Labels":{}}])");
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "probe-z");
  EXPECT_TRUE((*list)[0].running);
  EXPECT_EQ((*list)[0].labels.at("probe.k"), "v1");
  EXPECT_EQ((*list)[1].id, "526d");
  EXPECT_EQ((*list)[1].status, "exited");
  EXPECT_FALSE((*list)[1].running);
  EXPECT_EQ((*list)[1].exit_code, 137);
}

TEST(ListAnswer, ReadsTheExitCodeOnlyFromAnExitedStatus) {
  EXPECT_EQ(exit_code_from_status_text("Exited (0) 3 seconds ago"), 0);
  EXPECT_EQ(exit_code_from_status_text("Exited (127) About a minute ago"), 127);
  EXPECT_EQ(exit_code_from_status_text("Up 2 hours"), 0);
  EXPECT_EQ(exit_code_from_status_text("Exited ("), 0);
  EXPECT_EQ(exit_code_from_status_text("Created"), 0);
}

TEST(WaitAnswer, ReadsStatusCodeAndDockersError) {
  auto plain = parse_wait_answer(R"({"Error":null,"StatusCode":137})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->status_code, 137);
  EXPECT_EQ(plain->error, "");
  auto failed = parse_wait_answer(R"({"Error":{"Message":"exec failed"},"StatusCode":127})");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status_code, 127);
  EXPECT_EQ(failed->error, "exec failed");
  EXPECT_FALSE(parse_wait_answer(R"({"Error":null})").ok());
}

TEST(CreateAnswer, ReadsTheId) {
  auto id = parse_create_answer(R"({"Id":"526dea4c","Warnings":[]})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "526dea4c");
  EXPECT_FALSE(parse_create_answer(R"({"Warnings":[]})").ok());
}

// A stand-in for dockerd on a temporary unix socket: each connection gets the next scripted
// answer, written piece by piece, and the requests are kept for the test to look at. With no
// answers it listens without ever accepting, like a daemon that hangs.
class ScriptedSocket {
 public:
  // `hold_open`: after its answer, keep each connection open until the client closes it.
  explicit ScriptedSocket(std::vector<std::vector<std::string>> answers, bool hold_open = false)
      : path_("/tmp/berth-docker-test-" + std::to_string(::getpid()) + "-" +
              std::to_string(next_id_++) + ".sock") {
    ::unlink(path_.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this, hold_open, answers = std::move(answers)] {
      for (const auto& pieces : answers) {
        int conn = ::accept(fd_, nullptr, nullptr);
        if (conn < 0) return;
        requests_.push_back(read_request(conn));
        for (const auto& piece : pieces) {
          if (::send(conn, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) break;
          // Separate writes, so that the client sees the pieces one by one.
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        char ignored[256];
        while (hold_open && ::read(conn, ignored, sizeof(ignored)) > 0) {
        }
        ::close(conn);
      }
    });
  }
  ~ScriptedSocket() {
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }

  const std::string& path() const { return path_; }
  // The requests received, once every scripted answer has been given.
  const std::vector<std::string>& requests() {
    if (thread_.joinable()) thread_.join();
    return requests_;
  }

 private:
  static std::string read_request(int conn) {
    std::string text;
    char buf[4096];
    size_t body_at = std::string::npos;
    size_t length = 0;
    while (true) {
      if (body_at == std::string::npos && (body_at = text.find("\r\n\r\n")) != std::string::npos) {
        body_at += 4;
        auto at = text.find("Content-Length: ");
        if (at != std::string::npos && at < body_at) length = std::stoul(text.substr(at + 16));
      }
      if (body_at != std::string::npos && text.size() >= body_at + length) return text;
      ssize_t n = ::read(conn, buf, sizeof(buf));
      if (n <= 0) return text;
      text.append(buf, static_cast<size_t>(n));
    }
  }

  static inline int next_id_ = 0;
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
  std::vector<std::string> requests_;
};

std::string answer(const std::string& status_line, const std::string& body,
                   const std::string& headers = "") {
  return "HTTP/1.1 " + status_line + "\r\nApi-Version: 1.41\r\n" + headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}

TEST(DockerClient, ReportsAMissingSocketAsUnavailableNamingIt) {
  DockerClient client("/tmp/berth-no-such-docker.sock");
  Status status = client.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(status.error().message.find("/tmp/berth-no-such-docker.sock"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(client.api_version(), "");
}

TEST(DockerClient, RejectsASocketPathTooLongForUnixSockets) {
  DockerClient client("/tmp/" + std::string(200, 'x') + ".sock");
  Status status = client.connect();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
}

TEST(DockerClient, NegotiatesDownToItsOwnVersionAndPrefixesPaths) {
  ScriptedSocket docker({{answer("200 OK", "OK", "Api-Version: 1.45\r\n")},
                         {answer("404 Not Found", "{\"message\":\"No such image: x:latest\"}")}});
  DockerClient client(docker.path());
  ASSERT_TRUE(client.connect().ok());
  EXPECT_EQ(client.api_version(), "1.41");
  auto id = client.create_container("web 1", R"({"Image":"x"})");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(id.error().message, "docker create: No such image: x:latest");
  ASSERT_EQ(docker.requests().size(), 2u);
  const std::string& create = docker.requests()[1];
  EXPECT_EQ(create.rfind("POST /v1.41/containers/create?name=web%201 HTTP/1.1\r\n", 0), 0u)
      << create;
  EXPECT_NE(create.find("Content-Type: application/json\r\n"), std::string::npos) << create;
  EXPECT_NE(create.find("\r\n\r\n{\"Image\":\"x\"}"), std::string::npos) << create;
}

TEST(DockerClient, MapsConflictsAndTurnsARefusedStartIntoInternal) {
  ScriptedSocket docker(
      {{answer("409 Conflict", "{\"message\":\"Cannot kill container: a: is not running\"}")},
       {answer("400 Bad Request", "{\"message\":\"exec: \\\"/nope\\\": not found\"}")},
       {answer("304 Not Modified", "")}});
  DockerClient client(docker.path());
  Status killed = client.kill_container("a", "SIGKILL");
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.error().code, ErrorCode::kConflict);
  Status started = client.start_container("a");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kInternal);
  EXPECT_EQ(started.error().message, "docker start: exec: \"/nope\": not found");
  EXPECT_TRUE(client.start_container("a").ok());  // already running
}

TEST(DockerClient, GivesUpWaitingWhenTheTimeoutPasses) {
  ScriptedSocket silent({});
  DockerClient client(silent.path());
  auto begin = std::chrono::steady_clock::now();
  auto waited = client.wait_container("a", std::chrono::milliseconds(200));
  auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(waited.error().message, "docker wait: container a did not stop within 200 ms");
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(DockerClient, FollowsAChunkedLogStreamWithFramesSplitAcrossChunks) {
  std::string stream = frame(1, "first\n") + frame(2, "oops\n") + frame(1, "second\n");
  std::vector<std::string> pieces = {
      "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"};
  for (size_t at = 0; at < stream.size(); at += 5) pieces.push_back(chunk(stream.substr(at, 5)));
  pieces.push_back("0\r\n\r\n");
  ScriptedSocket docker({pieces});
  DockerClient client(docker.path());
  std::string out, err;
  Status status = client.follow_logs(
      "a",
      [&](int stream_id, const std::string& data) {
        (stream_id == 1 ? out : err) += data;
        return true;
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(out, "first\nsecond\n");
  EXPECT_EQ(err, "oops\n");
  EXPECT_EQ(docker.requests()[0].rfind("GET /containers/a/logs?stdout=1&stderr=1&follow=1 ", 0),
            0u);
}

TEST(DockerClient, StopsFollowingWhenTheCallbackSaysSo) {
  // The stream never ends: only the callback can stop it before the timeout.
  ScriptedSocket docker({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                          chunk(frame(1, "one\n")), chunk(frame(1, "two\n"))}});
  DockerClient client(docker.path());
  int calls = 0;
  auto begin = std::chrono::steady_clock::now();
  Status status = client.follow_logs(
      "a", [&](int, const std::string&) { return ++calls < 1; }, std::chrono::seconds(30));
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
}

TEST(DockerClient, EndsAFollowWithoutErrorWhenItsTimeIsUp) {
  ScriptedSocket docker({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                          chunk(frame(2, "still running\n"))}},
                        /*hold_open=*/true);
  DockerClient client(docker.path());
  std::string err;
  auto begin = std::chrono::steady_clock::now();
  Status status = client.follow_logs(
      "a",
      [&](int stream_id, const std::string& data) {
        EXPECT_EQ(stream_id, 2);
        err += data;
        return true;
      },
      std::chrono::milliseconds(300));
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(err, "still running\n");
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
}

// Docker answers a follow of a container that has written nothing yet with no headers at all.
TEST(DockerClient, EndsAFollowThatGotNoAnswerYetWhenItsTimeIsUp) {
  ScriptedSocket silent({});
  DockerClient client(silent.path());
  int calls = 0;
  Status status = client.follow_logs(
      "a", [&](int, const std::string&) { return ++calls > 0; }, std::chrono::milliseconds(200));
  EXPECT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(calls, 0);
}

TEST(DockerClient, ReportsAFollowOfAMissingContainerWithDockersMessage) {
  ScriptedSocket docker({{answer("404 Not Found", "{\"message\":\"No such container: a\"}")}});
  DockerClient client(docker.path());
  Status status = client.follow_logs(
      "a", [](int, const std::string&) { return true; }, std::chrono::seconds(10));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message, "docker logs --follow: No such container: a");
}

}  // namespace
}  // namespace berth::docker
