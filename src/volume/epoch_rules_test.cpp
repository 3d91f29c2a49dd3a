#include "volume/epoch_rules.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

const std::string kId = "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10";

EpochRecord held(const std::string& node, uint64_t epoch) { return {1024, node, epoch}; }
EpochRecord free_at(uint64_t epoch) { return {1024, std::nullopt, epoch}; }

TEST(VolumeEpochRules, AnOlderEpochIsRefusedNamingBothEpochs) {
  for (const EpochRecord& current : {held("a", 7), free_at(7), held("b", 7)}) {
    Result<EpochRecord> next = decide_attach(kId, current, "a", 6);
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.error().code, ErrorCode::kConflict);
    EXPECT_NE(next.error().message.find("epoch 6"), std::string::npos) << next.error().message;
    EXPECT_NE(next.error().message.find("epoch 7"), std::string::npos) << next.error().message;
  }
}

TEST(VolumeEpochRules, AnotherNodeAtTheSameEpochIsRefusedOnlyWhileHeld) {
  Result<EpochRecord> refused = decide_attach(kId, held("a", 3), "b", 3);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  Result<EpochRecord> taken = decide_attach(kId, free_at(3), "b", 3);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, held("b", 3));
}

TEST(VolumeEpochRules, ANewerEpochTakesOverFromTheHolder) {
  Result<EpochRecord> next = decide_attach(kId, held("a", 3), "b", 4);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, held("b", 4));
}

TEST(VolumeEpochRules, ReattachByTheHolderAtItsEpochChangesNothing) {
  Result<EpochRecord> next = decide_attach(kId, held("a", 3), "a", 3);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, held("a", 3));
}

TEST(VolumeEpochRules, DetachReleasesOnlyTheHoldersClaimAndKeepsTheEpoch) {
  EXPECT_EQ(decide_detach(held("a", 5), "a"), free_at(5));
  EXPECT_EQ(decide_detach(held("b", 5), "a"), held("b", 5));
  EXPECT_EQ(decide_detach(free_at(5), "a"), free_at(5));
}

TEST(VolumeEpochRules, PathIsFencedByANewerEpochAndNotFoundElsewhere) {
  EXPECT_TRUE(check_path(kId, held("a", 2), "a", 2).ok());
  Status fenced = check_path(kId, held("b", 3), "a", 2);
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(fenced.error().code, ErrorCode::kConflict);
  EXPECT_EQ(check_path(kId, held("b", 2), "a", 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(check_path(kId, free_at(2), "a", 2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(check_path(kId, held("a", 2), "a", 3).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth
