// The wire half of leader election and fenced writes (store/etcd_wire.h), without etcd. The
// answers are what etcd 3.4's gateway sent.
#include <gtest/gtest.h>

#include <string>

#include "store/etcd_wire.h"

namespace berth::etcd {
namespace {

TEST(EtcdElectionWire, LeaseCallsCarryInt64sAsStrings) {
  EXPECT_EQ(lease_grant_request(3), nlohmann::json::parse(R"({"TTL":"3"})"));
  EXPECT_EQ(lease_request(4111120434052452625),
            nlohmann::json::parse(R"({"ID":"4111120434052452625"})"));
}

TEST(EtcdElectionWire, AGrantAnswerGivesTheLeaseAndTheTtlEtcdChose) {
  // Asked for a TTL of 1, etcd granted its floor of 2.
  Result<LeaseGrant> grant = read_lease_grant_answer(
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"1","raft_term":"2"},)"
      R"("ID":"4111120434052452613","TTL":"2"})");
  ASSERT_TRUE(grant.ok()) << grant.error().message;
  EXPECT_EQ(grant->id, 4111120434052452613);
  EXPECT_EQ(grant->ttl_seconds, 2);
  for (const char* bad :
       {"{}", R"({"ID":"1"})", R"({"TTL":"3"})", "[]", R"({"ID":"x","TTL":"3"})"}) {
    EXPECT_FALSE(read_lease_grant_answer(bad).ok()) << bad;
  }
  Result<LeaseGrant> refused = read_lease_grant_answer(R"({"error":{"message":"no leader"}})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

TEST(EtcdElectionWire, AKeepaliveAnswerIsOneResultOfTheStreamWithNoTtlForAGoneLease) {
  EXPECT_EQ(read_keepalive_answer(R"({"result":{"header":{"revision":"1"},)"
                                  R"("ID":"4111120434052452625","TTL":"5"}})")
                .value(),
            5);
  EXPECT_EQ(read_keepalive_answer(R"({"result":{"header":{"revision":"1"},"ID":"12345"}})").value(),
            0);
  Result<int64_t> error = read_keepalive_answer(R"({"error":{"grpc_code":14,"message":"x"}})");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(read_keepalive_answer("{}").error().code, ErrorCode::kInternal);
}

TEST(EtcdElectionWire, ACampaignPutsTheIdentityOnTheLeaseOnlyIfTheKeyWasNeverCreated) {
  const nlohmann::json txn = campaign_request("/p/leader", "a:1", 7);
  ASSERT_EQ(txn["compare"].size(), 1u);
  EXPECT_EQ(txn["compare"][0]["target"], "CREATE");
  EXPECT_EQ(txn["compare"][0]["key"], base64_encode("/p/leader"));
  EXPECT_EQ(txn["compare"][0]["create_revision"], "0");
  EXPECT_EQ(txn["success"][0]["request_put"]["value"], base64_encode("a:1"));
  EXPECT_EQ(txn["success"][0]["request_put"]["lease"], "7");
  EXPECT_EQ(txn["failure"][0]["request_range"]["key"], base64_encode("/p/leader"));
}

TEST(EtcdElectionWire, ACampaignAnswerSaysWhoLeadsAndSinceWhichRevision) {
  Result<CampaignOutcome> won = read_campaign_answer(
      R"({"header":{"revision":"2"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"2"}}}]})",
      "a:1", 7);
  ASSERT_TRUE(won.ok()) << won.error().message;
  EXPECT_TRUE(won->won);
  EXPECT_EQ(won->leader.identity, "a:1");
  EXPECT_EQ(won->leader.create_revision, 2);
  const std::string lost_answer =
      R"({"header":{"revision":"5"},"responses":[{"response_range":{"header":{"revision":"5"},)"
      R"("kvs":[{"key":"L3AvbGVhZGVy","create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"YjoyMg==","lease":"9"}],"count":"1"}}]})";
  Result<CampaignOutcome> lost = read_campaign_answer(lost_answer, "a:1", 7);
  ASSERT_TRUE(lost.ok()) << lost.error().message;
  EXPECT_FALSE(lost->won);
  EXPECT_EQ(lost->leader.identity, "b:22");
  EXPECT_EQ(lost->leader.create_revision, 2);
  EXPECT_EQ(lost->leader.lease_id, 9);
  // The key on our own lease (a campaign repeated after its answer was lost) is ours.
  EXPECT_TRUE(read_campaign_answer(lost_answer, "b:22", 9)->won);
  EXPECT_FALSE(read_campaign_answer(R"({"header":{"revision":"5"},"responses":[]})", "a", 7).ok());
}

