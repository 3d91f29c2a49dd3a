// LeaderElection and fenced EtcdStore writes (store/etcd_election.h, store/etcd_store.h) against
// a real etcd: one leader among candidates, a new one when the leader's lease goes, the leader
// stops or resigns, a deposed leader that can no longer write, and a leader that deposes itself
// by its own clock when etcd stops answering (docs/architecture.md §5, "Leader election").
// Skipped only where no etcd binary is installed, and never under CI=true.
#include "store/etcd_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "http/http.h"
#include "store/etcd_store.h"
#include "store/etcd_wire.h"
#include "tests/support/etcd_process.h"

namespace berth::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyTime = std::chrono::steady_clock::time_point;

// Polls `done` until it holds or `limit` passes.
template <typename F>
bool eventually(F done, milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

LeaderElectionOptions options_of(std::vector<std::string> endpoints, std::string prefix,
                                 std::string identity, int64_t ttl_seconds = 3) {
  LeaderElectionOptions options;
  options.endpoints = std::move(endpoints);
  options.prefix = std::move(prefix);
  options.identity = std::move(identity);
  options.ttl_seconds = ttl_seconds;
  return options;
}

double seconds_since(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One etcd for the process, started by the first test that needs it.
class SharedEtcd : public ::testing::Environment {
 public:
  static EtcdProcess* get(std::string* error) {
    if (!process_ && error_.empty()) process_ = EtcdProcess::start(&error_);
    *error = error_;
    return process_.get();
  }
  void TearDown() override { process_.reset(); }

 private:
  static inline std::unique_ptr<EtcdProcess> process_;
  static inline std::string error_;
};
::testing::Environment* const kSharedEtcd = ::testing::AddGlobalTestEnvironment(new SharedEtcd);

// A candidate and what its callbacks saw.
struct Candidate {
  std::unique_ptr<LeaderElection> election;
  std::mutex mutex;
  std::vector<Fence> elected;
  std::atomic<int> deposed{0};
  std::atomic<int64_t> deposed_at_ms{0};  // steady clock, of the last on_deposed
};

class EtcdElection : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdProcess::binary().empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "no etcd binary under CI=true: scripts/install-deps installs etcd-server";
      }
      GTEST_SKIP() << "no etcd binary: install Debian's etcd-server (scripts/install-deps) or "
                      "set BERTH_ETCD to run the leader election tests";
    }
    std::string error;
    etcd_ = SharedEtcd::get(&error);
    ASSERT_NE(etcd_, nullptr) << error;
    static int prefixes = 0;
    prefix_ = "/election-" + std::to_string(++prefixes) + "/";
  }

  std::unique_ptr<Candidate> candidate(const std::string& identity, const Clock& clock,
                                       std::vector<std::string> endpoints = {}) {
    auto out = std::make_unique<Candidate>();
    Candidate* c = out.get();
    LeaderElectionOptions options;
    options.endpoints = endpoints.empty() ? std::vector{etcd_->client_url()} : endpoints;
    options.prefix = prefix_;
    options.identity = identity;
    options.ttl_seconds = 2;
    options.on_elected = [c](const Fence& fence) {
      std::lock_guard lock(c->mutex);
      c->elected.push_back(fence);
    };
    options.on_deposed = [c] {
      c->deposed_at_ms = std::chrono::duration_cast<milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
      ++c->deposed;
    };
    Result<std::unique_ptr<LeaderElection>> election = LeaderElection::create(options, clock);
    EXPECT_TRUE(election.ok()) << election.error().message;
    if (election.ok()) out->election = std::move(*election);
    return out;
  }

  std::unique_ptr<EtcdStore> store(std::vector<std::string> endpoints = {}) {
    Result<std::unique_ptr<EtcdStore>> opened = EtcdStore::open(EtcdStoreOptions{
        endpoints.empty() ? std::vector{etcd_->client_url()} : endpoints, prefix_});
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // The leader key as etcd has it now; nullopt when absent.
  std::optional<etcd::LeaderRecord> leader_key() {
    Result<http::ClientResponse> answer =
        http::request(etcd_->client_url(), "POST", "/v3/kv/range",
                      etcd::range_request(prefix_ + "leader").dump());
    if (!answer.ok() || answer->status != 200) return std::nullopt;
    Result<std::optional<etcd::LeaderRecord>> record = etcd::read_leader_answer(answer->body);
    return record.ok() ? *record : std::nullopt;
  }

  void revoke(int64_t lease_id) {
    Result<http::ClientResponse> answer = http::request(
        etcd_->client_url(), "POST", "/v3/lease/revoke", etcd::lease_request(lease_id).dump());
    ASSERT_TRUE(answer.ok() && answer->status == 200);
  }

  // The candidates that lead now.
  static std::vector<Candidate*> leaders(const std::vector<std::unique_ptr<Candidate>>& all) {
    std::vector<Candidate*> out;
    for (const auto& c : all) {
      if (c->election->is_leader()) out.push_back(c.get());
    }
    return out;
  }

  SystemClock clock_;
  EtcdProcess* etcd_ = nullptr;
  std::string prefix_;
};

