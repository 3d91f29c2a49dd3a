// Hostile input and access control on real processes (docs/security.md): what an attacker
// with nothing but curl on the local network tried, each as a regression test. The master
// runs from the `berth` binary; the attacker is plain HTTP from this process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <thread>

#include "http/http.h"
#include "http/raw_connection_test_support.h"
#include "tests/integration/cluster.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kAnonymous = {};

http::ClientResponse raw(const Cluster& cluster, const std::string& method,
                         const std::string& target, const std::string& body = "",
                         const Headers& headers = kAnonymous) {
  auto r = http::request(cluster.url(), method, target, body, 15000, headers);
  EXPECT_TRUE(r.ok()) << method << " " << target << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : http::ClientResponse{};
}

nlohmann::json body_of(const http::ClientResponse& r) {
  return nlohmann::json::parse(r.body, nullptr, false);
}

bool master_alive(const Cluster& cluster) {
  auto r = http::request(cluster.url(), "GET", "/ping", "", 2000);
  return r.ok() && r->status == 200;
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::string create_token(Cluster& cluster, const std::string& role) {
  auto created = cluster.call("POST", "/berth/v1/tokens",
                              nlohmann::json{{"role", role}, {"name", "test"}}.dump());
  EXPECT_EQ(created.status, 201) << created.body.dump();
  return created.body.value("token", "");
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// The id of the agent whose hostname is `hostname`.
std::string node_id(Cluster& cluster, const std::string& hostname) {
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    if (n.value("hostname", "") == hostname) return n.value("id", "");
  }
  return "";
}

}  // namespace

TEST(Security, AnonymousRequestsAreRefusedOnEveryRoute) {
  Cluster cluster(1);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v2/apps"},
      {"POST", "/v2/apps"},
      {"GET", "/v2/apps/x"},
      {"PUT", "/v2/apps/x"},
      {"DELETE", "/v2/apps/x"},
      {"GET", "/v2/tasks"},
      {"POST", "/v2/tasks/delete"},
      {"GET", "/v2/deployments"},
      {"GET", "/v2/queue"},
      {"GET", "/v2/info"},
      {"GET", "/v2/leader"},
      {"GET", "/v2/events"},
      {"GET", "/v2/groups"},
      {"POST", "/v2/groups"},
      {"DELETE", "/v2/deployments/x"},
      {"POST", "/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:9/"},
      {"GET", "/berth/v1/info"},
      {"GET", "/berth/v1/tasks"},
      {"GET", "/berth/v1/nodes"},
      {"POST", "/berth/v1/nodes/x/drain"},
      {"GET", "/berth/v1/tokens"},
      {"POST", "/berth/v1/tokens"},
      {"GET", "/berth/v1/tasks/x/logs"},
      {"GET", "/berth/v1/failovers"},
      {"GET", "/metrics"},
      {"GET", "/metrics/prometheus"},
      {"GET", "/v1/configuration/datasets"},
      {"POST", "/v1/configuration/datasets"},
      {"GET", "/v1/state/datasets"},
      {"GET", "/v1/state/nodes"},
      {"GET", "/no/such/route"}};
  for (const auto& [method, path] : routes) {
    auto r = raw(cluster, method, path, "{}");
    EXPECT_EQ(r.status, 401) << method << " " << path << ": " << r.body;
    EXPECT_NE(r.headers["www-authenticate"].find("Bearer"), std::string::npos)
        << method << " " << path;
    auto body = body_of(r);
    const char* key = path.rfind("/v1/", 0) == 0 ? "description" : "message";
    EXPECT_TRUE(body.is_object() && body.contains(key)) << method << " " << path << ": " << r.body;
  }
  // A wrong token is refused as well, and /ping needs nothing.
  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", bearer("admin.guess")).status, 401);
  EXPECT_EQ(raw(cluster, "GET", "/ping").status, 200);
  // Nothing the refused POSTs carried was created.
  EXPECT_TRUE(cluster.call("GET", "/v2/apps").body["apps"].empty());
}

