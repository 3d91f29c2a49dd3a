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
#include "tests/support/shared_etcd.h"

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
  RecordProperty("seconds_to_new_leader", std::to_string(seconds_since(revoked)));
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
  RecordProperty("seconds_to_new_leader", std::to_string(took));
  // etcd expires the lease within 2 s of the last keepalive (and checks every 500 ms); the
  // others campaign every 2/3 s.
  EXPECT_LT(took, 2.0 + 1.5) << took;
  // Its last keepalive went at most 2/3 s before it stopped.
  EXPECT_GT(took, 2.0 - 2.0 / 3 - 0.2)
      << "another led before the stopped leader's lease could expire";
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
  RecordProperty("seconds_to_new_leader", std::to_string(seconds_since(resigned)));
  EXPECT_LT(seconds_since(resigned), 1.2);
  Result<std::optional<std::string>> seen = first->election->leader();
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, second == all[0].get() ? "a:1" : "b:2");
  // Resigning again, or when not leading, does nothing.
  EXPECT_TRUE(first->election->resign().ok());
  EXPECT_TRUE(second->election->is_leader());
}

void expect_not_the_leader(const Error& error, const std::string& what) {
  EXPECT_EQ(error.code, ErrorCode::kPreconditionFailed) << what << ": " << error.message;
  EXPECT_TRUE(error.message.starts_with("not the leader")) << what << ": " << error.message;
}

TEST_F(EtcdElection, ADeposedLeadersFencedWritesFailAsNotTheLeaderAndChangeNothing) {
  std::unique_ptr<Candidate> a = candidate("a:1", clock_);
  std::unique_ptr<Candidate> b = candidate("b:2", clock_);
  ASSERT_TRUE(a->election->step().ok());
  ASSERT_TRUE(b->election->step().ok());
  ASSERT_TRUE(a->election->is_leader());
  ASSERT_FALSE(b->election->is_leader());
  std::unique_ptr<EtcdStore> store_a = store();
  store_a->set_fence(a->election->fence());
  ASSERT_TRUE(store_a->put("/apps/web", "1").ok());
  ASSERT_TRUE(store_a->put("/apps/db", "1").ok());
  const KeyValue web = store_a->get("/apps/web")->value();
  // a's lease goes behind its back and b wins; a has not noticed (no round since).
  revoke(leader_key()->lease_id);
  ASSERT_TRUE(b->election->step().ok());
  ASSERT_TRUE(b->election->is_leader());
  ASSERT_TRUE(a->election->is_leader()) << "a has not run a round, its deadline has not passed";
  const int64_t revision = store_a->revision().value();

  Result<int64_t> put = store_a->put("/apps/web", "2");
  ASSERT_FALSE(put.ok());
  expect_not_the_leader(put.error(), "put");
  Result<bool> erased = store_a->erase("/apps/db");
  ASSERT_FALSE(erased.ok());
  expect_not_the_leader(erased.error(), "erase");
  Result<bool> erased_absent = store_a->erase("/apps/absent");
  ASSERT_FALSE(erased_absent.ok());
  expect_not_the_leader(erased_absent.error(), "erase of an absent key");
  Result<int64_t> swapped = store_a->compare_and_swap("/apps/web", "2", web.mod_revision);
  ASSERT_FALSE(swapped.ok());
  expect_not_the_leader(swapped.error(), "compare_and_swap whose expectation holds");
  Result<int64_t> committed =
      store_a->commit({{StoreOp::Kind::kPut, "/apps/new", "1", std::nullopt},
                       {StoreOp::Kind::kErase, "/apps/db", "", std::nullopt}});
  ASSERT_FALSE(committed.ok());
  expect_not_the_leader(committed.error(), "commit");

  // Nothing changed: read through an unfenced store (reads are not fenced anyway).
  std::unique_ptr<EtcdStore> reader = store();
  EXPECT_EQ(reader->get("/apps/web")->value().value, "1");
  EXPECT_EQ(reader->get("/apps/web")->value().mod_revision, web.mod_revision);
  EXPECT_TRUE(reader->get("/apps/db")->has_value());
  EXPECT_FALSE(reader->get("/apps/new")->has_value());
  EXPECT_EQ(reader->revision().value(), revision);
  EXPECT_TRUE(store_a->get("/apps/web").ok());

  // The new leader's fenced writes go through.
  std::unique_ptr<EtcdStore> store_b = store();
  store_b->set_fence(b->election->fence());
  EXPECT_TRUE(store_b->put("/apps/web", "3").ok());
  // And a's round now tells it what the fence already knew.
  ASSERT_TRUE(a->election->step().ok());
  EXPECT_FALSE(a->election->is_leader());
  EXPECT_EQ(a->deposed, 1);
}

