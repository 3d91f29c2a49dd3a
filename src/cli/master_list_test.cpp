// Several masters in --master / $BERTH_MASTER: the list's parsing, ApiClient leaving a master
// that does not answer for the next (a loopback port bound but not listening refuses at once),
// and `berth master list` against fake masters served by the project's HTTP server.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <sstream>

#include "cli/api_client.h"
#include "cli/client_commands.h"
#include "cli/master_commands.h"
#include "http/http.h"
#include "http/url_host_port.h"

namespace berth::cli {
namespace {

// A loopback URL that refuses connections: its port is bound (so nobody else takes it) but not
// listening.
class DeadPort {
 public:
  DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size), 0);
    port_ = ntohs(address.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A fake master: `leader` is what GET /v2/leader names ("" answers 503); every other path
// answers `status` with {"path": ...}. Counts the requests it serves.
class FakeMaster {
 public:
  explicit FakeMaster(std::string leader = "", int status = 200) : leader_(std::move(leader)) {
    auto server = http::serve({"127.0.0.1", 0}, [this, status](const http::Request& request) {
      ++requests_;
      http::Response response;
      if (request.path == "/ping") {
        response.content_type = "text/plain";
        response.body = "pong";
      } else if (request.path == "/v2/leader") {
        response.status = leader_.empty() ? 503 : 200;
        response.body = leader_.empty() ? R"({"message":"no master leads right now"})"
                                        : nlohmann::json{{"leader", leader_}}.dump();
      } else if (request.path == "/v2/events") {
        response.stream = [sent = false](std::string* chunk) mutable {
          if (sent) return false;
          *chunk = "event: x\ndata: {}\n\n";
          sent = true;
          return true;
        };
      } else {
        response.status = status;
        response.body = nlohmann::json{{"path", request.path}}.dump();
      }
      return response;
    });
    EXPECT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
  }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  std::string url() const { return "http://" + host_port(); }
  int requests() const { return requests_; }
  void set_leader(const std::string& leader) { leader_ = leader; }

 private:
  std::string leader_;
  std::atomic<int> requests_{0};
  std::unique_ptr<http::Server> server_;
};

TEST(SplitMasterUrls, OneOrSeveralCommaSeparatedWithBlanksAndEmptyEntriesDropped) {
  EXPECT_EQ(split_master_urls("http://a:8080"), std::vector<std::string>{"http://a:8080"});
  EXPECT_EQ(split_master_urls("http://a:1,https://b:2, http://c:3 ,"),
            (std::vector<std::string>{"http://a:1", "https://b:2", "http://c:3"}));
  EXPECT_EQ(split_master_urls(""), std::vector<std::string>{""});
  EXPECT_EQ(split_master_urls(" , "), std::vector<std::string>{""});
}

TEST(UrlHostPort, ComparesWithWhatV2LeaderNames) {
  EXPECT_EQ(http::url_host_port("http://127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(http::url_host_port("http://127.0.0.1:8080/"), "127.0.0.1:8080");
  EXPECT_EQ(http::url_host_port("http://m1"), "m1:80");
  EXPECT_EQ(http::url_host_port("https://m1/x"), "m1:443");
  EXPECT_EQ(http::url_host_port("http://[::1]:8080"), "[::1]:8080");
  EXPECT_EQ(http::url_host_port("http://[::1]"), "[::1]:80");
  EXPECT_EQ(http::url_host_port("m1:8080"), "");
}

TEST(ApiClientMasters, ADeadMasterIsLeftForTheNextAndTheNextCallStartsThere) {
  DeadPort dead;
  FakeMaster live;
  ApiClient api(dead.url() + "," + live.url(), 2000);
  auto answer = api.call("GET", "/v2/apps");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->json["path"], "/v2/apps");
  EXPECT_EQ(live.requests(), 1);
  ASSERT_TRUE(api.call("GET", "/v2/tasks").ok());
  EXPECT_EQ(live.requests(), 2);
}

TEST(ApiClientMasters, AnAnswerWithAnyStatusEndsTheSearch) {
  FakeMaster refusing("", 503);
  FakeMaster other;
  ApiClient api(refusing.url() + "," + other.url(), 2000);
  auto answer = api.call("GET", "/v2/apps");
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->status, 503);
  EXPECT_EQ(other.requests(), 0);
}

TEST(ApiClientMasters, WhenNoneAnswersTheErrorNamesEveryMaster) {
  DeadPort first, second;
  ApiClient both(first.url() + "," + second.url(), 2000);
  auto answer = both.call("GET", "/v2/apps");
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, ErrorCode::kUnavailable);
  const std::string& message = answer.error().message;
  EXPECT_EQ(message.rfind("cannot reach any of the 2 berth masters: " + first.url() + ": ", 0), 0u)
      << message;
  EXPECT_NE(message.find("; " + second.url() + ": "), std::string::npos) << message;

  ApiClient one(first.url(), 2000);
  auto single = one.call("GET", "/v2/apps");
  ASSERT_FALSE(single.ok());
  EXPECT_EQ(
      single.error().message.rfind("cannot reach the berth master at " + first.url() + ": ", 0), 0u)
      << "one master: the message is as it always was";
}

TEST(ApiClientMasters, AStreamGoesToTheFirstMasterThatAnswers) {
  DeadPort dead;
  FakeMaster live;
  ApiClient api(dead.url() + "," + live.url(), 2000);
  std::string received;
  auto answer = api.stream("/v2/events", [&](std::string_view piece) {
    received += piece;
    return true;
  });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(received, "event: x\ndata: {}\n\n");
}

class NoEnvironment final : public ClientEnvironment {
 public:
  MonoTime now() const override { return clock_.mono_now(); }
  void sleep_for(std::chrono::milliseconds duration) override { clock_.advance(duration); }
  std::istream& input() override { return input_; }
  std::optional<std::string> variable(const std::string&) const override { return std::nullopt; }