TEST(Security, RolesLimitWhatATokenMayDoAndRevocationIsImmediate) {
  Cluster cluster(1);
  std::string viewer = create_token(cluster, "viewer");
  std::string operator_token = create_token(cluster, "operator");
  const std::string app = R"({"id":"/roles","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":0})";

  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", bearer(viewer)).status, 200);
  auto denied = raw(cluster, "POST", "/v2/apps", app, bearer(viewer));
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(denied.body.find("needs operator"), std::string::npos) << denied.body;

  EXPECT_EQ(raw(cluster, "POST", "/v2/apps", app, bearer(operator_token)).status, 201);
  EXPECT_EQ(raw(cluster, "POST", "/berth/v1/tokens", R"({"role":"admin"})", bearer(operator_token))
                .status,
            403);
  EXPECT_EQ(raw(cluster, "GET", "/berth/v1/tokens", "", bearer(operator_token)).status, 403);
  // Callback subscribers make the master send requests: admin only.
  EXPECT_EQ(raw(cluster, "POST", "/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:9/", "",
                bearer(operator_token))
                .status,
            403);

  // Listed without secrets; revoked, the token stops working at once.
  auto listed = cluster.call("GET", "/berth/v1/tokens");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.dump().find(viewer.substr(viewer.find('.') + 1)), std::string::npos);
  std::string viewer_id = viewer.substr(0, viewer.find('.'));
  EXPECT_EQ(cluster.call("DELETE", "/berth/v1/tokens/" + viewer_id).status, 200);
  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", bearer(viewer)).status, 401);

  // Clients that only speak HTTP Basic (marathon-lb) give a token as the password.
  std::string basic = "Basic " + std::string("dXNlcjo=");  // "user:" with an empty password
  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", {{"Authorization", basic}}).status, 401);
  // DC/OS's form, which python-marathon's auth_token sends.
  EXPECT_EQ(
      raw(cluster, "GET", "/v2/apps", "", {{"Authorization", "token=" + operator_token}}).status,
      200);
  // A credential without a scheme is refused without being echoed (clients log error bodies).
  auto schemeless = raw(cluster, "GET", "/v2/apps", "", {{"Authorization", operator_token}});
  EXPECT_EQ(schemeless.status, 401);
  EXPECT_EQ(schemeless.body.find(operator_token), std::string::npos) << schemeless.body;

  // Tokens survive a restart of the master (they are in its store, hashed).
  cluster.kill_master();
  cluster.start_master();
  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", bearer(operator_token)).status, 200);
  EXPECT_EQ(raw(cluster, "GET", "/v2/apps", "", bearer(viewer)).status, 401);
  std::ifstream db(cluster.dir() + "/master/berth.db", std::ios::binary);
  std::string stored((std::istreambuf_iterator<char>(db)), std::istreambuf_iterator<char>());
  EXPECT_EQ(stored.find(operator_token.substr(operator_token.find('.') + 1)), std::string::npos)
      << "a token's secret is stored in clear";
}