TEST_F(EtcdElection, TheFenceIsOneMoreCompareOfACommitWithSeveralOps) {
  std::unique_ptr<Candidate> a = candidate("a:1", clock_);
  ASSERT_TRUE(a->election->step().ok());
  ASSERT_TRUE(a->election->is_leader());
  std::unique_ptr<EtcdStore> fenced = store();
  fenced->set_fence(a->election->fence());
  ASSERT_TRUE(fenced->put("/a", "1").ok());
  ASSERT_TRUE(fenced->put("/b", "1").ok());
  const int64_t a_mod = fenced->get("/a")->value().mod_revision;
  // Leading: the ops' own expectations decide, as without a fence.
  Result<int64_t> conflict = fenced->commit(
      {{StoreOp::Kind::kPut, "/a", "2", a_mod - 1}, {StoreOp::Kind::kPut, "/c", "2", int64_t{0}}});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict) << conflict.error().message;
  Result<int64_t> done = fenced->commit({{StoreOp::Kind::kPut, "/a", "2", a_mod},
                                         {StoreOp::Kind::kErase, "/b", "", std::nullopt},
                                         {StoreOp::Kind::kPut, "/c", "2", int64_t{0}}});
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(fenced->get("/a")->value().mod_revision, *done);
  EXPECT_EQ(fenced->get("/c")->value().mod_revision, *done);
  EXPECT_FALSE(fenced->get("/b")->has_value());

  // Deposed (resigned): every expectation holds, the fence alone refuses, nothing changes.
  ASSERT_TRUE(a->election->resign().ok());
  const int64_t revision = fenced->revision().value();
  Result<int64_t> refused = fenced->commit({{StoreOp::Kind::kPut, "/a", "3", *done},
                                            {StoreOp::Kind::kPut, "/b", "3", int64_t{0}},
                                            {StoreOp::Kind::kErase, "/c", "", *done}});
  ASSERT_FALSE(refused.ok());
  expect_not_the_leader(refused.error(), "commit whose expectations hold");
  // Both the fence and an expectation fail: not the leader is what the caller must know.
  Result<int64_t> both = fenced->commit({{StoreOp::Kind::kPut, "/a", "3", *done - 1},
                                         {StoreOp::Kind::kPut, "/d", "3", std::nullopt}});
  ASSERT_FALSE(both.ok());
  expect_not_the_leader(both.error(), "commit whose expectation fails too");
  EXPECT_EQ(fenced->revision().value(), revision);
  EXPECT_EQ(fenced->get("/a")->value().value, "2");
  EXPECT_TRUE(fenced->get("/c")->has_value());
  EXPECT_FALSE(fenced->get("/b")->has_value());
  EXPECT_FALSE(fenced->get("/d")->has_value());
  // Without the fence the same store writes again.
  fenced->set_fence(std::nullopt);
  EXPECT_TRUE(fenced->put("/d", "4").ok());
}

TEST_F(EtcdElection, TheLeaseDeadlineCountsFromTheSendAndDeposesWithoutAskingEtcd) {
  ManualClock clock;
  std::unique_ptr<Candidate> a = candidate("a:1", clock);
  ASSERT_TRUE(a->election->step().ok());  // grant (sent at 0) and campaign
  ASSERT_TRUE(a->election->is_leader());
  ASSERT_EQ(a->election->granted_ttl_seconds(), 2);
  const Fence first = *a->election->fence();
  clock.advance(seconds(1));
  ASSERT_TRUE(a->election->step().ok());  // keepalive sent at 1: the deadline is 3
  clock.advance(milliseconds(1999));
  EXPECT_TRUE(a->election->is_leader());
  clock.advance(milliseconds(1));
  // The deadline passed: no longer leading, with no round and no word from etcd, which still
  // has the key on a's lease (its own clock has not run 2 s since the keepalive).
  EXPECT_FALSE(a->election->is_leader());
  EXPECT_EQ(a->election->fence(), std::nullopt);
  const std::optional<etcd::LeaderRecord> key = leader_key();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->create_revision, first.create_revision);
  // The next round reports it, gives the old lease up and wins a new leadership.
  ASSERT_TRUE(a->election->step().ok());
  EXPECT_EQ(a->deposed, 1);
  ASSERT_TRUE(a->election->is_leader());
  EXPECT_GT(a->election->fence()->create_revision, first.create_revision);
  std::lock_guard lock(a->mutex);
  EXPECT_EQ(a->elected.size(), 2u);
}

