// A finite streamed body (Response::finish) from the server to download(): its pieces, its
// trailer, a producer that fails part way, a sender that stalls, and answers other than 200.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "http/http.h"

namespace berth::http {
namespace {

std::string url_of(const Server& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

// A body of `pieces` chunks of `piece_bytes`, each byte telling where it is.
Response counted_body(int pieces, size_t piece_bytes, std::optional<Fields> end) {
  Response res;
  res.content_type = "application/octet-stream";
  res.headers = {{"Trailer", "X-Digest"}};
  auto sent = std::make_shared<int>(0);
  res.stream = [sent, pieces, piece_bytes](std::string* chunk) {
    if (*sent == pieces) return false;
    chunk->assign(piece_bytes, static_cast<char>('a' + (*sent)++ % 26));
    return true;
  };
  res.finish = [end] { return end; };
  return res;
}

struct Downloaded {
  Result<ClientResponse> answer = ClientResponse{};
  std::string body;
  std::map<std::string, std::string> trailer;
  bool consumed = false;
};

Downloaded fetch(const Server& server, const DownloadOptions& options = {}) {
  Downloaded out;
  out.answer = download(
      url_of(server), "/file", {},
      [&](const ClientResponse& head, BodyReader& body) -> Status {
        out.consumed = true;
        EXPECT_EQ(head.status, 200);
        while (true) {
          Result<std::string_view> piece = body.read();
          if (!piece) return piece.error();
          if (piece->empty()) break;
          out.body.append(*piece);
        }
        out.trailer = body.trailer();
        return {};
      },
      options);
  return out;
}

TEST(Download, AFiniteStreamedBodyArrivesWholeWithItsTrailer) {
  auto server = serve({"127.0.0.1", 0}, [](const Request&) {
    return counted_body(40, 100000, Fields{{"X-Digest", "abc123"}, {"X-Count", "40"}});
  });
  ASSERT_TRUE(server.ok());
  Downloaded got = fetch(**server);
  ASSERT_TRUE(got.answer.ok()) << got.answer.error().message;
  EXPECT_EQ(got.answer->status, 200);
  EXPECT_EQ(got.answer->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(got.answer->headers["trailer"], "X-Digest");
  ASSERT_EQ(got.body.size(), 40u * 100000u);
  EXPECT_EQ(got.body.front(), 'a');
  EXPECT_EQ(got.body[39 * 100000], static_cast<char>('a' + 39 % 26));
  EXPECT_EQ(got.trailer["x-digest"], "abc123");
  EXPECT_EQ(got.trailer["x-count"], "40");
  EXPECT_EQ(got.trailer.count("content-type"), 0u) << "header fields are not trailer fields";
}

TEST(Download, ABodyWhoseProducerFailsIsCutNotEnded) {
  auto server =
      serve({"127.0.0.1", 0}, [](const Request&) { return counted_body(5, 70000, std::nullopt); });
  ASSERT_TRUE(server.ok());
  Downloaded got = fetch(**server);
  ASSERT_FALSE(got.answer.ok());
  EXPECT_EQ(got.answer.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(got.answer.error().message.find("before its end"), std::string::npos)
      << got.answer.error().message;
  EXPECT_TRUE(got.trailer.empty());
}

TEST(Download, ASenderThatStallsFailsTheReadAfterTheStallLimit) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto server = serve({"127.0.0.1", 0}, [done](const Request&) {
    Response res;
    auto calls = std::make_shared<int>(0);
    res.stream = [calls, done](std::string* chunk) {
      if ((*calls)++ == 0) *chunk = "first";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return !*done;
    };
    res.finish = [] { return Fields{}; };
    return res;
  });
  ASSERT_TRUE(server.ok());
  DownloadOptions quick;
  quick.stall_timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  Downloaded got = fetch(**server, quick);
  *done = true;
  ASSERT_FALSE(got.answer.ok());
  EXPECT_NE(got.answer.error().message.find("stalled"), std::string::npos)
      << got.answer.error().message;
  EXPECT_EQ(got.body, "first");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Download, AnAnswerOtherThan200KeepsItsBodyAndSkipsTheConsumer) {
  auto server = serve({"127.0.0.1", 0}, [](const Request&) {
    return Response{409, "application/json", {}, R"({"message":"in use"})"};
  });
  ASSERT_TRUE(server.ok());
  Downloaded got = fetch(**server);
  ASSERT_TRUE(got.answer.ok()) << got.answer.error().message;
  EXPECT_EQ(got.answer->status, 409);
  EXPECT_EQ(got.answer->body, R"({"message":"in use"})");
  EXPECT_FALSE(got.consumed);
}

TEST(Download, TheConsumersErrorIsTheResult) {
  auto server =
      serve({"127.0.0.1", 0}, [](const Request&) { return counted_body(3, 10, Fields{}); });
  ASSERT_TRUE(server.ok());
  Result<ClientResponse> answer =
      download(url_of(**server), "/file", {}, [](const ClientResponse&, BodyReader&) -> Status {
        return make_error(ErrorCode::kInvalidArgument, "not what I wanted");
      });
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(answer.error().message, "not what I wanted");
}

TEST(Download, AnUnreachableSenderIsUnavailable) {
  Result<ClientResponse> answer =
      download("http://127.0.0.1:1", "/file", {},
               [](const ClientResponse&, BodyReader&) -> Status { return {}; });
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace berth::http