TEST(Security, ForgedAgentCallsAreRefusedAndCannotReleaseADataset) {
  Cluster cluster(2);
  std::string agent1 = node_id(cluster, cluster.agent_hostname(1));
  ASSERT_FALSE(agent1.empty());
  auto created =
      cluster.call("POST", "/v1/configuration/datasets",
                   nlohmann::json{{"primary", agent1}, {"metadata", {{"name", "forged"}}}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string dataset = created.body["dataset_id"];
  auto attached_on_1 = [&] {
    for (const auto& d : cluster.call("GET", "/v1/state/datasets").body) {
      if (d.value("dataset_id", "") == dataset && d.value("primary", "") == agent1) return true;
    }
    return false;
  };
  ASSERT_TRUE(Cluster::eventually(attached_on_1, seconds(10)));

  // The attacker knows agent-1's id (it is public to viewers) but not its secret.
  const std::string heartbeat = R"({"seq":1,"datasets":[]})";
  for (const auto& headers :
       {kAnonymous, bearer("integration-token"), bearer(cluster.admin_token())}) {
    EXPECT_EQ(raw(cluster, "POST", "/berth/v1/agents/" + agent1 + "/heartbeat", heartbeat, headers)
                  .status,
              401);
    EXPECT_EQ(raw(cluster, "POST", "/berth/v1/agents/" + agent1 + "/status",
                  R"({"updates":[{"update_id":"u","task_id":"t","state":"TASK_RUNNING",
                      "health_results":")" +
                      nested(2000) + R"("}]})",
                  headers)
                  .status,
              401);
    EXPECT_EQ(raw(cluster, "GET",
                  "/berth/v1/agents/" + agent1 + "/commands?after=999999999&wait_ms=0", "", headers)
                  .status,
              401);
  }
  // The forged "I hold nothing" changed nothing: the dataset is still agent-1's, the agent
  // still active, and it keeps its commands.
  EXPECT_TRUE(attached_on_1());
  EXPECT_EQ(cluster.active_nodes(), 2);

  // A forged heartbeat no longer keeps a dead node alive: killed, agent-1 is declared lost.
  cluster.kill_agent(1);
  std::atomic<bool> stop{false};
  std::thread forger([&] {
    while (!stop) {
      (void)http::request(cluster.url(), "POST", "/berth/v1/agents/" + agent1 + "/heartbeat",
                          heartbeat, 1000);
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  bool lost = Cluster::eventually([&] { return cluster.active_nodes() == 1; }, seconds(10));
  stop = true;
  forger.join();
  EXPECT_TRUE(lost) << "forged heartbeats kept a dead agent active";
}

TEST(Security, DeepJsonIsRefusedWithFourHundredAndTheMasterStaysUp) {
  Cluster cluster(1);
  const std::string deep = nested(100000);
  struct Case {
    std::string method, path, body;
  };
  const std::vector<Case> cases = {
      {"POST", "/v2/tasks/delete", R"({"ids":)" + deep + "}"},
      {"POST", "/v1/configuration/datasets", R"({"metadata":{"name":)" + deep + "}}"},
      {"POST", "/v1/configuration/datasets", R"({"maximum_size":)" + deep + "}"},
      {"POST", "/v2/apps", R"({"id":"/deep","cmd":"sleep 1","check":)" + deep + "}"},
      {"PUT", "/v2/apps/deep", R"({"cmd":"sleep 1","labels":)" + deep + "}"},
      {"POST", "/berth/v1/agents/register",
       R"({"token":"integration-token","tasks":)" + deep + "}"},
  };
  for (const auto& c : cases) {
    auto r = cluster.call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, 400) << c.method << " " << c.path << ": " << r.body.dump().substr(0, 300);
    ASSERT_TRUE(master_alive(cluster)) << "the master died on " << c.method << " " << c.path;
  }
  // Invalid UTF-8 is a 400, a number that fits no field a 422 naming it; neither creates anything.
  auto utf8 = cluster.call("POST", "/v2/apps", "{\"id\":\"/bad\xff\",\"cmd\":\"sleep 1\"}");
  EXPECT_EQ(utf8.status, 400) << utf8.body.dump();
  auto big = cluster.call("POST", "/v2/apps", R"({"id":"/big","cmd":"sleep 1","instances":1e300})");
  EXPECT_EQ(big.status, 422) << big.body.dump();
  EXPECT_NE(big.body.dump().find("/instances"), std::string::npos) << big.body.dump();
  auto huge =
      cluster.call("POST", "/v2/apps", R"({"id":"/huge","cmd":"sleep 1","instances":1e999})");
  EXPECT_EQ(huge.status, 400) << huge.body.dump();
  auto size = cluster.call("POST", "/v1/configuration/datasets",
                           R"({"primary":"x","maximum_size":184467440737095516150})");
  EXPECT_TRUE(size.status == 400 || size.status == 422) << size.status << " " << size.body.dump();
  EXPECT_TRUE(cluster.call("GET", "/v2/apps").body["apps"].empty());
  EXPECT_TRUE(master_alive(cluster));
}

TEST(Security, ABacktrackingConstraintPatternCannotHangTheMaster) {
  Cluster cluster(1);
  auto started = std::chrono::steady_clock::now();
  auto r = cluster.call("POST", "/v2/apps",
                        R"({"id":"/regex","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":1,
                            "constraints":[["hostname","LIKE","(((.*)*)*)*x"]]})");
  EXPECT_TRUE(r.status == 201 || r.status == 422) << r.status << " " << r.body.dump();
  // A pattern RE2 cannot run at all is refused with a message naming it.
  auto backref = cluster.call(
      "POST", "/v2/apps",
      R"({"id":"/backref","cmd":"sleep 1","constraints":[["hostname","LIKE","(a)\\1"]]})");
  EXPECT_EQ(backref.status, 422) << backref.body.dump();
  // The master keeps answering calls that take its state lock, and the agent keeps its lease.
  for (int i = 0; i < 20; ++i) {
    auto apps = http::request(cluster.url(), "GET", "/v2/apps", "", 2000, cluster.admin_headers());
    ASSERT_TRUE(apps.ok() && apps->status == 200) << "the master stopped answering";
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(cluster.active_nodes(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
}

TEST(Security, FiveThousandIdleConnectionsCostNoAgentItsLease) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 20000);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 6000)
    GTEST_SKIP() << "this process may open only " << limit.rlim_cur << " files";
  Cluster cluster(2);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port =
      htons(static_cast<uint16_t>(std::stoi(cluster.url().substr(cluster.url().rfind(':') + 1))));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> idle;
  for (int i = 0; i < 5000; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      continue;
    }
    // Half of them send half a request and stop, as slowloris does.
    if (i % 2 == 0) {
      const char partial[] = "GET /v2/apps HTTP/1.1\r\nHost: x\r\n";
      (void)::send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL);
    }
    idle.push_back(fd);
  }
  EXPECT_GT(idle.size(), 4000u);
  // Held for longer than the lease (1 s here): no agent may be declared lost, and a fresh
  // client is served promptly.
  auto held_until = std::chrono::steady_clock::now() + seconds(6);
  while (std::chrono::steady_clock::now() < held_until) {
    auto started = std::chrono::steady_clock::now();
    auto r = http::request(cluster.url(), "GET", "/v2/apps", "", 5000, cluster.admin_headers());
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(r.ok() && r->status == 200)
        << (r.ok() ? std::to_string(r->status) : r.error().message);
    EXPECT_LT(took, seconds(2));
    std::this_thread::sleep_for(milliseconds(500));
  }
  auto nodes = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : nodes.body["nodes"]) {
    EXPECT_EQ(n.value("state", ""), "active") << n.dump();
  }
  for (int fd : idle) ::close(fd);
}