TEST(EtcdElectionWire, ResigningDeletesTheKeyOnlyIfItIsStillTheSameLeadership) {
  const nlohmann::json txn = resign_request(Fence{"/p/leader", 12});
  EXPECT_EQ(txn["compare"][0]["target"], "CREATE");
  EXPECT_EQ(txn["compare"][0]["create_revision"], "12");
  EXPECT_EQ(txn["success"][0]["request_delete_range"]["key"], base64_encode("/p/leader"));
  EXPECT_TRUE(txn["failure"].empty());
}

TEST(EtcdElectionWire, TheLeaderKeyReadsAsTheLeaderRecord) {
  Result<std::optional<LeaderRecord>> leader =
      read_leader_answer(R"({"header":{"revision":"3"},"kvs":[{"key":"L3AvbGVhZGVy",)"
                         R"("create_revision":"3","mod_revision":"3","version":"1",)"
                         R"("value":"YToxMA==","lease":"11"}],"count":"1"})");
  ASSERT_TRUE(leader.ok()) << leader.error().message;
  ASSERT_TRUE(leader->has_value());
  EXPECT_EQ((*leader)->identity, "a:10");
  EXPECT_EQ((*leader)->create_revision, 3);
  EXPECT_EQ((*leader)->lease_id, 11);
  EXPECT_EQ(read_leader_answer(R"({"header":{"revision":"3"}})").value(), std::nullopt);
}

TEST(EtcdElectionWire, AFencedTxnComparesTheLeaderKeysCreateRevisionFirst) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kPut, "a", "1", 0},
                                    {StoreOp::Kind::kErase, "b", "", std::nullopt}};
  const nlohmann::json txn = txn_request(ops, "/p/", Fence{"/p/leader", 12});
  ASSERT_EQ(txn["compare"].size(), 2u);
  EXPECT_EQ(txn["compare"][0]["target"], "CREATE");
  EXPECT_EQ(txn["compare"][0]["key"], base64_encode("/p/leader"));
  EXPECT_EQ(txn["compare"][0]["create_revision"], "12");
  EXPECT_EQ(txn["compare"][1]["target"], "MOD");
  ASSERT_EQ(txn["failure"].size(), 2u);
  EXPECT_EQ(txn["failure"][0]["request_range"]["key"], base64_encode("/p/leader"));
  EXPECT_EQ(txn["success"].size(), 2u);
  EXPECT_EQ(txn_request(ops, "/p/")["compare"].size(), 1u);
}

TEST(EtcdElectionWire, AFencedTxnRefusedByTheFenceIsNotTheLeaderWhateverElseFailed) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kPut, "a", "1", 0}};
  const Fence fence{"/p/leader", 12};
  // The leader key was created again (another leader) and "a" exists too.
  const std::string again =
      R"({"header":{"revision":"20"},"responses":[)"
      R"({"response_range":{"kvs":[{"key":"L3AvbGVhZGVy","create_revision":"19","mod_revision":"19","version":"1"}]}},)"
      R"({"response_range":{"kvs":[{"key":"L3AvYQ==","create_revision":"4","mod_revision":"4","version":"1"}]}}]})";
  Result<CommitPlan> refused = read_txn_answer(ops, again, fence);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPreconditionFailed);
  EXPECT_TRUE(refused.error().message.starts_with("not the leader")) << refused.error().message;
  EXPECT_NE(refused.error().message.find("19"), std::string::npos);
  // No leader key at all.
  const std::string gone =
      R"({"header":{"revision":"20"},"responses":[{"response_range":{}},{"response_range":{}}]})";
  EXPECT_EQ(read_txn_answer(ops, gone, fence).error().code, ErrorCode::kPreconditionFailed);
  // The fence held: the other compare failed, an ordinary conflict.
  const std::string conflict =
      R"({"header":{"revision":"20"},"responses":[)"
      R"({"response_range":{"kvs":[{"key":"L3AvbGVhZGVy","create_revision":"12","mod_revision":"12","version":"1"}]}},)"
      R"({"response_range":{"kvs":[{"key":"L3AvYQ==","create_revision":"4","mod_revision":"4","version":"1"}]}}]})";
  EXPECT_EQ(read_txn_answer(ops, conflict, fence).error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace berth::etcd
