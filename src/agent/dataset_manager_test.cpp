#include "agent/dataset_manager.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "volume/local_transfer.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

const std::string kId = "5b1c2d3e-4f50-4a61-8b72-9c83d4e5f607";
constexpr uint64_t kSize = 64 << 20;

// Stands in for the HTTP download: does whatever the test says.
class FakeReceiver final : public DatasetReceiver {
 public:
  Status receive(const DatasetChange& change) override {
    seen.push_back(change);
    return behaviour(change);
  }
  std::function<Status(const DatasetChange&)> behaviour;
  std::vector<DatasetChange> seen;
};

protocol::DatasetAssignment moving_here(uint64_t epoch) {
  protocol::DatasetAssignment a;
  a.dataset_id = kId;
  a.driver = "local";
  a.epoch = epoch;
  a.size_bytes = kSize;
  a.attach = true;
  a.copy_from = "http://127.0.0.1:1";
  a.copy_from_node = "node-a";
  return a;
}

// A copy: the reports are a temporary of the caller's.
std::optional<protocol::DatasetReport> report_of(
    const std::vector<protocol::DatasetReport>& reports) {
  for (const auto& r : reports) {
    if (r.dataset_id == kId) return r;
  }
  return std::nullopt;
}

// Node "node-b" with the local driver (and a shared pool), receiving from node "node-a",
// whose local directory the fake receiver reads directly.
class DatasetManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-manager-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    fs::create_directories(root_ / "pool");
    std::map<std::string, std::unique_ptr<VolumeDriver>> drivers;
    drivers["local"] = make_local_driver((root_ / "b").string());
    drivers["shared"] = make_shared_driver((root_ / "pool").string());
    manager_ = std::make_unique<DatasetManager>(std::move(drivers), &receiver_);
    manager_->set_node_id("node-b");
    source_ = make_local_driver((root_ / "a").string());
  }
  void TearDown() override { fs::remove_all(root_); }

  void make_on_a(const std::string& contents) {
    ASSERT_TRUE(source_->create(kId, kSize).ok());
    Result<std::string> path = source_->attach(kId, "node-a", 2);
    ASSERT_TRUE(path.ok());
    std::ofstream(fs::path(*path) / "ledger") << contents;
    ASSERT_TRUE(source_->detach(kId, "node-a").ok());
  }
  // The copy without HTTP: node b extracts node a's stream as it is made.
  Status copy_from_a() {
    auto archive = archive_local_dataset((root_ / "a").string(), kId);
    if (!archive) return archive.error();
    struct Direct final : ArchiveSource {
      explicit Direct(LocalDatasetArchive& a) : from(a) {}
      Result<std::string_view> read() override {
        piece.clear();
        while (piece.empty() && more) {
          Result<bool> next = from.next(&piece);
          if (!next) return next.error();
          more = *next;
        }
        return std::string_view(piece);
      }
      LocalDatasetArchive& from;
      std::string piece;
      bool more = true;
    } source(**archive);
    return install_local_dataset((root_ / "b").string(), kId, (*archive)->copy(), source,
                                 [](const ArchiveStats&) { return Status(); });
  }

  bool b_list_attached() {
    auto listed = make_local_driver((root_ / "b").string())->list();
    for (const auto& v : *listed) {
      if (v.dataset_id == kId && v.attached_to) return true;
    }
    return false;
  }

  fs::path root_;
  FakeReceiver receiver_;
  std::unique_ptr<DatasetManager> manager_;
  std::unique_ptr<VolumeDriver> source_;
};