// The threads of process `pid`, from /proc.
int threads_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST(Security, AFloodOfEventStreamsFromTheAgentsAddressCostsNoLeaseNoThreadAndNoRoom) {
  // 256 event streams from 127.0.0.1, where the agents also run, the most the master takes.
  // A stream holds no worker thread and no busy slot: ordinary API requests from that address
  // are still served, the master's threads stay few, and agents keep heartbeating.
  Cluster cluster(2);
  std::map<std::string, std::string> registered;  // node id -> registeredAt
  auto before = cluster.call("GET", "/berth/v1/nodes");
  for (const auto& n : before.body["nodes"]) {
    registered[n.value("id", "")] = n.value("registeredAt", "");
  }
  ASSERT_EQ(registered.size(), 2u);
  const int threads_before = threads_of(cluster.master_pid(1));
  const auto port =
      static_cast<uint16_t>(std::stoi(cluster.url().substr(cluster.url().rfind(':') + 1)));
  const std::string request =
      "GET /v2/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
      "Authorization: Bearer " +
      cluster.admin_token() + "\r\n\r\n";
  // A stream whose answer's head arrived (or null when none came in 10 s).
  auto open_stream = [&]() -> std::unique_ptr<http::RawConnection> {
    auto stream = std::make_unique<http::RawConnection>(port, request);
    if (!stream->connected() || !stream->read_until("\r\n\r\n", 10000)) return nullptr;
    return stream;
  };
  std::vector<std::unique_ptr<http::RawConnection>> streams;
  for (int i = 0; i < 256; ++i) {
    auto stream = open_stream();
    ASSERT_NE(stream, nullptr) << "stream " << i;
    ASSERT_NE(stream->received().find("HTTP/1.1 200"), std::string::npos)
        << "stream " << i << ": " << stream->received();
    streams.push_back(std::move(stream));
  }
  auto extra = open_stream();
  EXPECT_TRUE(extra && extra->received().find("HTTP/1.1 503") != std::string::npos)
      << (extra ? extra->received() : "no answer");
  extra.reset();
  const int threads_streaming = threads_of(cluster.master_pid(1));
  std::cout << "master threads: " << threads_before << " before, " << threads_streaming
            << " with 256 event streams open\n";
  EXPECT_LT(threads_streaming, threads_before + 40) << "a thread per stream?";
  for (int i = 0; i < 5; ++i) {
    auto r = http::request(cluster.url(), "GET", "/v2/apps", "", 5000, cluster.admin_headers());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
  }
  // Every stream hears an event: an app created now.
  auto created = cluster.call("POST", "/v2/apps",
                              R"({"id":"/flood-witness","cmd":"sleep 1000","instances":0})");
  ASSERT_EQ(created.status, 201) << created.body.dump();
  int heard = 0;
  for (auto& stream : streams) {
    if (stream->read_until("api_post_event", 10000)) ++heard;
  }
  EXPECT_EQ(heard, 256);
  // Held for several leases (1 s here): every agent stays active.
  std::this_thread::sleep_for(seconds(5));
  streams.clear();
  // The master notices a closed stream within a second: the streams' room is free again.
  std::unique_ptr<http::RawConnection> again;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        again = open_stream();
        return again && again->received().find("HTTP/1.1 200") != std::string::npos;
      },
      seconds(5)))
      << (again ? again->received() : "no answer");
  again.reset();
  ApiAnswer nodes;
  ASSERT_TRUE(Cluster::eventually(
      [&] {
        nodes = cluster.call("GET", "/berth/v1/nodes");
        return nodes.status == 200;
      },
      seconds(30)))
      << nodes.body.dump();
  ASSERT_EQ(nodes.body["nodes"].size(), 2u) << nodes.body.dump();
  for (const auto& n : nodes.body["nodes"]) {
    EXPECT_EQ(n.value("state", ""), "active") << n.dump();
    // An agent declared lost would have registered again since.
    EXPECT_EQ(n.value("registeredAt", ""), registered[n.value("id", "")])
        << "lost its lease: " << n.dump();
  }
}

