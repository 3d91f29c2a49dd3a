#include "volume/local_transfer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "volume/two_local_nodes_test_support.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

const std::string kId = "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10";
constexpr uint64_t kSize = 64 << 20;

// The whole stream of a dataset's archive, and what came with it.
struct Streamed {
  std::string tar;
  LocalDatasetCopy copy;
  ArchiveStats stats;
};

Result<Streamed> stream_of(const std::string& node_dir, const std::string& id) {
  Result<std::unique_ptr<LocalDatasetArchive>> archive = archive_local_dataset(node_dir, id);
  if (!archive) return archive.error();
  Streamed out;
  while (true) {
    Result<bool> more = (*archive)->next(&out.tar);
    if (!more) return more.error();
    if (!*more) break;
  }
  out.copy = (*archive)->copy();
  out.stats = (*archive)->stats();
  return out;
}

Status accept_all(const ArchiveStats&) { return {}; }

Status install(const std::string& node_dir, const Streamed& streamed,
               const std::function<Status(const ArchiveStats&)>& verify = accept_all) {
  BytesArchiveSource source(streamed.tar, 4096);
  return install_local_dataset(node_dir, kId, streamed.copy, source, verify);
}

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
  Result<Streamed> streamed = stream_of(dir("a"), kId);
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(streamed->copy.epoch, 3u);
  EXPECT_EQ(streamed->copy.size_bytes, kSize);
  EXPECT_EQ(streamed->stats.entries, 5u);  // root, ledger, nested, nested/deeper, its note

  ArchiveStats verified;
  ASSERT_TRUE(install(dir("b"), *streamed, [&](const ArchiveStats& stats) -> Status {
                verified = stats;
                // Checked before anything is in place.
                EXPECT_FALSE(fs::exists(root_ / "b" / kId));
                return {};
              }).ok());
  EXPECT_EQ(verified.entries, 5u);
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
  auto attached = archive_local_dataset(dir("a"), kId);
  ASSERT_FALSE(attached.ok());
  EXPECT_EQ(attached.error().code, ErrorCode::kConflict);
  EXPECT_NE(attached.error().message.find("attached"), std::string::npos);
  EXPECT_EQ(archive_local_dataset(dir("b"), kId).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(archive_local_dataset(dir("a"), "3f2a9c1e-0b7d-4e8f-9a61-000000000000").error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(archive_local_dataset(dir("a"), "../../etc").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(LocalTransfer, TheDatasetStaysLockedWhileItsArchiveIsOpen) {
  make_on_a(1, "x");
  auto archive = archive_local_dataset(dir("a"), kId);
  ASSERT_TRUE(archive.ok()) << archive.error().message;
  RecordDir records(root_ / "a" / ".berth", false, std::chrono::milliseconds(50));
  Result<RecordDir::Lock> meanwhile = records.lock(kId);
  ASSERT_FALSE(meanwhile.ok()) << "an attach could have started during the copy";
  EXPECT_EQ(meanwhile.error().code, ErrorCode::kUnavailable);
  archive->reset();
  EXPECT_TRUE(records.lock(kId).ok());
}

TEST_F(LocalTransfer, InstallReplacesAnEarlierCopyAndKeepsTheHigherEpoch) {
  ASSERT_TRUE(b_->create(kId, kSize).ok());
  Result<std::string> stale = b_->attach(kId, "b", 7);
  ASSERT_TRUE(stale.ok());
  std::ofstream(fs::path(*stale) / "stale") << "old";
  ASSERT_TRUE(b_->detach(kId, "b").ok());
  make_on_a(3, "fresh");

  Result<Streamed> streamed = stream_of(dir("a"), kId);
  ASSERT_TRUE(streamed.ok());
  ASSERT_TRUE(install(dir("b"), *streamed).ok());
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
  Result<Streamed> streamed = stream_of(dir("a"), kId);
  ASSERT_TRUE(streamed.ok());
  Status installed = install(dir("b"), *streamed);
  ASSERT_FALSE(installed.ok());
  EXPECT_EQ(installed.error().code, ErrorCode::kConflict);
  EXPECT_EQ(read_all(fs::path(*mine) / "mine"), "in use");
  EXPECT_FALSE(fs::exists(fs::path(*mine) / "ledger"));
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
}

TEST_F(LocalTransfer, ATruncatedOrUnverifiedStreamChangesNothing) {
  ASSERT_TRUE(b_->create(kId, kSize).ok());
  Result<std::string> before = b_->attach(kId, "b", 1);
  ASSERT_TRUE(before.ok());
  std::ofstream(fs::path(*before) / "earlier") << "earlier copy";
  ASSERT_TRUE(b_->detach(kId, "b").ok());
  make_on_a(5, "complete");
  Result<Streamed> streamed = stream_of(dir("a"), kId);
  ASSERT_TRUE(streamed.ok());

  Streamed truncated = *streamed;
  truncated.tar.resize(truncated.tar.size() - 1024 - 512);
  Status cut = install(dir("b"), truncated);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, ErrorCode::kInvalidArgument);
  Status refused = install(dir("b"), *streamed, [](const ArchiveStats&) -> Status {
    return make_error(ErrorCode::kInvalidArgument, "the digest does not match");
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("the digest does not match"), std::string::npos);

  EXPECT_EQ(b_->list()->at(0).epoch, 1u);
  EXPECT_EQ(read_all(root_ / "b" / kId / "earlier"), "earlier copy");
  EXPECT_FALSE(fs::exists(root_ / "b" / kId / "ledger"));
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
}

}  // namespace
}  // namespace berth
