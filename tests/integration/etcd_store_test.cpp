// `berth master --store etcd://...` against a real etcd: the master keeps its state there, so a
// master started again (here on the same machine, with an empty data directory's worth of
// state) finds the apps it was given. And bad --store URLs stop the master with a clear error.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "http/http.h"
#include "store/etcd_wire.h"
#include "tests/integration/cluster.h"
#include "tests/support/etcd_process.h"

namespace berth::testing {
namespace {

using std::chrono::seconds;

std::string sleep_app(const std::string& id, int instances) {
  return nlohmann::json{{"id", id},  {"cmd", "sleep 1000"},    {"cpus", 0.1},
                        {"mem", 16}, {"instances", instances}, {"backoffSeconds", 0.2}}
      .dump();
}

// The keys etcd holds under prefix.
int64_t keys_in_etcd(const EtcdProcess& etcd, const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  nlohmann::json request = etcd::range_request(prefix, end);
  request["count_only"] = true;
  Result<http::ClientResponse> answer =
      http::request(etcd.client_url(), "POST", "/v3/kv/range", request.dump());
  if (!answer.ok() || answer->status != 200) return -1;
  const nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
  return body.is_object() && body.contains("count") ? std::stoll(body["count"].get<std::string>())
                                                    : 0;
}

// Runs `berth master` with args; its exit code and output.
std::pair<int, std::string> run_master(const std::string& args) {
  const std::string command = std::string(BERTH_BINARY) + " master " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (pipe != nullptr && std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = pipe != nullptr ? ::pclose(pipe) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class EtcdMaster : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdProcess::binary().empty()) {
      GTEST_SKIP() << "no etcd binary: install Debian's etcd-server (scripts/install-deps) or set "
                      "BERTH_ETCD to run berth master against etcd";
    }
    std::string error;
    etcd_ = EtcdProcess::start(&error);
    ASSERT_NE(etcd_, nullptr) << error;
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdMaster, AppsOutliveTheMasterBecauseTheyLiveInEtcd) {
  Cluster cluster(1, 1500, {}, {}, {"--store", "etcd://" + etcd_->host_port() + "/it"});
  auto created = cluster.call("POST", "/v2/apps", sleep_app("/kept", 1));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  ASSERT_TRUE(
      Cluster::eventually([&] { return cluster.running_tasks("/kept").size() == 1; }, seconds(20)));
  EXPECT_GT(keys_in_etcd(*etcd_, "/it/"), 0) << "the master's state must be in etcd";
  EXPECT_FALSE(std::filesystem::exists(cluster.dir() + "/master/berth.db"))
      << "with --store etcd:// the master must not write a SQLite store";

  cluster.kill_master();
  cluster.start_master();
  // The new master leads once the killed one's leader lease has expired in etcd (about 2 s).
  ASSERT_TRUE(Cluster::eventually([&] { return cluster.leader_index() == 1; }, seconds(10)));
  auto app = cluster.call("GET", "/v2/apps/kept");
  ASSERT_EQ(app.status, 200) << app.body.dump();
  EXPECT_EQ(app.body["app"]["id"], "/kept");
  EXPECT_EQ(app.body["app"]["instances"], 1);
  EXPECT_EQ(app.body["app"]["cmd"], "sleep 1000");
  EXPECT_TRUE(
      Cluster::eventually([&] { return cluster.running_tasks("/kept").size() == 1; }, seconds(20)));
}

TEST(EtcdMasterFlags, BadStoreUrlsStopTheMasterSayingWhatIsWrong) {
  const std::string dir = std::filesystem::temp_directory_path() / "berth-store-flag-XXXXXX";
  std::string pattern = dir;
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string common = "--port 0 --data-dir " + pattern + " --store ";
  auto [bad_code, bad_output] = run_master(common + "'etcd://h1:99999'");
  EXPECT_EQ(bad_code, 2) << bad_output;
  EXPECT_NE(bad_output.find("etcd://h1:99999"), std::string::npos) << bad_output;
  EXPECT_NE(bad_output.find("1 to 65535"), std::string::npos) << bad_output;
  auto [scheme_code, scheme_output] = run_master(common + "'postgres://db/berth'");
  EXPECT_EQ(scheme_code, 2) << scheme_output;
  EXPECT_NE(scheme_output.find("unknown scheme 'postgres'"), std::string::npos) << scheme_output;
  EXPECT_TRUE(std::filesystem::is_empty(pattern)) << "a bad --store must change nothing";
  // Nothing listens on port 1 of loopback.
  auto [down_code, down_output] = run_master(common + "'etcd://127.0.0.1:1'");
  EXPECT_EQ(down_code, 1) << down_output;
  EXPECT_NE(down_output.find("cannot open the store etcd://127.0.0.1:1"), std::string::npos)
      << down_output;
  std::filesystem::remove_all(pattern);
}

}  // namespace
}  // namespace berth::testing