TEST_F(EtcdElection, EtcdGrantsAtLeastItsFloorAndTheCandidateUsesWhatWasGranted) {
  const LeaderElectionOptions options = options_of({etcd_->client_url()}, prefix_, "a:1", 1);
  Result<std::unique_ptr<LeaderElection>> election = LeaderElection::create(options, clock_);
  ASSERT_TRUE(election.ok()) << election.error().message;
  ASSERT_TRUE((*election)->step().ok());
  // etcd 3.4 with its default --election-timeout of 1000 ms grants at least 2 s.
  EXPECT_EQ((*election)->granted_ttl_seconds(), 2);
  EXPECT_TRUE((*election)->is_leader());
}

TEST_F(EtcdElection, CreateRefusesOptionsThatCannotWork) {
  for (const LeaderElectionOptions& bad :
       {options_of({}, "/p/", "a:1"), options_of({"127.0.0.1:2379"}, "/p/", "a:1"),
        options_of({etcd_->client_url()}, "/p", "a:1"),
        options_of({etcd_->client_url()}, "/p/", ""),
        options_of({etcd_->client_url()}, "/p/", "a:1", 0)}) {
    Result<std::unique_ptr<LeaderElection>> election = LeaderElection::create(bad, clock_);
    ASSERT_FALSE(election.ok());
    EXPECT_EQ(election.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(EtcdElection, ExactlyOneOfThreeCandidatesLeadsAndAllSeeWho) {
  std::vector<std::unique_ptr<Candidate>> all;
  for (const char* identity : {"a:1", "b:2", "c:3"}) all.push_back(candidate(identity, clock_));
  for (const auto& c : all) c->election->start();
  ASSERT_TRUE(eventually([&] { return leaders(all).size() == 1; }, seconds(5)));
  // And it stays that way over several keepalive rounds.
  for (int i = 0; i < 30; ++i) {
    const std::vector<Candidate*> now = leaders(all);
    ASSERT_EQ(now.size(), 1u) << i;
    std::this_thread::sleep_for(milliseconds(100));
  }
  Candidate* leader = leaders(all).front();
  const std::optional<Fence> fence = leader->election->fence();
  ASSERT_TRUE(fence.has_value());
  EXPECT_EQ(fence->key, prefix_ + "leader");
  const std::optional<etcd::LeaderRecord> key = leader_key();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(fence->create_revision, key->create_revision);
  for (const auto& c : all) {
    Result<std::optional<std::string>> seen = c->election->leader();
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    EXPECT_EQ(*seen, key->identity);
    std::lock_guard lock(c->mutex);
    EXPECT_EQ(c->elected.size(), c.get() == leader ? 1u : 0u);
    EXPECT_EQ(c->deposed, 0);
  }
}

TEST_F(EtcdElection, WhenTheLeadersLeaseIsRevokedItIsDeposedAndANewLeadershipBegins) {
  std::vector<std::unique_ptr<Candidate>> all;
  for (const char* identity : {"a:1", "b:2"}) all.push_back(candidate(identity, clock_));
  for (const auto& c : all) c->election->start();
  ASSERT_TRUE(eventually([&] { return leaders(all).size() == 1; }, seconds(5)));
  Candidate* first = leaders(all).front();
  const Fence old = *first->election->fence();
  const std::optional<etcd::LeaderRecord> key = leader_key();
  ASSERT_TRUE(key.has_value());
  const SteadyTime revoked = std::chrono::steady_clock::now();
  revoke(key->lease_id);
  // The old leader learns it at its next keepalive (ttl/3), and some candidate, possibly the
  // same on a new lease, wins a new leadership.
  ASSERT_TRUE(eventually([&] { return first->deposed == 1; }, seconds(3)));
  ASSERT_TRUE(eventually(
      [&] {
        const std::vector<Candidate*> now = leaders(all);
        return now.size() == 1 &&
               now.front()->election->fence()->create_revision > old.create_revision;
      },
      seconds(3)));
  EXPECT_LT(seconds_since(revoked), 2.0 + 0.5);
}

TEST_F(EtcdElection, WhenTheLeaderStopsWithoutResigningAnotherLeadsWithinTheTtl) {
  std::vector<std::unique_ptr<Candidate>> all;
  for (const char* identity : {"a:1", "b:2", "c:3"}) all.push_back(candidate(identity, clock_));
  for (const auto& c : all) c->election->start();
  ASSERT_TRUE(eventually([&] { return leaders(all).size() == 1; }, seconds(5)));
  Candidate* first = leaders(all).front();
  const SteadyTime stopped = std::chrono::steady_clock::now();
  first->election->stop();  // as a crash: no resign, no revoke
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& c : all) {
          if (c.get() != first && c->election->is_leader()) return true;
        }
        return false;
      },
      seconds(5)));
  const double took = seconds_since(stopped);
  // etcd expires the lease within 2 s of the last keepalive (and checks every 500 ms); the
  // others campaign every 2/3 s.
  EXPECT_LT(took, 2.0 + 1.5) << took;
  EXPECT_GT(took, 2.0 / 3) << "another led before the stopped leader's lease could expire";
  // Its own clock says the stopped leader is no longer leading either.
  EXPECT_FALSE(first->election->is_leader());
  EXPECT_EQ(leaders(all).size(), 1u);
}