TEST_F(DatasetManagerTest, AFailedCopyIsReportedRetriedAndNeverReplacedByAnEmptyDataset) {
  make_on_a("acknowledged-1\n");
  receiver_.behaviour = [](const DatasetChange&) {
    return Status(make_error(ErrorCode::kUnavailable, "connection refused"));
  };
  manager_->converge({moving_here(3)});
  std::optional<protocol::DatasetReport> failed = report_of(manager_->report());
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->attached);
  EXPECT_NE(failed->error.find("connection refused"), std::string::npos) << failed->error;
  EXPECT_NE(failed->error.find("node-a"), std::string::npos) << failed->error;
  EXPECT_FALSE(fs::exists(root_ / "b" / kId));
  EXPECT_FALSE(manager_->usable_path(kId).ok());

  manager_->converge({moving_here(3)});
  EXPECT_EQ(receiver_.seen.size(), 2u);
  EXPECT_FALSE(fs::exists(root_ / "b" / kId));

  receiver_.behaviour = [this](const DatasetChange&) { return copy_from_a(); };
  manager_->converge({moving_here(3)});
  std::optional<protocol::DatasetReport> attached = report_of(manager_->report());
  ASSERT_TRUE(attached.has_value());
  EXPECT_TRUE(attached->attached) << attached->error;
  EXPECT_TRUE(attached->error.empty()) << attached->error;
  EXPECT_EQ(attached->epoch, 3u);
  EXPECT_TRUE(attached->local_copy);
  Result<std::string> path = manager_->usable_path(kId);
  ASSERT_TRUE(path.ok()) << path.error().message;
  std::ifstream in(fs::path(*path) / "ledger");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "acknowledged-1");
  EXPECT_EQ(receiver_.seen.back().copy_from, "http://127.0.0.1:1");
  EXPECT_EQ(receiver_.seen.back().copy_from_node, "node-a");

  // Converged: no more copies.
  manager_->converge({moving_here(3)});
  EXPECT_EQ(receiver_.seen.size(), 3u);
}

TEST_F(DatasetManagerTest, AFenceDuringADownloadDoesNotWaitForItAndNothingIsAttachedAfter) {
  make_on_a("data");
  // The lease runs out while the copy downloads (here on the same thread: were the download
  // holding up fencing, this would never return).
  receiver_.behaviour = [this](const DatasetChange&) {
    manager_->fence();
    return copy_from_a();
  };
  manager_->converge({moving_here(3)});
  EXPECT_FALSE(manager_->usable_path(kId).ok());
  EXPECT_FALSE(b_list_attached());
  manager_->unfence();
  receiver_.behaviour = [this](const DatasetChange&) { return copy_from_a(); };
  manager_->converge({moving_here(3)});
  EXPECT_TRUE(manager_->usable_path(kId).ok());
}

TEST_F(DatasetManagerTest, ADetachedLocalCopyIsReportedUntilItIsDestroyed) {
  protocol::DatasetAssignment here = moving_here(1);
  here.copy_from.clear();
  here.copy_from_node.clear();
  manager_->converge({here});
  ASSERT_TRUE(report_of(manager_->report())->attached);

  manager_->converge({});  // moved away: detached, the copy stays
  std::optional<protocol::DatasetReport> copy = report_of(manager_->report());
  ASSERT_TRUE(copy.has_value());
  EXPECT_FALSE(copy->attached);
  EXPECT_TRUE(copy->local_copy);
  EXPECT_EQ(copy->epoch, 1u);
  EXPECT_TRUE(copy->path.empty());
  EXPECT_TRUE(fs::exists(root_ / "b" / kId));

  protocol::DatasetAssignment stale = here;
  stale.attach = false;
  stale.destroy = true;
  manager_->converge({stale});
  EXPECT_FALSE(report_of(manager_->report()).has_value());
  EXPECT_FALSE(fs::exists(root_ / "b" / kId));
}

TEST_F(DatasetManagerTest, SharedDatasetsAttachedElsewhereAreNotReportedAsHere) {
  std::unique_ptr<VolumeDriver> other_node = make_shared_driver((root_ / "pool").string());
  ASSERT_TRUE(other_node->create(kId, kSize).ok());
  ASSERT_TRUE(other_node->attach(kId, "node-a", 1).ok());
  manager_->converge({});
  EXPECT_FALSE(report_of(manager_->report()).has_value());
  ASSERT_TRUE(other_node->detach(kId, "node-a").ok());
  manager_->converge({});
  EXPECT_FALSE(report_of(manager_->report()).has_value());
}

}  // namespace
}  // namespace berth::agent
