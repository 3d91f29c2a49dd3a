#include "volume/local_transfer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "volume/two_local_nodes_test_support.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

const std::string kId = "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10";
constexpr uint64_t kSize = 64 << 20;
constexpr uint64_t kNoLimit = uint64_t{1} << 30;

// Two nodes' local directories, as the agents of node "a" and node "b" have them.
class LocalTransfer : public testing::TwoLocalNodes {
 protected:
  // A dataset on node a, written to at `epoch` and detached again.
  void make_on_a(uint64_t epoch, const std::string& contents) {
    ASSERT_TRUE(a_->create(kId, kSize).ok());
    Result<std::string> path = a_->attach(kId, "a", epoch);
    ASSERT_TRUE(path.ok()) << path.error().message;
    std::ofstream(fs::path(*path) / "ledger") << contents;
    fs::create_directories(fs::path(*path) / "nested" / "deeper");
    std::ofstream(fs::path(*path) / "nested" / "deeper" / "note") << "nested";
    ASSERT_TRUE(a_->detach(kId, "a").ok());
  }
};

TEST_F(LocalTransfer, ACopyCarriesTheDataSizeAndEpochAndAttachesOnlyAtANewerEpoch) {
  make_on_a(3, "acknowledged-1\n");
  Result<LocalDatasetArchive> archive = archive_local_dataset(dir("a"), kId, kNoLimit);
  ASSERT_TRUE(archive.ok()) << archive.error().message;
  EXPECT_EQ(archive->epoch, 3u);
  EXPECT_EQ(archive->size_bytes, kSize);
  EXPECT_EQ(archive->entries, 5u);  // root, ledger, nested, nested/deeper, its note

  ASSERT_TRUE(install_local_dataset(dir("b"), kId, *archive).ok());
  Result<std::vector<VolumeInfo>> listed = b_->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size_bytes, kSize);
  EXPECT_EQ((*listed)[0].epoch, 3u);
  EXPECT_FALSE((*listed)[0].attached_to.has_value());
  EXPECT_EQ(b_->attach(kId, "b", 2).error().code, ErrorCode::kConflict);
  Result<std::string> path = b_->attach(kId, "b", 4);
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(read_all(fs::path(*path) / "ledger"), "acknowledged-1\n");
  EXPECT_EQ(read_all(fs::path(*path) / "nested" / "deeper" / "note"), "nested");
  // Nothing is left behind beside the dataset.
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("replaced-" + kId)));
  // The source keeps its copy until it is destroyed.
  EXPECT_EQ(read_all(root_ / "a" / kId / "ledger"), "acknowledged-1\n");
}

TEST_F(LocalTransfer, AnAttachedDatasetIsNotArchivedAndUnknownOnesAreNotFound) {
  ASSERT_TRUE(a_->create(kId, kSize).ok());
  ASSERT_TRUE(a_->attach(kId, "a", 1).ok());
  Result<LocalDatasetArchive> attached = archive_local_dataset(dir("a"), kId, kNoLimit);
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.error().code, ErrorCode::kConflict);
  EXPECT_NE(attached.error().message.find("attached"), std::string::npos);
  EXPECT_EQ(archive_local_dataset(dir("b"), kId, kNoLimit).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(archive_local_dataset(dir("a"), "3f2a9c1e-0b7d-4e8f-9a61-000000000000", kNoLimit)
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_EQ(archive_local_dataset(dir("a"), "../../etc", kNoLimit).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(LocalTransfer, ADatasetOverTheLimitIsRefusedSayingSo) {
  make_on_a(1, std::string(100000, 'x'));
  Result<LocalDatasetArchive> archive = archive_local_dataset(dir("a"), kId, 4096);
  ASSERT_FALSE(archive.ok());
  EXPECT_EQ(archive.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(archive.error().message.find("limit"), std::string::npos) << archive.error().message;
}

TEST_F(LocalTransfer, InstallReplacesAnEarlierCopyAndKeepsTheHigherEpoch) {
  ASSERT_TRUE(b_->create(kId, kSize).ok());
  Result<std::string> stale = b_->attach(kId, "b", 7);
  ASSERT_TRUE(stale.ok());
  std::ofstream(fs::path(*stale) / "stale") << "old";
  ASSERT_TRUE(b_->detach(kId, "b").ok());
  make_on_a(3, "fresh");

  Result<LocalDatasetArchive> archive = archive_local_dataset(dir("a"), kId, kNoLimit);
  ASSERT_TRUE(archive.ok());
  ASSERT_TRUE(install_local_dataset(dir("b"), kId, *archive).ok());
  EXPECT_EQ(b_->list()->at(0).epoch, 7u);
  Result<std::string> path = b_->attach(kId, "b", 8);
  ASSERT_TRUE(path.ok());
  EXPECT_FALSE(fs::exists(fs::path(*path) / "stale"));
  EXPECT_EQ(read_all(fs::path(*path) / "ledger"), "fresh");
}

TEST_F(LocalTransfer, InstallNeverTouchesADatasetAttachedHere) {
  make_on_a(1, "new");
  ASSERT_TRUE(b_->create(kId, kSize).ok());
  Result<std::string> mine = b_->attach(kId, "b", 2);
  ASSERT_TRUE(mine.ok());
  std::ofstream(fs::path(*mine) / "mine") << "in use";
  Result<LocalDatasetArchive> archive = archive_local_dataset(dir("a"), kId, kNoLimit);
  ASSERT_TRUE(archive.ok());
  Status installed = install_local_dataset(dir("b"), kId, *archive);
  ASSERT_FALSE(installed.ok());
  EXPECT_EQ(installed.error().code, ErrorCode::kConflict);
  EXPECT_EQ(read_all(fs::path(*mine) / "mine"), "in use");
  EXPECT_FALSE(fs::exists(fs::path(*mine) / "ledger"));
}

TEST_F(LocalTransfer, ATruncatedOrIncompleteArchiveChangesNothing) {
  ASSERT_TRUE(b_->create(kId, kSize).ok());
  Result<std::string> before = b_->attach(kId, "b", 1);
  ASSERT_TRUE(before.ok());
  std::ofstream(fs::path(*before) / "earlier") << "earlier copy";
  ASSERT_TRUE(b_->detach(kId, "b").ok());
  make_on_a(5, "complete");
  Result<LocalDatasetArchive> archive = archive_local_dataset(dir("a"), kId, kNoLimit);
  ASSERT_TRUE(archive.ok());

  LocalDatasetArchive truncated = *archive;
  truncated.tar.resize(truncated.tar.size() - 1024 - 512);
  Status cut = install_local_dataset(dir("b"), kId, truncated);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, ErrorCode::kInvalidArgument);
  LocalDatasetArchive short_of_entries = *archive;
  short_of_entries.entries += 1;
  Status incomplete = install_local_dataset(dir("b"), kId, short_of_entries);
  ASSERT_FALSE(incomplete.ok());
  EXPECT_NE(incomplete.error().message.find("incomplete"), std::string::npos);

  EXPECT_EQ(b_->list()->at(0).epoch, 1u);
  EXPECT_EQ(read_all(root_ / "b" / kId / "earlier"), "earlier copy");
  EXPECT_FALSE(fs::exists(root_ / "b" / kId / "ledger"));
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
}

}  // namespace
}  // namespace berth
