#include "counter/counter_app.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "counter/test_dir.h"

namespace berth::counter {
namespace {

using nlohmann::json;

class CounterAppTest : public ::testing::Test {
 protected:
  void SetUp() override { open_log({}); }

  void open_log(ClickLogOptions options) {
    app_.reset();
    log_.reset();
    auto log = ClickLog::open(dir_.path(), options);
    ASSERT_TRUE(log.ok()) << log.error().message;
    log_ = std::move(*log);
    app_ = std::make_unique<CounterApp>(*log_, clock_, CounterIdentity{"node-1", "web.42"});
  }

  http::Response call(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    http::Request request;
    request.method = method;
    request.target = path;
    request.path = path;
    request.body = body;
    return app_->handle(request);
  }

  static json body_of(const http::Response& response) {
    return json::parse(response.body, nullptr, false);
  }

  TestDir dir_;
  ManualClock clock_;
  std::unique_ptr<ClickLog> log_;
  std::unique_ptr<CounterApp> app_;
};

int64_t millis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TEST_F(CounterAppTest, PostedClickIsReturnedByGet) {
  auto posted = call("POST", "/v1/clicks", R"({"x":10,"y":20})");
  ASSERT_EQ(posted.status, 201) << posted.body;
  int64_t ts = millis(clock_.wall_now());
  EXPECT_EQ(body_of(posted), (json{{"id", 1}, {"ts", ts}, {"x", 10}, {"y", 20}}));

  clock_.advance(std::chrono::milliseconds(1500));
  ASSERT_EQ(call("POST", "/v1/clicks", R"({"x":0,"y":1000000})").status, 201);

  auto listed = call("GET", "/v1/clicks");
  EXPECT_EQ(listed.status, 200);
  EXPECT_EQ(listed.content_type, "application/json");
  EXPECT_EQ(body_of(listed),
            (json::array({{{"id", 1}, {"ts", ts}, {"x", 10}, {"y", 20}},
                          {{"id", 2}, {"ts", ts + 1500}, {"x", 0}, {"y", 1000000}}})));
}

TEST_F(CounterAppTest, AcknowledgedClickIsAlreadyInTheFile) {
  ASSERT_EQ(call("POST", "/v1/clicks", R"({"x":3,"y":4})").status, 201);
  // A second log cannot open the locked file, so check the bytes directly.
  std::ifstream in(log_->path());
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(json::parse(line)["x"], 3);
}

TEST_F(CounterAppTest, BadBodiesGet400WithAMessageAndStoreNothing) {
  struct Case {
    std::string body;
    std::string message_mentions;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"x=1&y=2", "not JSON"},
      {"{\"x\":1,", "not JSON"},
      {"[1,2]", "array"},
      {"{}", "x is missing"},
      {R"({"x":1})", "y is missing"},
      {R"({"x":"1","y":2})", "x must be an integer"},
      {R"({"x":1.5,"y":2})", "x must be an integer"},
      {R"({"x":true,"y":2})", "x must be an integer"},
      {R"({"x":1,"y":null})", "y must be an integer"},
      {R"({"x":-1,"y":2})", "got -1"},
      {R"({"x":1,"y":1000001})", "got 1000001"},
      {R"({"x":1,"y":18446744073709551615})", "y must be between 0 and 1000000"},
  };
  for (const Case& c : cases) {
    auto response = call("POST", "/v1/clicks", c.body);
    EXPECT_EQ(response.status, 400) << c.body;
    json body = body_of(response);
    ASSERT_TRUE(body.is_object() && body["message"].is_string()) << response.body;
    EXPECT_NE(body["message"].get<std::string>().find(c.message_mentions), std::string::npos)
        << "body " << c.body << " got message: " << body["message"];
  }
  EXPECT_EQ(log_->size(), 0u);
  EXPECT_EQ(body_of(call("GET", "/v1/clicks")), json::array());
}

TEST_F(CounterAppTest, PingNamesNodeTaskAndCount) {
  ASSERT_EQ(call("POST", "/v1/clicks", R"({"x":1,"y":2})").status, 201);
  auto response = call("GET", "/v1/ping");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(body_of(response),
            (json{{"pong", true}, {"node", "node-1"}, {"task", "web.42"}, {"clicks", 1}}));
}

TEST_F(CounterAppTest, PageIsHtmlNamingTheNodeAndTaskThatServedIt) {
  auto response = call("GET", "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
  EXPECT_NE(response.body.find("<b>node-1</b>, task <b>web.42</b>"), std::string::npos);
  EXPECT_EQ(response.body.find("{{"), std::string::npos);
  EXPECT_NE(response.body.find("/v1/clicks"), std::string::npos);
  // Self-contained: nothing is fetched from elsewhere.
  EXPECT_EQ(response.body.find("src="), std::string::npos);
  EXPECT_EQ(response.body.find("https://"), std::string::npos);
}

TEST_F(CounterAppTest, PageEscapesTheIdentity) {
  CounterApp app(*log_, clock_, CounterIdentity{"<script>", "a&b"});
  http::Request request;
  request.method = "GET";
  request.path = "/";
  auto response = app.handle(request);
  EXPECT_EQ(response.body.find("<script>alert"), std::string::npos);
  EXPECT_NE(response.body.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(response.body.find("a&amp;b"), std::string::npos);
}

TEST_F(CounterAppTest, UnknownPathIs404AndWrongMethodIs405) {
  auto missing = call("GET", "/v1/whales");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(body_of(missing)["message"].is_string());
  auto wrong = call("DELETE", "/v1/clicks");
  EXPECT_EQ(wrong.status, 405);
  ASSERT_EQ(wrong.headers.size(), 2u);
  EXPECT_EQ(wrong.headers[1], (std::pair<std::string, std::string>{"Allow", "GET, POST"}));
  EXPECT_EQ(call("POST", "/v1/ping").status, 405);
}

TEST_F(CounterAppTest, FullLogGets507WithAMessage) {
  ClickLogOptions options;
  options.max_clicks = 1;
  open_log(options);
  ASSERT_EQ(call("POST", "/v1/clicks", R"({"x":1,"y":2})").status, 201);
  auto full = call("POST", "/v1/clicks", R"({"x":3,"y":4})");
  EXPECT_EQ(full.status, 507);
  EXPECT_NE(body_of(full)["message"].get<std::string>().find("maximum of 1"), std::string::npos);
}

}  // namespace
}  // namespace berth::counter
