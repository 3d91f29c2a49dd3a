// The `berth` client commands against a fake Marathon: canned answers from the project's
// HTTP server on a free port, and a fake environment whose clock moves only when a command
// waits, so polling tests neither sleep nor depend on timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/client_commands.h"
#include "cli/deployment_watch.h"
#include "cli/task_logs_command.h"
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
        if (it == routes_.end())
          return json_response(404, {{"message", "no route " + request.path}});
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
    on(method_and_path,
       [status, body](const http::Request&) { return json_response(status, body); });
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

const json kWebApp = {{"id", "/web"},
                      {"cmd", "python3 -m http.server $PORT0"},
                      {"instances", 5},
                      {"tasksRunning", 3},
                      {"tasksStaged", 1},
                      {"cpus", 0.5},
                      {"mem", 128},
                      {"deployments", json::array({{{"id", "d1"}}})},
                      {"version", "2024-01-02T03:04:05.000Z"}};
const json kJobApp = {{"id", "/prod/api"},           {"cmd", "./api"}, {"instances", 2},
                      {"tasksRunning", 2},           {"cpus", 1},      {"mem", 1024},
                      {"deployments", json::array()}};

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
                {"details",
                 {{{"path", "/cpus"}, {"errors", {"must be positive", "is required"}}},
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
  EXPECT_EQ(outcome.err.rfind("cannot reach the berth master at " + closed_url + ": ", 0), 0u)
      << outcome.err;
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
    http::Response response =
        json_response(201, {{"id", "/web"}, {"version", "v1"}, {"deployments", {{{"id", "d1"}}}}});
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
    return json_response(
        200, {{"app",
               {{"id", "/web"}, {"instances", 3}, {"tasksRunning", running}, {"tasksStaged", 1}}}});
  });
  marathon_.on("GET /v2/queue", [&polls](const http::Request&) {
    json reasons = {
        {{"reason", "InsufficientCpus"}, {"declined", polls == 1 ? 3 : 0}, {"processed", 3}}};
    return json_response(
        200, {{"queue",
               {{{"app", {{"id", "/web"}}},
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
  EXPECT_EQ(json::parse(posts[0].body),
            json::parse(R"({"id":"web","cmd":"sleep 1000","instances":3})"));
}

TEST_F(CliTest, DeployGivesUpAfterTheTimeoutAndSaysSo) {
  marathon_.on("POST /v2/apps", 201,
               {{"id", "/web"}, {"version", "v1"}, {"deployments", {{{"id", "d1"}}}}});
  marathon_.on("GET /v2/deployments", 200, {{{"id", "d1"}}});
  environment_.set_input(R"({"id":"/web"})");
  Outcome outcome = run({"app", "deploy", "-", "--timeout", "5"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("timed out after 5s waiting for deployment d1 of /web"),
            std::string::npos)
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
  marathon_.on(
      "POST /v2/apps", 409,
      {{"message",
        "App is locked by one or more deployments. Override with the option '?force=true'."}});
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
  EXPECT_NE(outcome.err.find("the app definition on stdin is not valid JSON"), std::string::npos)
      << outcome.err;
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
  app["tasks"] = {{{"id", "web.1"},
                   {"host", "node-a"},
                   {"ports", {31000, 31001}},
                   {"state", "TASK_RUNNING"},
                   {"startedAt", "2024-01-02T03:04:06.000Z"},
                   {"healthCheckResults", {{{"alive", true}}}}}};
  marathon_.on("GET /v2/apps/web", 200, {{"app", app}});
  for (const std::string id : {"web", "/web"}) {
    Outcome outcome = run({"app", "show", id});
    EXPECT_EQ(outcome.code, 0) << outcome.err;
    EXPECT_NE(outcome.out.find("ID            /web\n"), std::string::npos) << outcome.out;
    EXPECT_NE(outcome.out.find("INSTANCES     3/5 running, 1 staged\n"), std::string::npos)
        << outcome.out;
    EXPECT_NE(outcome.out.find(
                  "ID     HOST    PORTS        STATE         STARTED                   HEALTH\n"
                  "web.1  node-a  31000,31001  TASK_RUNNING  2024-01-02T03:04:06.000Z  healthy\n"),
              std::string::npos)
        << outcome.out;
  }
  EXPECT_EQ(marathon_.requests("GET /v2/apps/web").size(), 2u);
}

TEST_F(CliTest, TaskListPrintsTheTasksOfOneApp) {
  marathon_.on("GET /v2/apps/prod/web/tasks", 200,
               {{"tasks",
                 {{{"id", "prod_web.1"},
                   {"appId", "/prod/web"},
                   {"host", "node-b"},
                   {"ports", json::array()},
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
               {{"nodes",
                 {{{"id", "n1"},
                   {"hostname", "node-a"},
                   {"state", "active"},
                   {"resources", {{"cpus", 4}, {"mem", 8192}, {"disk", 100000}}},
                   {"used", {{"cpus", 1.5}, {"mem", 512}, {"disk", 0}}},
                   {"attributes", {{"rack", "r1"}, {"zone", "a"}}},
                   {"tasks", 3}},
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

const json kBerthNodes = {{"nodes",
                           {{{"id", "n1"}, {"hostname", "node-a"}, {"state", "draining"}},
                            {{"id", "n2"}, {"hostname", "node-b"}, {"state", "active"}}}}};

TEST_F(CliTest, NodeDrainAcceptsAHostnameAndPostsToTheNodesDrainPath) {
  marathon_.on("GET /berth/v1/nodes", 200, kBerthNodes);
  marathon_.on("POST /berth/v1/nodes/n2/drain", 200, {{"id", "n2"}, {"draining", true}});
  marathon_.on("DELETE /berth/v1/nodes/n1/drain", 200, {{"id", "n1"}, {"draining", false}});
  Outcome drained = run({"node", "drain", "node-b"});
  EXPECT_EQ(drained.code, 0) << drained.err;
  EXPECT_EQ(drained.out,
            "draining node-b (n2): no new tasks go there and its tasks move to other nodes\n");
  EXPECT_EQ(marathon_.requests("POST /berth/v1/nodes/n2/drain").size(), 1u);
  Outcome undrained = run({"node", "undrain", "n1"});
  EXPECT_EQ(undrained.code, 0) << undrained.err;
  EXPECT_EQ(undrained.out, "node-a (n1) takes new tasks again\n");
  EXPECT_EQ(marathon_.requests("DELETE /berth/v1/nodes/n1/drain").size(), 1u);
}

TEST_F(CliTest, NodeDrainOfAnUnknownNodeFailsAndChangesNothing) {
  marathon_.on("GET /berth/v1/nodes", 200, kBerthNodes);
  Outcome outcome = run({"node", "drain", "node-c"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.err, "no node has the id or hostname 'node-c'; `berth node list` shows them\n");
  EXPECT_TRUE(marathon_.requests("POST /berth/v1/nodes/node-c/drain").empty());
}

const std::string kUuidA = "6f1c3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
const std::string kUuidB = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
const std::string kWebData = "11111111-2222-4333-8444-555555555555";
const json kStateNodes = {{{"host", "10.0.0.1"}, {"uuid", kUuidA}, {"hostname", "node-a"}},
                          {{"host", "10.0.0.2"}, {"uuid", kUuidB}, {"hostname", "node-b"}}};
const json kWebDataConfig = {{"dataset_id", kWebData},     {"primary", kUuidA},
                             {"deleted", false},           {"metadata", {{"name", "web-data"}}},
                             {"maximum_size", 1073741824}, {"driver", "shared"}};

TEST_F(CliTest, DatasetCreateSendsTheParsedSizeAndTheResolvedPrimary) {
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  marathon_.on("POST /v1/configuration/datasets", [](const http::Request& request) {
    json created = json::parse(request.body);
    created["dataset_id"] = kWebData;
    created["deleted"] = false;
    return json_response(201, created);
  });
  Outcome outcome = run(
      {"dataset", "create", "web-data", "--size", "512M", "--node", "node-b", "--driver", "loop"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out,
            "created dataset web-data (" + kWebData + ") on node-b, size 512.0M, driver loop\n");
  auto posts = marathon_.requests("POST /v1/configuration/datasets");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(json::parse(posts[0].body), json({{"primary", kUuidB},
                                              {"maximum_size", 536870912},
                                              {"metadata", {{"name", "web-data"}}},
                                              {"driver", "loop"}}));
}

TEST_F(CliTest, DatasetCreateWithoutANodePicksTheFirstActiveOne) {
  marathon_.on("GET /berth/v1/nodes", 200,
               {{"nodes",
                 {{{"id", kUuidA}, {"hostname", "node-a"}, {"state", "draining"}},
                  {{"id", kUuidB}, {"hostname", "node-b"}, {"state", "active"}}}}});
  marathon_.on("POST /v1/configuration/datasets", 201, kWebDataConfig);
  Outcome outcome = run({"dataset", "create", "web-data"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  auto posts = marathon_.requests("POST /v1/configuration/datasets");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(json::parse(posts[0].body),
            json({{"primary", kUuidB}, {"metadata", {{"name", "web-data"}}}}));
}

TEST_F(CliTest, DatasetCreateWithABadSizeIsAUsageErrorAndSendsNothing) {
  Outcome outcome = run({"dataset", "create", "web-data", "--size", "12X", "--node", "node-a"});
  EXPECT_EQ(outcome.code, 2);
  EXPECT_NE(outcome.err.find("bad size '12X'"), std::string::npos) << outcome.err;
  EXPECT_TRUE(marathon_.requests("GET /v1/state/nodes").empty());
  EXPECT_TRUE(marathon_.requests("POST /v1/configuration/datasets").empty());
}

TEST_F(CliTest, FlockerDescriptionIsPrintedAndFails) {
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  marathon_.on("POST /v1/configuration/datasets", 400,
               {{"description", "maximum_size 1024 is too small: at least 67108864 bytes"}});
  Outcome outcome = run({"dataset", "create", "tiny", "--size", "1K", "--node", kUuidA});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_EQ(outcome.err, "maximum_size 1024 is too small: at least 67108864 bytes\n");
  EXPECT_EQ(outcome.out, "");
}

TEST_F(CliTest, DatasetListJoinsConfigurationStateAndHostnames) {
  json detached = {{"dataset_id", "99999999-2222-4333-8444-555555555555"},
                   {"primary", kUuidB},
                   {"deleted", false},
                   {"metadata", {{"name", "db"}}},
                   {"maximum_size", 67108864},
                   {"driver", "local"}};
  json gone = {{"dataset_id", "00000000-2222-4333-8444-555555555555"},
               {"primary", kUuidB},
               {"deleted", true},
               {"metadata", {{"name", "old"}}}};
  marathon_.on("GET /v1/configuration/datasets", 200, {kWebDataConfig, detached, gone});
  marathon_.on(
      "GET /v1/state/datasets", 200,
      {{{"dataset_id", kWebData}, {"primary", kUuidA}, {"path", "/var/lib/berth/datasets/web"}},
       {{"dataset_id", detached["dataset_id"]}, {"maximum_size", 67108864}}});
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  Outcome outcome = run({"dataset", "list"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(
      outcome.out,
      "ID                                    NAME      SIZE   DRIVER  PRIMARY  ATTACHED  PATH\n"
      "99999999-2222-4333-8444-555555555555  db        64.0M  local   node-b   -         -\n"
      "11111111-2222-4333-8444-555555555555  web-data  1.0G   shared  node-a   node-a    "
      "/var/lib/berth/datasets/web\n");
  Outcome all = run({"dataset", "list", "--all"});
  EXPECT_NE(all.out.find("old (deleted)"), std::string::npos) << all.out;
}

TEST_F(CliTest, DatasetMoveWaitsUntilTheStateShowsTheNewPrimary) {
  marathon_.on("GET /v1/configuration/datasets", 200, json::array({kWebDataConfig}));
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  marathon_.on("POST /v1/configuration/datasets/" + kWebData, [](const http::Request& request) {
    json moved = kWebDataConfig;
    moved["primary"] = json::parse(request.body)["primary"];
    return json_response(200, moved);
  });
  int polls = 0;
  marathon_.on("GET /v1/state/datasets", [&polls](const http::Request&) {
    ++polls;
    json entry = {{"dataset_id", kWebData}};
    if (polls == 1) entry["primary"] = kUuidA;  // still on the old node
    if (polls >= 4) entry["primary"] = kUuidB;  // detached in between
    return json_response(200, json::array({entry}));
  });
  Outcome outcome = run({"dataset", "move", "web-data", "node-b"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "moved web-data to node-b in 0.60 s\n");
  EXPECT_EQ(polls, 4);
  EXPECT_EQ(environment_.sleeps(), 3);
  auto posts = marathon_.requests("POST /v1/configuration/datasets/" + kWebData);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(json::parse(posts[0].body), json({{"primary", kUuidB}}));
}

TEST_F(CliTest, DatasetMoveGivesUpAfterTheTimeout) {
  marathon_.on("GET /v1/configuration/datasets", 200, json::array({kWebDataConfig}));
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  marathon_.on("POST /v1/configuration/datasets/" + kWebData, 200, kWebDataConfig);
  marathon_.on("GET /v1/state/datasets", 200,
               json::array({{{"dataset_id", kWebData}, {"primary", kUuidA}}}));
  Outcome outcome = run({"dataset", "move", kWebData, "node-b", "--timeout", "1"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("timed out after 1s waiting for dataset web-data to attach on node-b"),
            std::string::npos)
      << outcome.err;
  EXPECT_EQ(environment_.sleeps(), 5);
}

TEST_F(CliTest, DatasetShowAndDestroyFindTheDatasetByName) {
  marathon_.on("GET /v1/configuration/datasets", 200, json::array({kWebDataConfig}));
  marathon_.on("GET /v1/state/datasets", 200,
               json::array({{{"dataset_id", kWebData}, {"primary", kUuidA}, {"path", "/d/web"}}}));
  marathon_.on("GET /v1/state/nodes", 200, kStateNodes);
  marathon_.on("DELETE /v1/configuration/datasets/" + kWebData, 200, kWebDataConfig);
  Outcome shown = run({"dataset", "show", "web-data"});
  EXPECT_EQ(shown.code, 0) << shown.err;
  EXPECT_EQ(shown.out, "ID        " + kWebData +
                           "\n"
                           "NAME      web-data\n"
                           "SIZE      1.0G (1073741824 bytes)\n"
                           "DRIVER    shared\n"
                           "PRIMARY   node-a (" +
                           kUuidA +
                           ")\n"
                           "ATTACHED  node-a\n"
                           "PATH      /d/web\n");
  Outcome destroyed = run({"dataset", "destroy", "web-data"});
  EXPECT_EQ(destroyed.code, 0) << destroyed.err;
  EXPECT_EQ(marathon_.requests("DELETE /v1/configuration/datasets/" + kWebData).size(), 1u);
  Outcome missing = run({"dataset", "destroy", "nope"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "no dataset has the id or name 'nope'; `berth dataset list` shows them\n");
}

// One task's stdout and stderr as the master relays them from the agent (agent/task_logs.h):
// offset (negative: from the end) and length, answers of at most `max_answer_bytes`, and the
// done flag. `script` runs before each answer with the request's number (from 1), so the task
// can write or end between polls.
class FakeTaskLogs {
 public:
  std::string out, err;
  bool done = false;
  uint64_t max_answer_bytes = 1 << 20;
  std::function<void(int request, FakeTaskLogs& logs)> script;

  http::Response answer(const http::Request& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_;
    if (script) script(requests_, *this);
    const std::string& text = request.query_value("stream") == "stderr" ? err : out;
    const int64_t offset = std::stoll(request.query_value("offset", "0"));
    const uint64_t length =
        std::min<uint64_t>(std::stoull(request.query_value("length", "1048576")), max_answer_bytes);
    const uint64_t size = text.size();
    uint64_t start = std::min<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(offset, 0)), size);
    if (offset < 0)
      start = static_cast<uint64_t>(-offset) >= size ? 0 : size - static_cast<uint64_t>(-offset);
    http::Response response;
    response.content_type = "text/plain";
    response.body = text.substr(start, length);
    response.headers = {{"X-Berth-Log-Offset", std::to_string(start + response.body.size())},
                        {"X-Berth-Log-Size", std::to_string(size)},
                        {"X-Berth-Task-Done", done ? "true" : "false"}};
    return response;
  }

 private:
  std::mutex mutex_;
  int requests_ = 0;
};

std::string numbered_lines(int first, int last, size_t width = 0) {
  std::string text;
  for (int i = first; i <= last; ++i) {
    std::string line = "line " + std::to_string(i);
    if (line.size() < width) line += std::string(width - line.size(), '.');
    text += line + "\n";
  }
  return text;
}

class TaskLogsTest : public CliTest {
 protected:
  TaskLogsTest() {
    marathon_.on("GET /berth/v1/tasks/web.1/logs",
                 [this](const http::Request& request) { return logs_.answer(request); });
  }

  // The offset query of each request, in order.
  std::vector<std::string> offsets_asked() const {
    std::vector<std::string> offsets;
    for (const auto& request : marathon_.requests("GET /berth/v1/tasks/web.1/logs")) {
      offsets.push_back(request.query_value("offset", "<none>"));
    }
    return offsets;
  }

  FakeTaskLogs logs_;
};

TEST_F(TaskLogsTest, PrintsTheStdoutBytesAsTheyAre) {
  logs_.out = "first line\n\t{\"not\": \"a table\"}\n\xff\xfe binary\nno newline at the end";
  logs_.err = "not this\n";
  logs_.max_answer_bytes = 8;  // several answers
  Outcome outcome = run({"task", "logs", "web.1"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, logs_.out);
  EXPECT_EQ(outcome.err, "");
  EXPECT_EQ(environment_.sleeps(), 0);
  auto requests = marathon_.requests("GET /berth/v1/tasks/web.1/logs");
  ASSERT_EQ(requests.size(), (logs_.out.size() + 7) / 8);
  EXPECT_EQ(requests[0].query_value("stream"), "stdout");
  EXPECT_EQ(requests[0].query_value("offset"), "0");
  EXPECT_EQ(requests[1].query_value("offset"), "8");
}

TEST_F(TaskLogsTest, StderrReadsTheStderrStream) {
  logs_.out = "not this\n";
  logs_.err = "Traceback (most recent call last):\n  boom\n";
  Outcome outcome = run({"task", "logs", "web.1", "--stderr"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, logs_.err);
  EXPECT_EQ(marathon_.requests("GET /berth/v1/tasks/web.1/logs").at(0).query_value("stream"),
            "stderr");
}

TEST_F(TaskLogsTest, AnEmptyStreamPrintsNothing) {
  Outcome outcome = run({"task", "logs", "web.1"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(offsets_asked(), std::vector<std::string>{"0"});
}

TEST_F(TaskLogsTest, TailPrintsOnlyTheLastLines) {
  logs_.out = numbered_lines(1, 100);
  Outcome three = run({"task", "logs", "web.1", "--tail", "3"});
  EXPECT_EQ(three.code, 0) << three.err;
  EXPECT_EQ(three.out, "line 98\nline 99\nline 100\n");
  auto requests = marathon_.requests("GET /berth/v1/tasks/web.1/logs");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].query_value("offset"), "-65536");
  EXPECT_EQ(requests[0].query_value("length"), "65536");
  EXPECT_EQ(run({"task", "logs", "web.1", "--tail", "500"}).out, logs_.out);
  EXPECT_EQ(run({"task", "logs", "web.1", "--tail", "0"}).out, "");
  logs_.out = "partial\nlast line without newline";
  EXPECT_EQ(run({"task", "logs", "web.1", "--tail", "1"}).out, "last line without newline");
}

TEST_F(TaskLogsTest, TailReadsFurtherBackWhenLinesAreLong) {
  logs_.out = numbered_lines(1, 200, 3000);  // 600 KB; 64 KiB hold 21 lines
  logs_.max_answer_bytes = 50000;
  Outcome outcome = run({"task", "logs", "web.1", "--tail", "40"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, numbered_lines(161, 200, 3000));
  EXPECT_GT(marathon_.requests("GET /berth/v1/tasks/web.1/logs").size(), 2u);
  EXPECT_EQ(offsets_asked().at(0), "-65536");
}

TEST_F(TaskLogsTest, FollowPollsUntilTheTaskIsDoneAndItsOutputDrained) {
  logs_.script = [](int request, FakeTaskLogs& logs) {
    if (request == 1) logs.out = "starting\n";
    if (request == 3) logs.out += "working\n";
    if (request == 5) {
      logs.out += "stopped\n";
      logs.done = true;
    }
  };
  Outcome outcome = run({"task", "logs", "web.1", "--follow"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "starting\nworking\nstopped\n");
  EXPECT_EQ(offsets_asked(), (std::vector<std::string>{"0", "9", "9", "17", "17"}));
  EXPECT_EQ(environment_.sleeps(), 4);
}

TEST_F(TaskLogsTest, FollowOfAnEndedTaskDrainsEverythingWithoutWaiting) {
  logs_.out = numbered_lines(1, 10);
  logs_.done = true;
  logs_.max_answer_bytes = 16;
  Outcome outcome = run({"task", "logs", "web.1", "-f"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, logs_.out);
  EXPECT_EQ(environment_.sleeps(), 0);
}

TEST_F(TaskLogsTest, TailAndFollowGoOnFromTheEndOfTheTail) {
  logs_.out = "a\nb\n";
  logs_.script = [](int request, FakeTaskLogs& logs) {
    if (request == 3) {
      logs.out += "c\n";
      logs.done = true;
    }
  };
  Outcome outcome = run({"task", "logs", "web.1", "--tail", "1", "--follow"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "b\nc\n");
  EXPECT_EQ(offsets_asked(), (std::vector<std::string>{"-65536", "4", "4"}));
  EXPECT_EQ(environment_.sleeps(), 1);
}

TEST_F(TaskLogsTest, MasterRefusalsArePrintedAndFail) {
  marathon_.on("GET /berth/v1/tasks/web.9/logs", 404,
               {{"message", "task web.9 is not on this node"}});
  Outcome unknown = run({"task", "logs", "web.9"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.out, "");
  EXPECT_EQ(unknown.err, "task web.9 is not on this node\n");
  marathon_.on("GET /berth/v1/tasks/web.1/logs", 502,
               {{"message", "the agent of task web.1 at 10.0.0.2:5051 does not answer"}});
  Outcome unreachable = run({"task", "logs", "web.1", "--follow"});
  EXPECT_EQ(unreachable.code, 1);
  EXPECT_EQ(unreachable.err, "the agent of task web.1 at 10.0.0.2:5051 does not answer\n");
  EXPECT_EQ(environment_.sleeps(), 0);
}

TEST_F(TaskLogsTest, AnAnswerWithoutOffsetsFailsInsteadOfLooping) {
  marathon_.on("GET /berth/v1/tasks/web.1/logs", [](const http::Request&) {
    http::Response response;
    response.content_type = "text/plain";
    response.body = "hello\n";
    return response;
  });
  Outcome outcome = run({"task", "logs", "web.1", "--follow"});
  EXPECT_EQ(outcome.code, 1);
  EXPECT_NE(outcome.err.find("lacks valid X-Berth-Log-Offset"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

TEST_F(TaskLogsTest, JsonAndNegativeTailAreUsageErrors) {
  EXPECT_EQ(run({"task", "logs", "web.1", "--json"}).code, 2);
  EXPECT_EQ(run({"task", "logs", "web.1", "--tail", "-2"}).code, 2);
  EXPECT_EQ(run({"task", "logs"}).code, 2);
  EXPECT_TRUE(marathon_.requests("GET /berth/v1/tasks/web.1/logs").empty());
}

TEST(TailStart, FindsWhereTheLastLinesBegin) {
  EXPECT_EQ(tail_start("a\nb\nc\n", 2), 2u);
  EXPECT_EQ(tail_start("a\nb\nc", 2), 2u);
  EXPECT_EQ(tail_start("a\nb\nc\n", 0), 6u);
  EXPECT_EQ(tail_start("\n\n\n", 2), 1u);
  EXPECT_EQ(tail_start("a\nb\nc\n", 3), std::nullopt) << "the first line may have begun earlier";
  EXPECT_EQ(tail_start("", 1), std::nullopt);
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
  json queue = {
      {"queue",
       {{{"app", {{"id", "/other"}}},
         {"processedOffersSummary",
          {{"rejectSummaryLastOffers",
            {{{"reason", "InsufficientMemory"}, {"declined", 2}, {"processed", 2}}}}}}},
        {{"app", {{"id", "/web"}}},
         {"processedOffersSummary",
          {{"rejectSummaryLastOffers",
            {{{"reason", "UnfulfilledRole"}, {"declined", 0}, {"processed", 3}},
             {{"reason", "UnfulfilledConstraint"}, {"declined", 1}, {"processed", 3}}}}}}}}}};
  EXPECT_EQ(queue_line(queue, "/web"), "waiting: UnfulfilledConstraint on 1/3 nodes");
  EXPECT_EQ(queue_line(queue, "/missing"), "");
  json backoff = {
      {"queue",
       {{{"app", {{"id", "/web"}}}, {"delay", {{"timeLeftSeconds", 12}, {"overdue", false}}}}}}};
  EXPECT_EQ(queue_line(backoff, "/web"),
            "waiting: backing off after failed launches, next attempt in 12s");
}

TEST_F(CliTest, GroupDeployPutsTheGroupWhenItExistsAndFollowsTheDeployment) {
  marathon_.on("POST /v2/groups", 409,
               {{"message", "Group /stack is already created. Use PUT to change this group."}});
  marathon_.on("PUT /v2/groups/stack", 200, {{"deploymentId", "g2"}, {"version", "v2"}});
  marathon_.on("GET /v2/deployments", 200, json::array());
  std::string definition = R"({"id":"/stack","apps":[{"id":"db","cmd":"sleep 1000"}]})";
  environment_.set_input(definition);
  Outcome outcome = run({"group", "deploy", "-"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "deployed group /stack (version v2)\n");
  auto puts = marathon_.requests("PUT /v2/groups/stack");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(json::parse(puts[0].body), json::parse(definition));
}

TEST_F(CliTest, GroupListPrintsEveryGroupOfTheTree) {
  marathon_.on("GET /v2/groups", 200, json::parse(R"({"id":"/","apps":[],"groups":[
      {"id":"/stack","version":"v1","apps":[],"groups":[
        {"id":"/stack/web","dependencies":["/stack/db"],"apps":[{"id":"/stack/web/front"}],
         "groups":[]}]}]})"));
  Outcome outcome = run({"group", "list"});
  EXPECT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("/stack/web"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("/stack/web/front"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("/stack/db"), std::string::npos) << outcome.out;
}

TEST_F(CliTest, GroupScaleRollbackAndDestroySendMarathonsBodies) {
  marathon_.on("PUT /v2/groups/stack", 200, {{"deploymentId", "g3"}, {"version", "v3"}});
  marathon_.on("DELETE /v2/groups/stack", 200, {{"deploymentId", "g4"}, {"version", "v4"}});
  EXPECT_EQ(run({"group", "scale", "stack", "2", "--no-wait"}).code, 0);
  EXPECT_EQ(run({"group", "rollback", "/stack", "v1", "--no-wait", "--force"}).code, 0);
  Outcome destroyed = run({"group", "destroy", "stack", "--no-wait"});
  EXPECT_EQ(destroyed.code, 0) << destroyed.err;
  EXPECT_EQ(destroyed.out, "started deployment g4 for /stack (version v4)\n");
  auto puts = marathon_.requests("PUT /v2/groups/stack");
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(json::parse(puts[0].body), json({{"scaleBy", 2.0}}));
  EXPECT_EQ(json::parse(puts[1].body), json({{"version", "v1"}}));
  EXPECT_EQ(puts[1].query_value("force"), "true");
  EXPECT_EQ(marathon_.requests("DELETE /v2/groups/stack").size(), 1u);
}

}  // namespace
}  // namespace berth::cli
