// unix_request() and unix_stream() against serve_unix(): whole answers, streamed ones, the size
// limit, the one deadline of a call, and a socket nobody serves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "http/http.h"

namespace berth::http {
namespace {

using Clock = std::chrono::steady_clock;

std::string socket_path(const std::string& name) {
  return "/tmp/berth-unix-client-test-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

Response echo(const Request& request) {
  Response response;
  response.headers.push_back({"X-Host", request.header("host")});
  response.body = request.method + " " + request.target + " " + request.header("content-type") +
                  " " + request.body;
  if (request.path == "/missing") response.status = 404;
  return response;
}

TEST(UnixClient, SendsTheRequestAndReadsTheWholeAnswer) {
  std::string path = socket_path("echo");
  auto server = serve_unix(path, echo);
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.method = "POST";
  request.target = "/v1/things?x=1";
  request.body = R"({"a":1})";
  request.host = "docker";
  UnixAnswer answer = unix_request(path, request);
  ASSERT_FALSE(answer.failure) << answer.failure->reason;
  EXPECT_EQ(answer.response.status, 200);
  EXPECT_EQ(answer.response.headers["x-host"], "docker");
  EXPECT_EQ(answer.response.body, R"(POST /v1/things?x=1 application/json {"a":1})");

  request.method = "GET";
  request.target = "/missing";
  request.body = "";
  answer = unix_request(path, request);
  ASSERT_FALSE(answer.failure) << answer.failure->reason;
  EXPECT_EQ(answer.response.status, 404);
  EXPECT_EQ(answer.response.body, "GET /missing  ");
}

TEST(UnixClient, ReportsASocketNobodyServesAsAConnectFailure) {
  UnixRequest request;
  request.target = "/";
  UnixAnswer answer = unix_request(socket_path("nobody"), request);
  ASSERT_TRUE(answer.failure);
  EXPECT_EQ(answer.failure->step, UnixFailure::Step::kConnect);
  EXPECT_EQ(answer.failure->kind, UnixFailure::Kind::kBroken);
  EXPECT_FALSE(answer.failure->reason.empty());
}

TEST(UnixClient, RefusesAnAnswerLargerThanItsLimit) {
  std::string path = socket_path("large");
  auto server = serve_unix(path, [](const Request&) {
    Response response;
    response.body = std::string(4096, 'x');
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.target = "/";
  request.max_response_bytes = 1000;
  UnixAnswer answer = unix_request(path, request);
  ASSERT_TRUE(answer.failure);
  EXPECT_EQ(answer.failure->step, UnixFailure::Step::kReceive);
  EXPECT_EQ(answer.failure->kind, UnixFailure::Kind::kTooLarge);
}

TEST(UnixClient, GivesUpAtTheCallsDeadline) {
  std::string path = socket_path("slow");
  std::atomic<bool> release{false};
  auto server = serve_unix(path, [&](const Request&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Response{};
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.target = "/";
  request.timeout = std::chrono::milliseconds(200);
  auto begin = Clock::now();
  UnixAnswer answer = unix_request(path, request);
  auto took = Clock::now() - begin;
  release = true;
  ASSERT_TRUE(answer.failure);
  EXPECT_EQ(answer.failure->step, UnixFailure::Step::kReceive);
  EXPECT_EQ(answer.failure->kind, UnixFailure::Kind::kTimedOut);
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(5));
}

// Three pieces a few milliseconds apart, then the end of the answer.
Response three_pieces(const Request& request) {
  if (request.path == "/missing") return Response{404, "application/json", {}, "no such thing"};
  Response response;
  response.content_type = "text/plain";
  auto sent = std::make_shared<int>(0);
  response.stream = [sent](std::string* chunk) {
    if (*sent == 3) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    *chunk = "piece " + std::to_string((*sent)++) + "\n";
    return true;
  };
  return response;
}

TEST(UnixClient, StreamsAnAnswerPieceByPieceUntilItEnds) {
  std::string path = socket_path("stream");
  auto server = serve_unix(path, three_pieces);
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.target = "/logs";
  request.timeout = std::chrono::seconds(10);
  std::string got;
  UnixAnswer answer = unix_stream(path, request, [&](std::string_view data) {
    got.append(data);
    return true;
  });
  ASSERT_FALSE(answer.failure) << answer.failure->reason;
  EXPECT_EQ(answer.response.status, 200);
  EXPECT_EQ(got, "piece 0\npiece 1\npiece 2\n");
}

TEST(UnixClient, StopsStreamingWhenToldAndKeepsAFailedAnswersBody) {
  std::string path = socket_path("stop");
  auto server = serve_unix(path, three_pieces);
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.target = "/logs";
  int calls = 0;
  UnixAnswer answer = unix_stream(path, request, [&](std::string_view) { return ++calls < 1; });
  ASSERT_FALSE(answer.failure) << answer.failure->reason;
  EXPECT_EQ(calls, 1);

  request.target = "/missing";
  answer = unix_stream(path, request, [&](std::string_view) { return ++calls > 0; });
  ASSERT_FALSE(answer.failure) << answer.failure->reason;
  EXPECT_EQ(answer.response.status, 404);
  EXPECT_EQ(answer.response.body, "no such thing");
  EXPECT_EQ(calls, 1);
}

TEST(UnixClient, EndsAStreamAtTheCallsDeadlineWithTheStatusKnown) {
  std::string path = socket_path("endless");
  auto server = serve_unix(path, [](const Request&) {
    Response response;
    response.stream = [](std::string* chunk) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      *chunk = "x";
      return true;
    };
    return response;
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  UnixRequest request;
  request.target = "/";
  request.timeout = std::chrono::milliseconds(300);
  size_t received = 0;
  auto begin = Clock::now();
  UnixAnswer answer = unix_stream(path, request, [&](std::string_view data) {
    received += data.size();
    return true;
  });
  auto took = Clock::now() - begin;
  ASSERT_TRUE(answer.failure);
  EXPECT_EQ(answer.failure->step, UnixFailure::Step::kStream);
  EXPECT_EQ(answer.failure->kind, UnixFailure::Kind::kTimedOut);
  EXPECT_EQ(answer.response.status, 200);
  EXPECT_GT(received, 0u);
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace berth::http