TEST_F(EtcdElection, AfterTheLeaderResignsAnotherLeadsPromptly) {
  std::vector<std::unique_ptr<Candidate>> all;
  for (const char* identity : {"a:1", "b:2"}) all.push_back(candidate(identity, clock_));
  for (const auto& c : all) c->election->start();
  ASSERT_TRUE(eventually([&] { return leaders(all).size() == 1; }, seconds(5)));
  Candidate* first = leaders(all).front();
  Candidate* second = first == all[0].get() ? all[1].get() : all[0].get();
  const SteadyTime resigned = std::chrono::steady_clock::now();
  ASSERT_TRUE(first->election->resign().ok());
  EXPECT_FALSE(first->election->is_leader());
  EXPECT_EQ(first->deposed, 1);
  ASSERT_TRUE(eventually([&] { return second->election->is_leader(); }, seconds(3)));
  // Within one campaign interval (2/3 s), not a TTL.
  EXPECT_LT(seconds_since(resigned), 1.2);
  Result<std::optional<std::string>> seen = first->election->leader();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, second == all[0].get() ? "a:1" : "b:2");
  // Resigning again, or when not leading, does nothing.
  EXPECT_TRUE(first->election->resign().ok());
  EXPECT_TRUE(second->election->is_leader());
}

}  // namespace
}  // namespace berth::testing
