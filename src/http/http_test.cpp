#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http/http.h"

namespace berth::http {

TEST(Url, SplitsAndDecodesPathAndQuery) {
  std::string path;
  std::multimap<std::string, std::string> query;
  split_target("/v2/apps/prod%2Fweb?embed=apps.tasks&embed=apps.counts&force=true&x=a%20b", &path, &query);
  EXPECT_EQ(path, "/v2/apps/prod/web");
  EXPECT_EQ(query.count("embed"), 2u);
  EXPECT_EQ(query.find("force")->second, "true");
  EXPECT_EQ(query.find("x")->second, "a b");
}

TEST(Url, EncodesWhatItDecodes) {
  EXPECT_EQ(percent_decode(percent_encode("/a b?c&d=e")), "/a b?c&d=e");
}

TEST(Server, AnswersRequestsOverKeepAliveAndClientReadsThem) {
  auto server = serve({"127.0.0.1", 0}, [](const Request& r) {
    Response res;
    res.status = r.method == "POST" ? 201 : 200;
    res.headers.push_back({"X-Echo", r.query_value("v")});
    res.body = r.body.empty() ? r.path : r.body;
    return res;
  });
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto got = request(base, "GET", "/hello?v=42");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "/hello");
  EXPECT_EQ(got->headers["x-echo"], "42");
  auto posted = request(base, "POST", "/x", "{\"a\":1}");
  ASSERT_TRUE(posted.ok());
  EXPECT_EQ(posted->status, 201);
  EXPECT_EQ(posted->body, "{\"a\":1}");
}

TEST(Client, ReportsUnreachablePeerAsUnavailable) {
  auto got = request("http://127.0.0.1:1", "GET", "/", "", 500);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
}

TEST(Client, TimesOutOnASilentPeer) {
  std::atomic<bool> release{false};
  auto server = serve({"127.0.0.1", 0}, [&](const Request&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return Response{};
  });
  ASSERT_TRUE(server.ok());
  auto got = request("http://127.0.0.1:" + std::to_string((*server)->port()), "GET", "/", "", 200);
  release = true;
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
}

TEST(Server, RejectsOversizedBodiesWith413) {
  ServerOptions options{"127.0.0.1", 0};
  options.max_body_bytes = 100;
  auto server = serve(options, [](const Request&) { return Response{}; });
  ASSERT_TRUE(server.ok());
  auto got = request("http://127.0.0.1:" + std::to_string((*server)->port()), "POST", "/",
                     std::string(1000, 'x'));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->status, 413);
}

}  // namespace berth::http
