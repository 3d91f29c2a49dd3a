#include "agent/dataset_changes.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

protocol::DatasetAssignment want(std::string id, uint64_t epoch, bool attach = true, bool destroy = false) {
  protocol::DatasetAssignment a;
  a.dataset_id = std::move(id);
  a.driver = "shared";
  a.epoch = epoch;
  a.size_bytes = 1 << 26;
  a.attach = attach;
  a.destroy = destroy;
  return a;
}

LocalDataset have(std::string id, uint64_t epoch, bool attached = true, bool in_use = false) {
  return LocalDataset{std::move(id), "shared", attached, epoch, in_use};
}

using Kind = DatasetChange::Kind;

}  // namespace

TEST(DatasetChanges, AttachesWhatIsAssignedAndMissing) {
  auto changes = compute_dataset_changes({want("a", 3)}, {});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Kind::kCreateAndAttach);
  EXPECT_EQ(changes[0].epoch, 3u);
}

TEST(DatasetChanges, NothingToDoWhenConverged) {
  EXPECT_TRUE(compute_dataset_changes({want("a", 3)}, {have("a", 3)}).empty());
}

TEST(DatasetChanges, WaitsWhileTheDatasetIsHeldElsewhere) {
  EXPECT_TRUE(compute_dataset_changes({want("a", 3, /*attach=*/false)}, {}).empty());
}

TEST(DatasetChanges, DetachesWhatIsNoLongerAssignedBeforeAttachingAnything) {
  auto changes = compute_dataset_changes({want("b", 1)}, {have("a", 2)});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, Kind::kDetach);
  EXPECT_EQ(changes[0].dataset_id, "a");
  EXPECT_EQ(changes[1].kind, Kind::kCreateAndAttach);
  EXPECT_EQ(changes[1].dataset_id, "b");
}

TEST(DatasetChanges, NeverDetachesADatasetInUse) {
  EXPECT_TRUE(compute_dataset_changes({}, {have("a", 2, true, /*in_use=*/true)}).empty());
}

TEST(DatasetChanges, ReattachesAtANewerEpochWithoutDetaching) {
  auto changes = compute_dataset_changes({want("a", 5)}, {have("a", 4)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Kind::kCreateAndAttach);
  EXPECT_EQ(changes[0].epoch, 5u);
}

TEST(DatasetChanges, DestroysDeletedDatasetsAfterDetachingThem) {
  auto changes = compute_dataset_changes({want("a", 2, false, /*destroy=*/true)}, {have("a", 2)});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, Kind::kDetach);
  EXPECT_EQ(changes[1].kind, Kind::kDestroy);
}

}  // namespace berth::agent
