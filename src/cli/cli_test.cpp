// The `berth` client commands against a fake Marathon: canned answers from the project's
// HTTP server on a free port, and a fake environment whose clock moves only when a command
// waits, so polling tests neither sleep nor depend on timing.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/client_commands.h"
#include "cli/deployment_watch.h"
#include "http/http.h"

namespace berth::cli {
namespace {

using nlohmann::json;

class FakeEnvironment final : public ClientEnvironment {
 public:
  MonoTime now() const override { return clock_.mono_now(); }
  void sleep_for(std::chrono::milliseconds duration) override {
    clock_.advance(duration);
    ++sleeps_;
  }
  std::istream& input() override { return input_; }
  std::optional<std::string> variable(const std::string& name) const override {
    auto it = variables_.find(name);
    if (it == variables_.end()) return std::nullopt;
    return it->second;
  }

  void set_input(const std::string& text) { input_.str(text); }
  void set_variable(const std::string& name, const std::string& value) { variables_[name] = value; }
  int sleeps() const { return sleeps_; }

 private:
  ManualClock clock_;
  std::istringstream input_;
  std::map<std::string, std::string> variables_;
  int sleeps_ = 0;
};

http::Response json_response(int status, const json& body) {
  http::Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

// A fake master: routes "METHOD /decoded/path" to handlers and records every request.
class FakeMarathon {
 public:
  using Route = std::function<http::Response(const http::Request&)>;

  FakeMarathon() {
    auto server = http::serve({"127.0.0.1", 0}, [this](const http::Request& request) {
      Route route;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(request);
        auto it = routes_.find(request.method + " " + request.path);
        if (it == routes_.end()) return json_response(404, {{"message", "no route " + request.path}});
        route = it->second;
      }
      return route(request);
    });
    EXPECT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void on(const std::string& method_and_path, Route route) {
    std::lock_guard<std::mutex> lock(mutex_);
    routes_[method_and_path] = std::move(route);
  }
  void on(const std::string& method_and_path, int status, const json& body) {
    on(method_and_path, [status, body](const http::Request&) { return json_response(status, body); });
  }

  std::vector<http::Request> requests(const std::string& method_and_path) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<http::Request> matching;
    for (const auto& request : requests_) {
      if (request.method + " " + request.path == method_and_path) matching.push_back(request);
    }
    return matching;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Route> routes_;
  std::vector<http::Request> requests_;
  std::unique_ptr<http::Server> server_;
};

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  Outcome run(std::vector<std::string> args, const std::string& master = "") {
    args.insert(args.begin(), "berth");
    args.push_back("--master");
    args.push_back(master.empty() ? marathon_.url() : master);
    std::ostringstream out, err;
    Outcome outcome;
    outcome.code = run_client_command(args, out, err, environment_);
    outcome.out = out.str();
    outcome.err = err.str();
    return outcome;
  }

  FakeMarathon marathon_;
  FakeEnvironment environment_;
};

const json kWebApp = {{"id", "/web"},           {"cmd", "python3 -m http.server $PORT0"},
                      {"instances", 5},         {"tasksRunning", 3},
                      {"tasksStaged", 1},       {"cpus", 0.5},
                      {"mem", 128},             {"deployments", json::array({{{"id", "d1"}}})},
                      {"version", "2024-01-02T03:04:05.000Z"}};
const json kJobApp = {{"id", "/prod/api"}, {"cmd", "./api"}, {"instances", 2}, {"tasksRunning", 2},
                      {"cpus", 1},         {"mem", 1024},    {"deployments", json::array()}};

TEST_F(CliTest, AppListPrintsOneRowPerAppSortedById) {
  marathon_.on("GET /v2/apps", 200, {{"apps", {kWebApp, kJobApp}}});
  Outcome outcome = run({"app", "list"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "ID         INSTANCES  CPUS  MEM   CMD                            DEPLOYMENTS\n"
            "/prod/api  2/2        1     1024  ./api                          0\n"
            "/web       3/5        0.5   128   python3 -m http.server $PORT0  1\n");
  EXPECT_EQ(outcome.err, "");
}

TEST_F(CliTest, JsonPrintsTheApiAnswerInsteadOfATable) {
  json apps = {{"apps", {kWebApp}}};
  marathon_.on("GET /v2/apps", 200, apps);
  Outcome outcome = run({"app", "list", "--json"});
  EXPECT_EQ(outcome.code, 0);
  EXPECT_EQ(json::parse(outcome.out), apps);
  EXPECT_NE(outcome.out.find("\n  \"apps\""), std::string::npos) << "pretty-printed";
}

TEST_F(CliTest, ValidationFailurePrintsTheMessageAndEachDetailAndFails) {
  marathon_.on("POST /v2/apps", 422,
               {{"message", "Object is not valid"},
                {"details", {{{"path", "/cpus"}, {"errors", {"must be positive", "is required"}}},
                             {{"path", "/id"}, {"errors", {"must not be the root"}}}}}});
  environment_.set_input(R"({"id":"/web","cpus":-1})");
  Outcome outcome = run({"app", "deploy", "-"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.err,
            "Object is not valid\n"
            "/cpus: must be positive, is required\n"
            "/id: must not be the root\n");
  EXPECT_TRUE(marathon_.requests("PUT /v2/apps/web").empty());
}

TEST_F(CliTest, JsonPrintsTheApiAnswerOnFailureToo) {
  json refusal = {{"message", "App '/nope' does not exist"}};
  marathon_.on("GET /v2/apps/nope", 404, refusal);
  Outcome outcome = run({"app", "show", "nope", "--json"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(json::parse(outcome.out), refusal);
}

TEST_F(CliTest, UnreachableMasterFailsWithTheReason) {
  std::string closed_url;
  {
    FakeMarathon gone;
    closed_url = gone.url();
  }
  Outcome outcome = run({"node", "list"}, closed_url);
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.err.rfind("cannot reach the berth master at " + closed_url + ": ", 0), 0u) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST_F(CliTest, MasterDefaultsToTheEnvironmentVariable) {
  environment_.set_variable("BERTH_MASTER", marathon_.url());
  marathon_.on("GET /v2/apps", 200, {{"apps", json::array()}});
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command({"berth", "app", "list"}, out, err, environment_), 0) << err.str();
  EXPECT_EQ(out.str(), "ID  INSTANCES  CPUS  MEM  CMD  DEPLOYMENTS\n");
}

TEST_F(CliTest, DeployFollowsTheDeploymentUntilItDisappears) {
  marathon_.on("POST /v2/apps", [](const http::Request&) {
    http::Response response = json_response(201, {{"id", "/web"}, {"version", "v1"}, {"deployments", {{{"id", "d1"}}}}});
    response.headers.push_back({"Marathon-Deployment-Id", "d1"});
    return response;
  });
  int polls = 0;
  marathon_.on("GET /v2/deployments", [&polls](const http::Request&) {
    ++polls;
    json running = {{{"id", "other"}}, {{"id", "d1"}, {"affectedApps", {"/web"}}}};
    return json_response(200, polls <= 3 ? running : json{{{"id", "other"}}});
  });
  marathon_.on("GET /v2/apps/web", [&polls](const http::Request&) {
    int running = std::min(polls, 3);
    return json_response(200, {{"app", {{"id", "/web"}, {"instances", 3}, {"tasksRunning", running}, {"tasksStaged", 1}}}});
  });
  marathon_.on("GET /v2/queue", [&polls](const http::Request&) {
    json reasons = {{{"reason", "InsufficientCpus"}, {"declined", polls == 1 ? 3 : 0}, {"processed", 3}}};
    return json_response(200, {{"queue", {{{"app", {{"id", "/web"}}},
                                           {"processedOffersSummary", {{"rejectSummaryLastOffers", reasons}}}}}}});
  });
  environment_.set_input(R"({"id":"web","cmd":"sleep 1000","instances":3})");
  Outcome outcome = run({"app", "deploy", "-"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "deploying /web: 1/3 running, 1 staged\n"
            "waiting: InsufficientCpus on 3/3 nodes\n"
            "deploying /web: 2/3 running, 1 staged\n"
            "deploying /web: 3/3 running, 1 staged\n"
            "deployed /web (version v1)\n");
  EXPECT_EQ(polls, 4);
  EXPECT_EQ(environment_.sleeps(), 3);
  auto posts = marathon_.requests("POST /v2/apps");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(json::parse(posts[0].body), json::parse(R"({"id":"web","cmd":"sleep 1000","instances":3})"));
}

TEST_F(CliTest, DeployGivesUpAfterTheTimeoutAndSaysSo) {
  marathon_.on("POST /v2/apps", 201, {{"id", "/web"}, {"version", "v1"}, {"deployments", {{{"id", "d1"}}}}});
  marathon_.on("GET /v2/deployments", 200, {{{"id", "d1"}}});
  environment_.set_input(R"({"id":"/web"})");
  Outcome outcome = run({"app", "deploy", "-", "--timeout", "5"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("timed out after 5s waiting for deployment d1 of /web"), std::string::npos)
      << outcome.err;
  EXPECT_EQ(environment_.sleeps(), 5);
}

TEST_F(CliTest, DeployUpdatesWithPutWhenTheAppAlreadyExists) {
  marathon_.on("POST /v2/apps", 409, {{"message", "An app with id [/web] already exists."}});
  marathon_.on("PUT /v2/apps/web", 200, {{"deploymentId", "d2"}, {"version", "v2"}});
  marathon_.on("GET /v2/deployments", 200, json::array());
  std::string definition = R"({"id":"/web","cmd":"sleep 1000","instances":2})";
  environment_.set_input(definition);
  Outcome outcome = run({"app", "deploy", "-"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "deployed /web (version v2)\n");
  auto puts = marathon_.requests("PUT /v2/apps/web");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(json::parse(puts[0].body), json::parse(definition));
  EXPECT_EQ(puts[0].query_value("partialUpdate"), "false");
  EXPECT_EQ(marathon_.requests("GET /v2/deployments").size(), 1u);
}

TEST_F(CliTest, DeployDoesNotOverrideALockedApp) {
  marathon_.on("POST /v2/apps", 409,
               {{"message", "App is locked by one or more deployments. Override with the option '?force=true'."}});
  environment_.set_input(R"({"id":"/web"})");
  Outcome outcome = run({"app", "deploy", "-"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("App is locked"), std::string::npos);
  EXPECT_TRUE(marathon_.requests("PUT /v2/apps/web").empty());
}

TEST_F(CliTest, DeployRejectsAFileThatIsNotJson) {
  environment_.set_input("{not json");
  Outcome outcome = run({"app", "deploy", "-"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("the app definition on stdin is not valid JSON"), std::string::npos) << outcome.err;
  EXPECT_TRUE(marathon_.requests("POST /v2/apps").empty());
}

TEST_F(CliTest, ScaleWithNoWaitPutsTheInstanceCountAndReturns) {
  marathon_.on("PUT /v2/apps/prod/web", 200, {{"deploymentId", "d3"}, {"version", "v3"}});
  Outcome outcome = run({"app", "scale", "prod/web", "7", "--no-wait", "--force"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "started deployment d3 for /prod/web (version v3)\n");
  auto puts = marathon_.requests("PUT /v2/apps/prod/web");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(json::parse(puts[0].body), json({{"instances", 7}}));
  EXPECT_EQ(puts[0].query_value("force"), "true");
  EXPECT_TRUE(marathon_.requests("GET /v2/deployments").empty());
}

TEST_F(CliTest, ShowAcceptsIdsWithOrWithoutTheLeadingSlash) {
  json app = kWebApp;
  app["tasks"] = {{{"id", "web.1"}, {"host", "node-a"}, {"ports", {31000, 31001}}, {"state", "TASK_RUNNING"},
                   {"startedAt", "2024-01-02T03:04:06.000Z"}, {"healthCheckResults", {{{"alive", true}}}}}};
  marathon_.on("GET /v2/apps/web", 200, {{"app", app}});
  for (const std::string id : {"web", "/web"}) {
    Outcome outcome = run({"app", "show", id});
    EXPECT_EQ(outcome.code, 0) << outcome.err;
    EXPECT_NE(outcome.out.find("ID            /web\n"), std::string::npos) << outcome.out;
    EXPECT_NE(outcome.out.find("INSTANCES     3/5 running, 1 staged\n"), std::string::npos) << outcome.out;
    EXPECT_NE(outcome.out.find("ID     HOST    PORTS        STATE         STARTED                   HEALTH\n"
                               "web.1  node-a  31000,31001  TASK_RUNNING  2024-01-02T03:04:06.000Z  healthy\n"),
              std::string::npos)
        << outcome.out;
  }
  EXPECT_EQ(marathon_.requests("GET /v2/apps/web").size(), 2u);
}

TEST_F(CliTest, TaskListPrintsTheTasksOfOneApp) {
  marathon_.on("GET /v2/apps/prod/web/tasks", 200,
               {{"tasks", {{{"id", "prod_web.1"}, {"appId", "/prod/web"}, {"host", "node-b"}, {"ports", json::array()},
                            {"state", "TASK_STAGING"}}}}});
  Outcome outcome = run({"task", "list", "/prod/web"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "ID          APP        HOST    PORTS  STATE         STARTED\n"
            "prod_web.1  /prod/web  node-b  -      TASK_STAGING  -\n");
}

TEST_F(CliTest, TaskKillPostsTheIdAndTheScaleFlag) {
  marathon_.on("POST /v2/tasks/delete", 200, {{"deploymentId", "d4"}, {"version", "v4"}});
  Outcome outcome = run({"task", "kill", "web.instance-1", "--scale"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "killed task web.instance-1; its app scales down in deployment d4\n");
  auto posts = marathon_.requests("POST /v2/tasks/delete");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(json::parse(posts[0].body), json({{"ids", {"web.instance-1"}}}));
  EXPECT_EQ(posts[0].query_value("scale"), "true");
  run({"task", "kill", "web.instance-2"});
  EXPECT_EQ(marathon_.requests("POST /v2/tasks/delete").at(1).query_value("scale"), "false");
}

TEST_F(CliTest, NodeListShowsUsageAgainstCapacity) {
  marathon_.on("GET /berth/v1/nodes", 200,
               {{"nodes", {{{"id", "n1"}, {"hostname", "node-a"}, {"state", "active"},
                            {"resources", {{"cpus", 4}, {"mem", 8192}, {"disk", 100000}}},
                            {"used", {{"cpus", 1.5}, {"mem", 512}, {"disk", 0}}},
                            {"attributes", {{"rack", "r1"}, {"zone", "a"}}}, {"tasks", 3}},
                           {{"id", "n2"}, {"hostname", "node-b"}, {"state", "lost"}, {"tasks", 0}}}}});
  Outcome outcome = run({"node", "list"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "ID  HOSTNAME  STATE   CPUS   MEM       TASKS  ATTRIBUTES\n"
            "n1  node-a    active  1.5/4  512/8192  3      rack=r1,zone=a\n"
            "n2  node-b    lost    0/0    0/0       0      -\n");
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
  Outcome missing = run({"app", "scale", "web"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("N is required"), std::string::npos) << missing.err;
  EXPECT_EQ(run({"app", "scale", "web", "-1"}).code, 2);
  EXPECT_EQ(run({"app", "frobnicate"}).code, 2);
  std::ostringstream out, err;
  EXPECT_EQ(run_client_command({"berth", "app"}, out, err, environment_), 2);
}

TEST(DeploymentWatch, FindsTheDeploymentIdInHeaderOrBody) {
  ApiAnswer answer;
  answer.json = {{"deployments", {{{"id", "from-list"}}}}};
  EXPECT_EQ(deployment_id_of(answer), "from-list");
  answer.json = {{"deploymentId", "from-body"}};
  EXPECT_EQ(deployment_id_of(answer), "from-body");
  answer.headers["marathon-deployment-id"] = "from-header";
  EXPECT_EQ(deployment_id_of(answer), "from-header");
}

TEST(DeploymentWatch, QueueLineIgnoresOtherAppsAndReasonsWithoutDeclines) {
  json queue = {{"queue",
                 {{{"app", {{"id", "/other"}}},
                   {"processedOffersSummary", {{"rejectSummaryLastOffers", {{{"reason", "InsufficientMemory"}, {"declined", 2}, {"processed", 2}}}}}}},
                  {{"app", {{"id", "/web"}}},
                   {"processedOffersSummary",
                    {{"rejectSummaryLastOffers",
                      {{{"reason", "UnfulfilledRole"}, {"declined", 0}, {"processed", 3}},
                       {{"reason", "UnfulfilledConstraint"}, {"declined", 1}, {"processed", 3}}}}}}}}}};
  EXPECT_EQ(queue_line(queue, "/web"), "waiting: UnfulfilledConstraint on 1/3 nodes");
  EXPECT_EQ(queue_line(queue, "/missing"), "");
  json backoff = {{"queue", {{{"app", {{"id", "/web"}}}, {"delay", {{"timeLeftSeconds", 12}, {"overdue", false}}}}}}};
  EXPECT_EQ(queue_line(backoff, "/web"), "waiting: backing off after failed launches, next attempt in 12s");
}

}  // namespace
}  // namespace berth::cli