TEST_F(EtcdElection, ALeaderThatCannotReachEtcdDeposesItselfByItsOwnDeadline) {
  std::string error;
  std::unique_ptr<EtcdProcess> own = EtcdProcess::start(&error);
  ASSERT_NE(own, nullptr) << error;
  std::unique_ptr<Candidate> a = candidate("a:1", clock_, {own->client_url()});
  a->election->start();
  ASSERT_TRUE(eventually([&] { return a->election->is_leader(); }, seconds(5)));
  std::this_thread::sleep_for(milliseconds(300));
  const SteadyTime paused = std::chrono::steady_clock::now();
  own->pause_member(0);  // answers nothing, and expires nothing either
  ASSERT_TRUE(eventually([&] { return a->deposed == 1; }, seconds(4)));
  const double took = seconds_since(paused);
  RecordProperty("seconds_to_depose", std::to_string(took));
  EXPECT_FALSE(a->election->is_leader());
  // The last keepalive sent before the pause set the deadline, at most 2 s after the pause.
  // etcd received it no earlier, so its own expiry of the lease is no earlier either.
  EXPECT_LE(took, 2.0 + 0.2) << took;  // 0.2 s: waking the election thread on a busy machine
  // But not before the deadline: failed keepalives alone do not depose.
  EXPECT_GE(took, 2.0 - 2.0 / 3 - 0.2) << took;
  own->resume_member(0);
  ASSERT_TRUE(eventually([&] { return a->election->is_leader(); }, seconds(15)));
  a->election->stop();
}

TEST_F(EtcdElection, AKeepaliveExtendsTheDeadlineFromWhenItWasSentNotAnswered) {
  std::string error;
  std::unique_ptr<EtcdProcess> own = EtcdProcess::start(&error);
  ASSERT_NE(own, nullptr) << error;
  std::unique_ptr<Candidate> a = candidate("a:1", clock_, {own->client_url()});
  ASSERT_TRUE(a->election->step().ok());
  ASSERT_TRUE(a->election->is_leader());
  // A keepalive that etcd holds for 700 ms before answering.
  own->pause_member(0);
  const MonoTime before = clock_.mono_now();
  std::thread round([&] { EXPECT_TRUE(a->election->step().ok()); });
  std::this_thread::sleep_for(milliseconds(700));
  own->resume_member(0);
  round.join();
  const MonoTime after = clock_.mono_now();
  ASSERT_GE(after - before, milliseconds(700));
  const MonoTime deadline = a->election->lease_deadline();
  EXPECT_GE(deadline, before + seconds(2));
  EXPECT_LT(deadline, before + seconds(2) + milliseconds(300))
      << "the deadline counts from the answer, not the send";
  EXPECT_TRUE(a->election->is_leader());
}

TEST(EtcdElectionUnreachable, ARoundWithNoEtcdFailsAndLeadsNothing) {
  SystemClock clock;
  LeaderElectionOptions options = options_of({"http://127.0.0.1:1"}, "/p/", "a:1");
  options.request_timeout_ms = 500;
  Result<std::unique_ptr<LeaderElection>> election = LeaderElection::create(options, clock);
  ASSERT_TRUE(election.ok());
  Status round = (*election)->step();
  ASSERT_FALSE(round.ok());
  EXPECT_EQ(round.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(round.error().message.starts_with("cannot grant the leader lease"))
      << round.error().message;
  EXPECT_FALSE((*election)->is_leader());
  EXPECT_EQ((*election)->fence(), std::nullopt);
  EXPECT_EQ((*election)->lease_deadline(), MonoTime{});
  EXPECT_TRUE((*election)->resign().ok());
  EXPECT_FALSE((*election)->leader().ok());
}

}  // namespace
}  // namespace berth::testing
