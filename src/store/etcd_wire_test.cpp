#include "store/etcd_wire.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::etcd {
namespace {

TEST(EtcdWire, Base64RoundTripsEveryLengthAndByte) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("/berth/"), "L2JlcnRoLw==");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (size_t size = 0; size <= bytes.size(); size += 37) {
    const std::string part = bytes.substr(bytes.size() - size);
    EXPECT_EQ(base64_decode(base64_encode(part)), part) << size;
  }
}

TEST(EtcdWire, Base64DecodeRejectsWhatIsNotBase64) {
  for (const char* bad : {"Zg=", "Z===", "Zm=v", "Zm9v!A==", "=Zm9"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

TEST(EtcdWire, TxnComparesModRevisionsAndRangesTheComparedKeysOnFailure) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kPut, "a", "1", 0},
                                    {StoreOp::Kind::kErase, "b", "", std::nullopt}};
  const nlohmann::json txn = txn_request(ops, "/p/");
  ASSERT_EQ(txn["compare"].size(), 1u);
  EXPECT_EQ(txn["compare"][0]["key"], base64_encode("/p/a"));
  EXPECT_EQ(txn["compare"][0]["target"], "MOD");
  EXPECT_EQ(txn["compare"][0]["mod_revision"], "0");
  ASSERT_EQ(txn["success"].size(), 2u);
  EXPECT_EQ(txn["success"][0]["request_put"]["value"], base64_encode("1"));
  EXPECT_EQ(txn["success"][1]["request_delete_range"]["key"], base64_encode("/p/b"));
  ASSERT_EQ(txn["failure"].size(), 1u);
  EXPECT_EQ(txn["failure"][0]["request_range"]["key"], base64_encode("/p/a"));
}

TEST(EtcdWire, ACommittedTxnGivesChangesWithEtcdsRevisions) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kPut, "a", "2", std::nullopt},
                                    {StoreOp::Kind::kErase, "b", "", std::nullopt},
                                    {StoreOp::Kind::kErase, "c", "", std::nullopt}};
  // As etcd 3.4 answers: int64 as strings, zero fields and empty values left out.
  const std::string answer =
      R"({"header":{"revision":"9"},"succeeded":true,"responses":[)"
      R"({"response_put":{"header":{"revision":"9"},"prev_kv":{"key":"L3AvYQ==",)"
      R"("create_revision":"4","mod_revision":"7","version":"2","value":"MQ=="}}},)"
      R"({"response_delete_range":{"header":{"revision":"9"},"deleted":"1","prev_kvs":[)"
      R"({"key":"L3AvYg==","create_revision":"5","mod_revision":"5","version":"1"}]}},)"
      R"({"response_delete_range":{"header":{"revision":"9"}}}]})";
  Result<CommitPlan> plan = read_txn_answer(ops, answer);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->revision, 9);
  ASSERT_EQ(plan->changes.size(), 2u);
  EXPECT_EQ(plan->changes[0].kv.key, "a");
  EXPECT_EQ(plan->changes[0].kv.create_revision, 4);
  EXPECT_EQ(plan->changes[0].kv.mod_revision, 9);
  EXPECT_EQ(plan->changes[0].kv.version, 3);
  EXPECT_EQ(plan->changes[1].kind, WatchEvent::Kind::kErase);
  EXPECT_EQ(plan->changes[1].kv.key, "b");
}

TEST(EtcdWire, ATxnThatDeletedNothingKeepsTheRevision) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kErase, "b", "", std::nullopt}};
  Result<CommitPlan> plan = read_txn_answer(
      ops,
      R"({"header":{"revision":"3"},"succeeded":true,"responses":[{"response_delete_range":{}}]})");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->revision, 3);
  EXPECT_TRUE(plan->changes.empty());
}

TEST(EtcdWire, ARefusedTxnIsAConflictNamingTheKey) {
  const std::vector<StoreOp> ops = {{StoreOp::Kind::kPut, "x", "1", std::nullopt},
                                    {StoreOp::Kind::kPut, "jobs/web", "2", 3}};
  Result<CommitPlan> plan = read_txn_answer(
      ops, R"({"header":{"revision":"8"},"responses":[{"response_range":{"kvs":[)"
           R"({"key":"L3Avam9icy93ZWI=","create_revision":"2","mod_revision":"6","version":"3"}],)"
           R"("count":"1"}}]})");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code, ErrorCode::kConflict);
  EXPECT_NE(plan.error().message.find("\"jobs/web\""), std::string::npos) << plan.error().message;
  EXPECT_NE(plan.error().message.find("6"), std::string::npos) << plan.error().message;
}

TEST(EtcdWire, AnswersThatAreNotEtcdsAreInternalErrors) {
  for (const char* bad : {"", "[]", "<html>", R"({"header":{"revision":"1"},"kvs":{}})",
                          R"({"header":{"revision":"1"},"kvs":[{"key":"!!"}]})",
                          R"({"header":{"revision":"1"},"kvs":[{"key":"L290aGVy"}]})"}) {
    Result<std::vector<KeyValue>> kvs = read_range_answer(bad, "/p/");
    ASSERT_FALSE(kvs.ok()) << bad;
    EXPECT_EQ(kvs.error().code, ErrorCode::kInternal) << bad;
  }
  for (const char* bad :
       {"{}", R"({"header":{"revision":"x"}})", R"({"header":{"revision":[]}})"}) {
    Result<int64_t> revision = read_header_revision(bad);
    ASSERT_FALSE(revision.ok()) << bad;
    EXPECT_EQ(revision.error().code, ErrorCode::kInternal) << bad;
  }
  EXPECT_EQ(read_header_revision(R"({"header":{"revision":"42"}})").value(), 42);
}

TEST(EtcdWire, ErrorAnswersKeepEtcdsMessageAndNameTheFlagThatBoundsARequest) {
  const Error too_large = read_error_answer(
      "http://h:2379", "/v3/kv/txn", 400,
      R"({"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3})");
  EXPECT_EQ(too_large.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(too_large.message.find("http://h:2379"), std::string::npos);
  EXPECT_NE(too_large.message.find("--max-request-bytes"), std::string::npos);
  EXPECT_EQ(
      read_error_answer("e", "m", 503, R"({"message":"etcdserver: no leader","code":14})").code,
      ErrorCode::kUnavailable);
  EXPECT_EQ(read_error_answer("e", "m", 401, "not json").code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace berth::etcd
