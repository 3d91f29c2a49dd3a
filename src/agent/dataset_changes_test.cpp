#include "agent/dataset_changes.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

protocol::DatasetAssignment want(std::string id, uint64_t epoch, bool attach = true,
                                 bool destroy = false) {
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

// A `local` dataset moving here from the agent at `from`.
protocol::DatasetAssignment moving_here(std::string id, uint64_t epoch, bool attach = true) {
  protocol::DatasetAssignment a = want(std::move(id), epoch, attach);
  a.driver = "local";
  a.copy_from = "http://10.0.0.1:7070";
  a.copy_from_node = "node-1";
  return a;
}

// A detached copy of a `local` dataset stored on this node.
LocalDataset local_copy(std::string id, uint64_t epoch) {
  return LocalDataset{std::move(id), "local", /*attached=*/false, epoch, false};
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

TEST(DatasetChanges, CopiesInALocalDatasetMovingHereInsteadOfCreatingIt) {
  auto changes = compute_dataset_changes({moving_here("a", 4)}, {});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Kind::kCopyAndAttach);
  EXPECT_EQ(changes[0].dataset_id, "a");
  EXPECT_EQ(changes[0].driver, "local");
  EXPECT_EQ(changes[0].epoch, 4u);
  EXPECT_EQ(changes[0].size_bytes, uint64_t{1} << 26);
  EXPECT_EQ(changes[0].copy_from, "http://10.0.0.1:7070");
  EXPECT_EQ(changes[0].copy_from_node, "node-1");
}

TEST(DatasetChanges, DoesNotCopyWhileTheSourceStillHoldsTheDataset) {
  EXPECT_TRUE(compute_dataset_changes({moving_here("a", 4, /*attach=*/false)}, {}).empty());
}

TEST(DatasetChanges, NothingToDoOnceTheCopyIsAttachedAtTheAssignedEpoch) {
  EXPECT_TRUE(compute_dataset_changes({moving_here("a", 4)}, {have("a", 4)}).empty());
}

TEST(DatasetChanges, AnOlderDetachedCopyHereIsReplacedByTheCopyNotReattached) {
  auto changes = compute_dataset_changes({moving_here("a", 4)}, {local_copy("a", 2)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Kind::kCopyAndAttach);
}

TEST(DatasetChanges, AStaleAttachedCopyIsDetachedBeforeTheCopyComesIn) {
  auto changes = compute_dataset_changes({moving_here("a", 4)}, {have("a", 2)});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, Kind::kDetach);
  EXPECT_EQ(changes[1].kind, Kind::kCopyAndAttach);
}

TEST(DatasetChanges, AStaleCopyInUseIsNeitherDetachedNorOverwritten) {
  EXPECT_TRUE(compute_dataset_changes({moving_here("a", 4)}, {have("a", 2, true, /*in_use=*/true)})
                  .empty());
}

TEST(DatasetChanges, ADetachedLocalCopyIsKeptUntilItIsToBeDestroyed) {
  EXPECT_TRUE(compute_dataset_changes({}, {local_copy("a", 3)}).empty());
  auto changes = compute_dataset_changes({want("a", 3, /*attach=*/false, /*destroy=*/true)},
                                         {local_copy("a", 3)});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, Kind::kDestroy);
}

// A "datasets" command built before the answer that granted "a" arrives after it: "a" stays
// granted, so the loop keeps it attached for the task about to use it.
TEST(CommandOverGrants, KeepsAGrantAtTheSameEpoch) {
  auto kept = with_grants_kept({want("a", 3), want("b", 1, /*attach=*/false)},
                               {want("a", 3, false), want("b", 1, false)});
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_TRUE(kept[0].attach);
  EXPECT_FALSE(kept[1].attach) << "a command grants nothing the answers did not";
  EXPECT_TRUE(compute_dataset_changes(kept, {have("a", 3)}).empty());
}

TEST(CommandOverGrants, LetsGoWhatTheCommandMovesLeavesOutOrDestroys) {
  // Moved: another epoch. Left out: moved to another node. Destroyed: deleted.
  auto kept = with_grants_kept({want("a", 3), want("b", 1), want("c", 2)},
                               {want("a", 4, false), want("c", 2, false, /*destroy=*/true)});
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FALSE(kept[0].attach);
  EXPECT_FALSE(kept[1].attach);
  auto changes = compute_dataset_changes(kept, {have("a", 3), have("b", 1), have("c", 2)});
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].kind, Kind::kDetach);
  EXPECT_EQ(changes[1].kind, Kind::kDetach);
  EXPECT_EQ(changes[2].kind, Kind::kDetach);
  EXPECT_EQ(changes[3].kind, Kind::kDestroy);
}

TEST(CommandOverGrants, AnOlderEpochOrAnEmptyListInForceKeepsNothing) {
  auto kept = with_grants_kept({want("a", 3)}, {want("a", 2, false)});
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_FALSE(kept[0].attach);
  // After a fence or a registration the list in force grants nothing (Agent::drop_grants_locked).
  kept = with_grants_kept({want("a", 3, /*attach=*/false)}, {want("a", 3, false)});
  EXPECT_FALSE(kept[0].attach);
  EXPECT_FALSE(with_grants_kept({}, {want("a", 3, false)})[0].attach);
}

TEST(CommandOverGrants, KeepsWhereAGrantedCopyComesFrom) {
  protocol::DatasetAssignment listed = moving_here("a", 4, /*attach=*/false);
  listed.copy_from.clear();
  listed.copy_from_node.clear();
  auto kept = with_grants_kept({moving_here("a", 4)}, {listed});
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_TRUE(kept[0].attach);
  EXPECT_EQ(kept[0].copy_from, "http://10.0.0.1:7070");
  EXPECT_EQ(kept[0].copy_from_node, "node-1");
}

}  // namespace berth::agent