 private:
  ManualClock clock_;
  std::istringstream input_;
};

struct Listed {
  int code;
  std::string out, err;
};

Listed master_list_of(const std::string& masters, bool json = false) {
  std::vector<std::string> args = {"berth", "master", "list", "--master", masters, "--token", "t"};
  if (json) args.push_back("--json");
  std::ostringstream out, err;
  NoEnvironment environment;
  int code = run_client_command(args, out, err, environment);
  return {code, out.str(), err.str()};
}

TEST(MasterList, ShowsTheLeaderTheStandbysAndTheMastersThatDoNotAnswer) {
  FakeMaster leader, standby;
  DeadPort dead;
  leader.set_leader(leader.host_port());
  standby.set_leader(leader.host_port());
  Listed listed = master_list_of(leader.url() + "," + standby.url() + "," + dead.url());
  EXPECT_EQ(listed.code, 0) << listed.err;
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(listed.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    rows.emplace_back();
    for (std::string cell; cells >> cell;) rows.back().push_back(cell);
  }
  ASSERT_EQ(rows.size(), 4u) << listed.out;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"MASTER", "STATE", "LEADER"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{leader.url(), "leader", leader.host_port()}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{standby.url(), "standby", leader.host_port()}));
  ASSERT_GE(rows[3].size(), 2u);
  EXPECT_EQ(rows[3][0], dead.url());
  EXPECT_EQ(rows[3][1], "unreachable");

  Listed json = master_list_of(leader.url() + "," + dead.url(), true);
  EXPECT_EQ(json.code, 0);
  auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["masters"][0]["state"], "leader");
  EXPECT_EQ(parsed["masters"][1]["state"], "unreachable");
}

TEST(MasterList, FailsWithTheReasonWhenNoMasterLeads) {
  FakeMaster standby;  // its /v2/leader answers 503
  DeadPort dead;
  Listed listed = master_list_of(standby.url() + "," + dead.url());
  EXPECT_EQ(listed.code, 1);
  EXPECT_NE(listed.out.find("standby"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.err, "no master leads: no master leads right now\n");

  Listed none = master_list_of(dead.url());
  EXPECT_EQ(none.code, 1);
  EXPECT_EQ(none.err, "no master leads: none of them answers\n");
}

}  // namespace
}  // namespace berth::cli