TEST(Security, ALaunchTheAgentNeverConfirmsFailsAndIsReplaced) {
  // A fake agent registers with the join token and heartbeats, but never fetches commands.
  Cluster cluster(0, 1500, {}, {}, {"--task-launch-timeout-ms", "1500"});
  auto registered = raw(cluster, "POST", "/berth/v1/agents/register",
                        R"({"token":"integration-token","hostname":"deaf","address":"127.0.0.1",
                            "resources":{"cpus":4,"mem":4096,"disk":1000,"ports":[{"begin":15000,"end":15010}]}})");
  ASSERT_EQ(registered.status, 200) << registered.body;
  auto reg = body_of(registered);
  std::string id = reg["agent_id"];
  std::string secret = reg["agent_secret"];
  ASSERT_FALSE(secret.empty());
  std::atomic<bool> stop{false};
  std::thread heartbeats([&] {
    for (uint64_t seq = 1; !stop; ++seq) {
      (void)http::request(cluster.url(), "POST", "/berth/v1/agents/" + id + "/heartbeat",
                          R"({"seq":)" + std::to_string(seq) + R"(,"datasets":[]})", 1000,
                          bearer(secret));
      std::this_thread::sleep_for(milliseconds(200));
    }
  });
  auto created =
      cluster.call("POST", "/v2/apps", R"({"id":"/deaf","cmd":"sleep 1000","cpus":0.1,"mem":16,
                                                      "instances":1,"backoffSeconds":0.1})");
  ASSERT_EQ(created.status, 201) << created.body.dump();
  bool failed = Cluster::eventually(
      [&] {
        auto app = cluster.call("GET", "/v2/apps/deaf");
        return app.body["app"].contains("lastTaskFailure") &&
               app.body["app"]["lastTaskFailure"]
                       .value("message", "")
                       .find("did not confirm the launch") != std::string::npos;
      },
      seconds(15));
  EXPECT_TRUE(failed) << cluster.call("GET", "/v2/apps/deaf").body.dump();
  // Its replacement is staged again (the only node is the deaf one), with a new task id.
  EXPECT_TRUE(Cluster::eventually(
      [&] { return cluster.call("GET", "/v2/apps/deaf/tasks").body["tasks"].size() == 1; },
      seconds(5)));
  // Commands are read, not consumed: a poll with a sequence number never sent is refused.
  auto beyond =
      raw(cluster, "GET", "/berth/v1/agents/" + id + "/commands?after=999999999&wait_ms=0", "",
          bearer(secret));
  EXPECT_EQ(beyond.status, 400) << beyond.body;
  auto commands = raw(cluster, "GET", "/berth/v1/agents/" + id + "/commands?after=0&wait_ms=0", "",
                      bearer(secret));
  EXPECT_EQ(commands.status, 200);
  EXPECT_FALSE(body_of(commands)["commands"].empty()) << commands.body;
  stop = true;
  heartbeats.join();
}

TEST(Security, StateFilesAreOwnerOnlyAndAgentEndpointsNeedACredential) {
  Cluster cluster(1);
  struct stat st {};
  ASSERT_EQ(::stat((cluster.dir() + "/master/berth.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((cluster.dir() + "/master").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((cluster.dir() + "/admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // The agent's own HTTP port (task logs) answers only holders of the join token.
  std::ifstream log(cluster.dir() + "/agent-1.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  std::smatch port;
  ASSERT_TRUE(std::regex_search(text, port, std::regex("task logs at http://[0-9.]+:([0-9]+)/")))
      << text;
  std::string agent_url = "http://127.0.0.1:" + port[1].str();
  auto anonymous = http::request(agent_url, "GET", "/berth/v1/tasks/x/logs", "", 2000);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->status, 401);
  auto with_admin =
      http::request(agent_url, "GET", "/berth/v1/tasks/x/logs", "", 2000, cluster.admin_headers());
  ASSERT_TRUE(with_admin.ok());
  EXPECT_EQ(with_admin->status, 401);
  auto with_join = http::request(agent_url, "GET", "/berth/v1/tasks/x/logs", "", 2000,
                                 bearer("integration-token"));
  ASSERT_TRUE(with_join.ok());
  EXPECT_EQ(with_join->status, 404);
}

}  // namespace berth::testing
