#include "store/commit_plan.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

StoreOp put_op(std::string key, std::string value, std::optional<int64_t> expected = {}) {
  return StoreOp{StoreOp::Kind::kPut, std::move(key), std::move(value), expected};
}

StoreOp erase_op(std::string key, std::optional<int64_t> expected = {}) {
  return StoreOp{StoreOp::Kind::kErase, std::move(key), "", expected};
}

TEST(PrefixSuccessor, IncrementsTheLastByte) {
  EXPECT_EQ(prefix_successor("a/"), "a0");
  EXPECT_EQ(prefix_successor("jobs"), "jobt");
}

TEST(PrefixSuccessor, DropsTrailingFfBytesBeforeIncrementing) {
  EXPECT_EQ(prefix_successor("a\xff\xff"), "b");
  EXPECT_EQ(prefix_successor(std::string("a\x7f", 2)), "a\x80");
}

TEST(PrefixSuccessor, HasNoneForEmptyOrAllFfPrefixes) {
  EXPECT_EQ(prefix_successor(""), std::nullopt);
  EXPECT_EQ(prefix_successor("\xff\xff"), std::nullopt);
}

TEST(CheckOps, RejectsEmptyNulAndOversizedKeys) {
  EXPECT_EQ(check_ops({put_op("", "v")}).error().code, ErrorCode::kInvalidArgument);
  const Status nul = check_ops({put_op(std::string("a\0b", 3), "v")});
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("\"a\\x00b\""), std::string::npos) << nul.error().message;
  EXPECT_FALSE(check_ops({put_op(std::string(kMaxKeyBytes + 1, 'k'), "v")}).ok());
  EXPECT_TRUE(check_ops({put_op(std::string(kMaxKeyBytes, 'k'), "v")}).ok());
}

TEST(CheckOps, RejectsOversizedValuesOnlyForPuts) {
  const std::string big(kMaxValueBytes + 1, 'v');
  EXPECT_FALSE(check_ops({put_op("k", big)}).ok());
  EXPECT_TRUE(check_ops({put_op("k", std::string(kMaxValueBytes, 'v'))}).ok());
}

TEST(CheckOps, RejectsTheSameKeyTwiceAndNegativeExpectations) {
  EXPECT_FALSE(check_ops({put_op("k", "1"), erase_op("k")}).ok());
  EXPECT_FALSE(check_ops({put_op("k", "1", -1)}).ok());
  EXPECT_TRUE(check_ops({put_op("k", "1", 0), erase_op("j", 3)}).ok());
}

TEST(PlanCommit, GivesEveryChangeTheNextRevisionInOpOrder) {
  auto plan = plan_commit({put_op("b", "new"), erase_op("a"), put_op("c", "old")},
                          {std::nullopt, KeyMeta{2, 4, 3}, KeyMeta{1, 5, 2}}, 7);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->revision, 8);
  ASSERT_EQ(plan->changes.size(), 3u);
  const KeyValue& created = plan->changes[0].kv;
  EXPECT_EQ(created.key, "b");
  EXPECT_EQ(created.create_revision, 8);
  EXPECT_EQ(created.mod_revision, 8);
  EXPECT_EQ(created.version, 1);
  EXPECT_EQ(plan->changes[1].kind, WatchEvent::Kind::kErase);
  EXPECT_EQ(plan->changes[1].kv.mod_revision, 8);
  const KeyValue& replaced = plan->changes[2].kv;
  EXPECT_EQ(replaced.create_revision, 1);
  EXPECT_EQ(replaced.version, 3);
}

TEST(PlanCommit, KeepsTheRevisionWhenNothingChanges) {
  auto plan = plan_commit({erase_op("gone")}, {std::nullopt}, 7);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->revision, 7);
  EXPECT_TRUE(plan->changes.empty());
}

TEST(PlanCommit, ConflictNamesTheKeyAndBothRevisions) {
  auto plan = plan_commit({put_op("ok", "1", 0), put_op("jobs/web", "2", 3)},
                          {std::nullopt, KeyMeta{1, 5, 2}}, 7);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code, ErrorCode::kConflict);
  EXPECT_EQ(plan.error().message,
            "conflict on key \"jobs/web\": expected mod_revision 3, but it is 5; nothing was "
            "changed: read the key again and retry");
}

TEST(QuoteKey, EscapesUnprintableBytesAndShortensLongKeys) {
  EXPECT_EQ(quote_key("a\"b\n"), "\"a\\\"b\\x0a\"");
  const std::string quoted = quote_key(std::string(1000, 'k'));
  EXPECT_NE(quoted.find("(first 200 of 1000 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace berth
