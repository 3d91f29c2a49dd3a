// The VolumeDriver contract: every test in VolumeContract runs against the shared, loop,
// local and in-memory drivers, so the fake cannot drift from the real ones (docs/architecture.md
// §8).
//
// Two "nodes" are two driver instances over one pool, as two machines would mount one shared
// filesystem (for loop, each with its own mount directory). The local driver has no pool to
// share: its second node id uses the same node directory, which still exercises every epoch
// rule; moving local data between directories is LocalVolume's business.
//
// The loop driver needs root and /dev/loop-control; where it is not available its tests are
// skipped with the reason. Every loop test unmounts and unbinds whatever it made under its
// temporary directory, even when it fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "volume/loop_backend.h"
#include "volume/loop_device.h"
#include "volume/memory_driver.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kSize = 32 * kMiB;

std::string dataset(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "0000%04d-0b7d-4e8f-9a61-5c2d8e4b7f10", n);
  return buf;
}

fs::path make_temp_directory() {
  std::string pattern = (fs::temp_directory_path() / "berth-volume-XXXXXX").string();
  const char* made = mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return {};
  }
  return fs::canonical(made);
}

template <typename T>
::testing::AssertionResult is_ok(const Result<T>& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "error: " << result.error().message;
}

// Failure output shows what happened instead, with the message.
template <typename T>
::testing::AssertionResult fails_with(const Result<T>& result, ErrorCode code) {
  if (result.ok()) return ::testing::AssertionFailure() << "succeeded";
  if (result.error().code == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with code " << static_cast<int>(result.error().code) << ": "
         << result.error().message;
}

template <typename T>
T ok_value(Result<T> result) {
  EXPECT_TRUE(is_ok(result));
  if (!result.ok()) return T{};
  return std::move(result).value();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Unmounts and unbinds everything a test made under `root`, deepest mounts first.
void release_mounts_and_loop_devices_under(const fs::path& root) {
  std::string prefix = root.string() + "/";
  if (Result<std::vector<MountEntry>> mounts = read_mounts(); mounts.ok()) {
    std::vector<std::string> points;
    for (const MountEntry& m : *mounts) {
      if (m.mount_point.rfind(prefix, 0) == 0) points.push_back(m.mount_point);
    }
    std::sort(points.begin(), points.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const std::string& point : points) ::umount2(point.c_str(), MNT_DETACH);
  }
  if (Result<std::vector<LoopDevice>> devices = list_loop_devices(); devices.ok()) {
    for (const LoopDevice& device : *devices) {
      if (device.backing_file.rfind(prefix, 0) == 0) (void)detach_loop_device(device);
    }
  }
}

// Two nodes' drivers over one pool, and file access at the paths they return.
class VolumeEnv {
 public:
  virtual ~VolumeEnv() = default;
  virtual VolumeDriver& node_a() = 0;
  virtual VolumeDriver& node_b() = 0;

  virtual Status write_file(const std::string& dir, const std::string& name,
                            const std::string& content) {
    std::ofstream out(fs::path(dir) / name, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return make_error(ErrorCode::kInternal, "cannot write " + dir + "/" + name);
    return {};
  }
  virtual Result<std::string> read_file(const std::string& dir, const std::string& name) {
    std::ifstream in(fs::path(dir) / name, std::ios::binary);
    if (!in) return make_error(ErrorCode::kNotFound, "no file " + dir + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // Every path under the environment's directory, to prove that bad input touched nothing.
  virtual std::set<std::string> files() { return {}; }
  virtual void clean_up() {}
};

class SharedEnv : public VolumeEnv {
 public:
  explicit SharedEnv(const fs::path& root) : root_(root) {
    fs::create_directories(root / "pool");
    a_ = make_shared_driver((root / "pool").string());
    b_ = make_shared_driver((root / "pool").string());
  }
  VolumeDriver& node_a() override { return *a_; }
  VolumeDriver& node_b() override { return *b_; }
  std::set<std::string> files() override {
    std::set<std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(root_))
      out.insert(entry.path().string());
    return out;
  }

 protected:
  fs::path root_;
  std::unique_ptr<VolumeDriver> a_, b_;
};

class LoopEnv : public SharedEnv {
 public:
  explicit LoopEnv(const fs::path& root) : SharedEnv(root) {
    a_ = make_loop_driver((root / "pool").string(), (root / "mnt-a").string());
    b_ = make_loop_driver((root / "pool").string(), (root / "mnt-b").string());
  }
  void clean_up() override { release_mounts_and_loop_devices_under(root_); }
};

class LocalEnv : public SharedEnv {
 public:
  explicit LocalEnv(const fs::path& root) : SharedEnv(root) {
    a_ = make_local_driver((root / "node-a").string());
    b_.reset();
  }
  VolumeDriver& node_b() override { return *a_; }  // One node directory; see the top comment.
};

class MemoryEnv : public VolumeEnv {
 public:
  MemoryEnv()
      : pool_(std::make_shared<MemoryVolumePool>()),
        a_(make_memory_driver(pool_)),
        b_(make_memory_driver(pool_)) {}
  VolumeDriver& node_a() override { return *a_; }
  VolumeDriver& node_b() override { return *b_; }
  Status write_file(const std::string& dir, const std::string& name,
                    const std::string& content) override {
    return pool_->write_file(dir, name, content);
  }
  Result<std::string> read_file(const std::string& dir, const std::string& name) override {
    return pool_->read_file(dir, name);
  }

 private:
  std::shared_ptr<MemoryVolumePool> pool_;
  std::unique_ptr<VolumeDriver> a_, b_;
};

std::unique_ptr<VolumeEnv> make_env(const std::string& kind, const fs::path& root) {
  if (kind == "shared") return std::make_unique<SharedEnv>(root);
  if (kind == "loop") return std::make_unique<LoopEnv>(root);
  if (kind == "local") return std::make_unique<LocalEnv>(root);
  return std::make_unique<MemoryEnv>();
}

class VolumeContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = make_temp_directory();
    ASSERT_FALSE(root_.empty());
    env_ = make_env(GetParam(), root_);
    if (Status available = a().available(); !available.ok()) {
      GTEST_SKIP() << "the " << GetParam()
                   << " driver is not available here: " << available.error().message;
    }
  }
  void TearDown() override {
    if (env_) env_->clean_up();
    env_.reset();
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  VolumeDriver& a() { return env_->node_a(); }
  VolumeDriver& b() { return env_->node_b(); }

  std::map<std::string, VolumeInfo> listed(VolumeDriver& driver) {
    std::map<std::string, VolumeInfo> out;
    for (VolumeInfo& info : ok_value(driver.list())) out[info.dataset_id] = info;
    return out;
  }

  fs::path root_;
  std::unique_ptr<VolumeEnv> env_;
};

TEST_P(VolumeContract, CreateIsIdempotentForTheSameSize) {
  VolumeInfo first = ok_value(a().create(dataset(1), kSize));
  VolumeInfo again = ok_value(b().create(dataset(1), kSize));
  EXPECT_EQ(first.dataset_id, dataset(1));
  EXPECT_EQ(first.size_bytes, kSize);
  EXPECT_FALSE(first.attached_to.has_value());
  EXPECT_EQ(again.size_bytes, kSize);
  EXPECT_EQ(listed(a()).size(), 1u);
}

TEST_P(VolumeContract, CreateWithAnotherSizeIsAConflictNamingBothSizesAndChangesNothing) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  Result<VolumeInfo> other = b().create(dataset(1), 2 * kSize);
  ASSERT_TRUE(fails_with(other, ErrorCode::kConflict));
  EXPECT_TRUE(contains(other.error().message, std::to_string(kSize)));
  EXPECT_TRUE(contains(other.error().message, std::to_string(2 * kSize)));
  EXPECT_EQ(listed(a()).at(dataset(1)).size_bytes, kSize);
}

TEST_P(VolumeContract, MalformedDatasetIdsAreRejectedAndTouchNothing) {
  std::set<std::string> before = env_->files();
  for (const std::string& bad :
       std::vector<std::string>{"", "..", "../escape", "3F2A9C1E-0B7D-4E8F-9A61-5C2D8E4B7F10",
                                "3f2a9c1e0b7d4e8f9a615c2d8e4b7f10", dataset(1) + "0",
                                dataset(1).substr(1), "3f2a9c1e-0b7d-4e8f-9a61/5c2d8e4b7f10"}) {
    SCOPED_TRACE("id \"" + bad + "\"");
    EXPECT_TRUE(fails_with(a().create(bad, kSize), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(fails_with(a().destroy(bad), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(fails_with(a().attach(bad, "a", 1), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(fails_with(a().detach(bad, "a"), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(fails_with(a().path(bad, "a", 1), ErrorCode::kInvalidArgument));
  }
  EXPECT_TRUE(listed(a()).empty());
  EXPECT_EQ(env_->files(), before);
}

TEST_P(VolumeContract, AZeroSizeIsRejected) {
  Result<VolumeInfo> zero = a().create(dataset(1), 0);
  ASSERT_TRUE(fails_with(zero, ErrorCode::kInvalidArgument));
  EXPECT_TRUE(contains(zero.error().message, "maximum_size"));
  EXPECT_TRUE(listed(a()).empty());
}

TEST_P(VolumeContract, DestroyOfAnUnknownDatasetIsNotFound) {
  EXPECT_TRUE(fails_with(a().destroy(dataset(9)), ErrorCode::kNotFound));
}

TEST_P(VolumeContract, DestroyWhileAttachedIsAConflictAndKeepsTheData) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string dir = ok_value(a().attach(dataset(1), "a", 1));
  ASSERT_TRUE(is_ok(env_->write_file(dir, "keep", "still here")));
  Status refused = b().destroy(dataset(1));
  ASSERT_TRUE(fails_with(refused, ErrorCode::kConflict));
  EXPECT_TRUE(contains(refused.error().message, "\"a\""));
  EXPECT_EQ(ok_value(env_->read_file(dir, "keep")), "still here");

  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  ASSERT_TRUE(is_ok(b().destroy(dataset(1))));
  EXPECT_TRUE(listed(a()).empty());
  EXPECT_TRUE(fails_with(a().attach(dataset(1), "a", 2), ErrorCode::kNotFound));
  EXPECT_TRUE(fails_with(a().destroy(dataset(1)), ErrorCode::kNotFound));
}

TEST_P(VolumeContract, ADestroyedAndRecreatedDatasetStartsEmpty) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string dir = ok_value(a().attach(dataset(1), "a", 1));
  ASSERT_TRUE(is_ok(env_->write_file(dir, "old", "old data")));
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  ASSERT_TRUE(is_ok(a().destroy(dataset(1))));

  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  dir = ok_value(a().attach(dataset(1), "a", 1));
  EXPECT_TRUE(fails_with(env_->read_file(dir, "old"), ErrorCode::kNotFound));
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
}

TEST_P(VolumeContract, AttachAndPathOfAnUnknownDatasetAreNotFound) {
  EXPECT_TRUE(fails_with(a().attach(dataset(9), "a", 1), ErrorCode::kNotFound));
  EXPECT_TRUE(fails_with(a().path(dataset(9), "a", 1), ErrorCode::kNotFound));
  EXPECT_TRUE(is_ok(a().detach(dataset(9), "a")));
}

TEST_P(VolumeContract, AttachReturnsAWritablePathThatPathReportsToo) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string dir = ok_value(a().attach(dataset(1), "a", 1));
  ASSERT_FALSE(dir.empty());
  ASSERT_TRUE(is_ok(env_->write_file(dir, "hello", "world")));
  EXPECT_EQ(ok_value(env_->read_file(dir, "hello")), "world");
  EXPECT_EQ(ok_value(a().path(dataset(1), "a", 1)), dir);
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
}

TEST_P(VolumeContract, DataSurvivesDetachAndAttachOnAnotherNode) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string dir = ok_value(a().attach(dataset(1), "a", 1));
  std::string payload(256 * 1024, 'x');
  ASSERT_TRUE(is_ok(env_->write_file(dir, "counter", payload)));
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));

  std::string moved = ok_value(b().attach(dataset(1), "b", 2));
  EXPECT_EQ(ok_value(env_->read_file(moved, "counter")), payload);
  ASSERT_TRUE(is_ok(env_->write_file(moved, "counter", "2")));
  ASSERT_TRUE(is_ok(b().detach(dataset(1), "b")));

  dir = ok_value(a().attach(dataset(1), "a", 3));
  EXPECT_EQ(ok_value(env_->read_file(dir, "counter")), "2");
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
}

TEST_P(VolumeContract, AnOlderEpochIsRefusedNamingBothEpochs) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  ASSERT_TRUE(is_ok(a().attach(dataset(1), "a", 5)));
  // While held, by another node and by the holder itself.
  Result<std::string> other = b().attach(dataset(1), "b", 4);
  ASSERT_TRUE(fails_with(other, ErrorCode::kConflict));
  EXPECT_TRUE(contains(other.error().message, "epoch 4")) << other.error().message;
  EXPECT_TRUE(contains(other.error().message, "epoch 5")) << other.error().message;
  EXPECT_TRUE(fails_with(a().attach(dataset(1), "a", 4), ErrorCode::kConflict));
  // And once nobody holds it: the epoch record outlives the attachment.
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  Result<std::string> late = b().attach(dataset(1), "b", 4);
  ASSERT_TRUE(fails_with(late, ErrorCode::kConflict));
  EXPECT_TRUE(contains(late.error().message, "epoch 4")) << late.error().message;
  EXPECT_TRUE(contains(late.error().message, "epoch 5")) << late.error().message;
  EXPECT_TRUE(fails_with(a().attach(dataset(1), "a", 0), ErrorCode::kConflict));
  VolumeInfo info = listed(b()).at(dataset(1));
  EXPECT_EQ(info.epoch, 5u);
  EXPECT_FALSE(info.attached_to.has_value());
}

TEST_P(VolumeContract, AnotherNodeAtTheSameEpochIsRefusedWhileHeld) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  ASSERT_TRUE(is_ok(a().attach(dataset(1), "a", 2)));
  Result<std::string> refused = b().attach(dataset(1), "b", 2);
  ASSERT_TRUE(fails_with(refused, ErrorCode::kConflict));
  EXPECT_TRUE(contains(refused.error().message, "epoch 2"));
  EXPECT_EQ(listed(a()).at(dataset(1)).attached_to, "a");

  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  ASSERT_TRUE(is_ok(b().attach(dataset(1), "b", 2)));
  EXPECT_EQ(listed(a()).at(dataset(1)).attached_to, "b");
  ASSERT_TRUE(is_ok(b().detach(dataset(1), "b")));
}

TEST_P(VolumeContract, ANewerEpochTakesOverAndFencesTheOldHolder) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string old_dir = ok_value(a().attach(dataset(1), "a", 1));
  ASSERT_TRUE(is_ok(env_->write_file(old_dir, "before", "written by a")));

  // Node a is partitioned away and never detaches; b is given the dataset at epoch 2.
  std::string new_dir = ok_value(b().attach(dataset(1), "b", 2));
  VolumeInfo info = listed(a()).at(dataset(1));
  EXPECT_EQ(info.attached_to, "b");
  EXPECT_EQ(info.epoch, 2u);
  EXPECT_EQ(ok_value(env_->read_file(new_dir, "before")), "written by a");

  Result<std::string> fenced = a().path(dataset(1), "a", 1);
  ASSERT_TRUE(fails_with(fenced, ErrorCode::kConflict));
  EXPECT_TRUE(contains(fenced.error().message, "epoch 2")) << fenced.error().message;
  EXPECT_TRUE(fails_with(a().attach(dataset(1), "a", 1), ErrorCode::kConflict));
  EXPECT_EQ(ok_value(b().path(dataset(1), "b", 2)), new_dir);

  // The fenced node cleaning up late must not release the new holder's claim.
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  EXPECT_EQ(listed(b()).at(dataset(1)).attached_to, "b");
  EXPECT_EQ(ok_value(b().path(dataset(1), "b", 2)), new_dir);
  ASSERT_TRUE(is_ok(env_->write_file(new_dir, "after", "written by b")));
  ASSERT_TRUE(is_ok(b().detach(dataset(1), "b")));
}

TEST_P(VolumeContract, ReattachBySameNodeAtSameEpochIsIdempotent) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  std::string dir = ok_value(a().attach(dataset(1), "a", 4));
  ASSERT_TRUE(is_ok(env_->write_file(dir, "f", "1")));
  EXPECT_EQ(ok_value(a().attach(dataset(1), "a", 4)), dir);
  EXPECT_EQ(ok_value(env_->read_file(dir, "f")), "1");
  VolumeInfo info = listed(a()).at(dataset(1));
  EXPECT_EQ(info.attached_to, "a");
  EXPECT_EQ(info.epoch, 4u);
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
}

TEST_P(VolumeContract, DetachIsIdempotentAndOnlyTheHolderReleases) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  EXPECT_TRUE(is_ok(a().detach(dataset(1), "a")));  // Never attached.
  ASSERT_TRUE(is_ok(a().attach(dataset(1), "a", 1)));
  EXPECT_TRUE(is_ok(b().detach(dataset(1), "b")));  // Not the holder: nothing changes.
  EXPECT_EQ(listed(a()).at(dataset(1)).attached_to, "a");
  EXPECT_TRUE(is_ok(a().path(dataset(1), "a", 1)));
  EXPECT_TRUE(is_ok(a().detach(dataset(1), "a")));
  EXPECT_TRUE(is_ok(a().detach(dataset(1), "a")));
  VolumeInfo info = listed(a()).at(dataset(1));
  EXPECT_FALSE(info.attached_to.has_value());
  EXPECT_EQ(info.epoch, 1u);
}

TEST_P(VolumeContract, PathIsNotFoundWhereTheDatasetIsNotAttached) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  EXPECT_TRUE(fails_with(a().path(dataset(1), "a", 0), ErrorCode::kNotFound));
  ASSERT_TRUE(is_ok(a().attach(dataset(1), "a", 1)));
  EXPECT_TRUE(fails_with(b().path(dataset(1), "b", 1), ErrorCode::kNotFound));
  EXPECT_TRUE(fails_with(a().path(dataset(1), "a", 2), ErrorCode::kNotFound));
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
  EXPECT_TRUE(fails_with(a().path(dataset(1), "a", 1), ErrorCode::kNotFound));
}

TEST_P(VolumeContract, ListShowsEveryDatasetWithItsHolderAndEpoch) {
  ASSERT_TRUE(is_ok(a().create(dataset(1), kSize)));
  ASSERT_TRUE(is_ok(a().create(dataset(2), 2 * kSize)));
  ASSERT_TRUE(is_ok(a().create(dataset(3), kSize)));
  ASSERT_TRUE(is_ok(a().attach(dataset(1), "a", 3)));
  ASSERT_TRUE(is_ok(b().attach(dataset(2), "b", 7)));
  ASSERT_TRUE(is_ok(b().detach(dataset(2), "b")));

  for (VolumeDriver* driver : {&a(), &b()}) {
    std::map<std::string, VolumeInfo> infos = listed(*driver);
    ASSERT_EQ(infos.size(), 3u);
    EXPECT_EQ(infos[dataset(1)].attached_to, "a");
    EXPECT_EQ(infos[dataset(1)].epoch, 3u);
    EXPECT_EQ(infos[dataset(1)].size_bytes, kSize);
    EXPECT_FALSE(infos[dataset(2)].attached_to.has_value());
    EXPECT_EQ(infos[dataset(2)].epoch, 7u);
    EXPECT_EQ(infos[dataset(2)].size_bytes, 2 * kSize);
    EXPECT_FALSE(infos[dataset(3)].attached_to.has_value());
    EXPECT_EQ(infos[dataset(3)].epoch, 0u);
  }
  ASSERT_TRUE(is_ok(a().detach(dataset(1), "a")));
}

TEST_P(VolumeContract, TwoNodesAttachingAtOnceSerialiseAndExactlyOneWins) {
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string id = dataset(10 + round);
    ASSERT_TRUE(is_ok(a().create(id, kSize)));
    std::optional<Result<std::string>> from_a, from_b;
    std::thread ta([&] { from_a.emplace(a().attach(id, "a", 1)); });
    std::thread tb([&] { from_b.emplace(b().attach(id, "b", 1)); });
    ta.join();
    tb.join();
    ASSERT_NE(from_a->ok(), from_b->ok());
    std::string winner = from_a->ok() ? "a" : "b";
    EXPECT_TRUE(fails_with(from_a->ok() ? *from_b : *from_a, ErrorCode::kConflict));
    EXPECT_EQ(listed(a()).at(id).attached_to, winner);
    ASSERT_TRUE(is_ok((winner == "a" ? a() : b()).detach(id, winner)));
  }
}

INSTANTIATE_TEST_SUITE_P(AllDrivers, VolumeContract,
                         ::testing::Values("shared", "loop", "local", "memory"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// What only the shared driver's pool can show.
TEST(SharedVolume, AMissingPoolIsUnavailableAndIsNotCreated) {
  fs::path root = make_temp_directory();
  fs::path pool = root / "not-mounted";
  std::unique_ptr<VolumeDriver> driver = make_shared_driver(pool.string());
  Status available = driver->available();
  ASSERT_FALSE(available.ok());
  EXPECT_TRUE(contains(available.error().message, pool.string()));
  EXPECT_TRUE(fails_with(driver->create(dataset(1), kSize), ErrorCode::kUnavailable));
  EXPECT_FALSE(fs::exists(pool));
  fs::remove_all(root);
}

// The loop driver's half-done states and limits.
class LoopVolume : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_directory();
    ASSERT_FALSE(root_.empty());
    fs::create_directories(root_ / "pool");
    driver_ = make_loop_driver((root_ / "pool").string(), (root_ / "mnt").string());
    if (Status available = driver_->available(); !available.ok()) {
      GTEST_SKIP() << "the loop driver is not available here: " << available.error().message;
    }
  }
  void TearDown() override {
    release_mounts_and_loop_devices_under(root_);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string image(int n) { return (root_ / "pool" / (dataset(n) + ".img")).string(); }
  size_t devices_for(int n) { return ok_value(loop_devices_for(image(n))).size(); }
  bool mounted(const std::string& dir) {
    return find_mount(ok_value(read_mounts()), dir).has_value();
  }

  fs::path root_;
  std::unique_ptr<VolumeDriver> driver_;
};

TEST_F(LoopVolume, RejectsImagesSmallerThan16MiB) {
  Result<VolumeInfo> small = driver_->create(dataset(1), 16 * kMiB - 1);
  ASSERT_TRUE(fails_with(small, ErrorCode::kInvalidArgument));
  EXPECT_TRUE(contains(small.error().message, "maximum_size must be at least 16 MiB"));
  EXPECT_FALSE(fs::exists(image(1)));
  EXPECT_TRUE(is_ok(driver_->create(dataset(1), 16 * kMiB)));
  EXPECT_EQ(fs::file_size(image(1)), 16 * kMiB);
}

TEST_F(LoopVolume, DetachLeavesNoMountAndNoLoopDevice) {
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  EXPECT_TRUE(mounted(dir));
  EXPECT_EQ(devices_for(1), 1u);
  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
  EXPECT_FALSE(mounted(dir));
  EXPECT_EQ(devices_for(1), 0u);
}

TEST_F(LoopVolume, AttachReusesALoopDeviceLeftBoundToTheImage) {
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  // An attach that bound a device and died before mounting (without autoclear).
  Result<OpenLoopDevice> leftover = attach_loop_device(image(1), /*autoclear=*/false);
  ASSERT_TRUE(is_ok(leftover));
  leftover->fd.reset();
  ASSERT_EQ(devices_for(1), 1u);

  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  EXPECT_TRUE(mounted(dir));
  EXPECT_EQ(devices_for(1), 1u);  // Reused, not a second device over the same blocks.
  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
  EXPECT_EQ(devices_for(1), 0u);
}

TEST_F(LoopVolume, AttachMountsAgainAfterTheMountVanished) {
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  std::ofstream(fs::path(dir) / "f") << "kept";
  ASSERT_EQ(::umount2(dir.c_str(), 0), 0);  // As after a reboot.

  EXPECT_TRUE(fails_with(driver_->path(dataset(1), "a", 1), ErrorCode::kNotFound));
  EXPECT_EQ(ok_value(driver_->attach(dataset(1), "a", 1)), dir);
  {
    std::ifstream in(fs::path(dir) / "f");
    std::string text;
    in >> text;
    EXPECT_EQ(text, "kept");
  }  // Closed, or the detach below would find the mount busy.
  EXPECT_EQ(ok_value(driver_->path(dataset(1), "a", 1)), dir);
  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
}

TEST_F(LoopVolume, DetachOfABusyMountIsUnavailableAndKeepsTheHold) {
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  int fd = ::open((dir + "/open").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  Status busy = driver_->detach(dataset(1), "a");
  EXPECT_TRUE(fails_with(busy, ErrorCode::kUnavailable));
  ::close(fd);
  ASSERT_EQ(ok_value(driver_->list()).size(), 1u);
  EXPECT_EQ(ok_value(driver_->list())[0].attached_to, "a");
  EXPECT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
  EXPECT_FALSE(mounted(dir));
}

TEST_F(LoopVolume, AHalfMadeImageIsReplacedByTheNextCreate) {
  std::ofstream(image(1)) << "not a filesystem";
  std::ofstream(image(1) + ".tmp") << "half";
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  EXPECT_FALSE(fs::exists(image(1) + ".tmp"));
  EXPECT_EQ(fs::file_size(image(1)), kSize);
  EXPECT_TRUE(is_ok(driver_->attach(dataset(1), "a", 1)));
  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
}

// The first line of a file, closed again (so that its mount can be detached).
std::string first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// Whether the image's superblock has ext4's multi-mount protection (INCOMPAT_MMP, 0x100).
bool has_mmp(const std::string& image) {
  std::ifstream in(image, std::ios::binary);
  unsigned char incompat[4] = {};
  in.seekg(1024 + 0x60);
  in.read(reinterpret_cast<char*>(incompat), sizeof incompat);
  return in && (incompat[1] & 0x01) != 0;
}

// ext4's crc32c as the kernel computes it (no inversion before or after).
uint32_t crc32c(uint32_t crc, const unsigned char* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return crc;
}

uint32_t le32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Leaves the image's MMP block as a host that died while mounting it would: a live sequence
// number, checksummed. Returns false when the block is not where and what ext4 says.
bool leave_mmp_as_a_dead_host_would(const std::string& image) {
  std::fstream file(image, std::ios::in | std::ios::out | std::ios::binary);
  unsigned char sb[1024];
  file.seekg(1024);
  file.read(reinterpret_cast<char*>(sb), sizeof sb);
  uint64_t block = le32(sb + 0x168) | uint64_t{le32(sb + 0x16C)} << 32;
  uint64_t block_size = uint64_t{1024} << le32(sb + 0x18);
  uint32_t seed = (le32(sb + 0x60) & 0x2000) != 0 ? le32(sb + 0x270) : crc32c(~0u, sb + 0x68, 16);
  unsigned char mmp[1024];
  file.seekg(static_cast<std::streamoff>(block * block_size));
  file.read(reinterpret_cast<char*>(mmp), sizeof mmp);
  if (!file || le32(mmp) != 0x004D4D50 || crc32c(seed, mmp, 0x3FC) != le32(mmp + 0x3FC)) {
    return false;
  }
  const unsigned char live_seq[4] = {0x2A, 0, 0, 0};  // 42: neither clean nor fsck
  std::copy(live_seq, live_seq + 4, mmp + 4);
  uint32_t sum = crc32c(seed, mmp, 0x3FC);
  for (int i = 0; i < 4; ++i) mmp[0x3FC + i] = static_cast<unsigned char>(sum >> (8 * i));
  file.seekp(static_cast<std::streamoff>(block * block_size));
  file.write(reinterpret_cast<const char*>(mmp), sizeof mmp);
  file.flush();
  return file.good();
}

// The image of a host that died while it had it mounted mounts elsewhere, once the kernel has
// seen the MMP block stand still for two check intervals (about 22 s).
TEST_F(LoopVolume, AnImageLeftMountedByADeadHostMountsElsewhereAfterTheCheckInterval) {
  auto other = make_loop_driver((root_ / "pool").string(), (root_ / "mnt-other").string(),
                                LoopDeviceSharing::kSeparateHost);
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  std::ofstream(fs::path(dir) / "f") << "from a";
  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
  ASSERT_TRUE(leave_mmp_as_a_dead_host_would(image(1)));

  auto start = std::chrono::steady_clock::now();
  std::string there = ok_value(other->attach(dataset(1), "b", 2));
  auto waited = std::chrono::steady_clock::now() - start;
  std::cout << "the dead host's image mounted after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms\n";
  EXPECT_GE(waited, std::chrono::seconds(10));  // The kernel did check: not a clean image.
  EXPECT_EQ(first_line(fs::path(there) / "f"), "from a");
  EXPECT_TRUE(is_ok(other->detach(dataset(1), "b")));
}

// A node on another host (its own loop devices, as another kernel would have) cannot mount an
// image this host has mounted: multi-mount protection refuses it, A keeps writing, and once A
// detached the other host mounts at once and sees A's data (docs/fencing.md §4).
TEST_F(LoopVolume, AnotherHostCannotMountAnImageWhileThisHostHasItMounted) {
  auto other = make_loop_driver((root_ / "pool").string(), (root_ / "mnt-other").string(),
                                LoopDeviceSharing::kSeparateHost);
  ASSERT_TRUE(is_ok(driver_->create(dataset(1), kSize)));
  EXPECT_TRUE(has_mmp(image(1)));
  std::string dir = ok_value(driver_->attach(dataset(1), "a", 1));
  std::ofstream(fs::path(dir) / "f") << "from a";

  auto start = std::chrono::steady_clock::now();
  Result<std::string> refused = other->attach(dataset(1), "b", 2);
  auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(fails_with(refused, ErrorCode::kConflict));
  EXPECT_TRUE(contains(refused.error().message, "multi-mount protection"))
      << refused.error().message;
  EXPECT_EQ(devices_for(1), 1u);  // The other host's device went with its failed mount.
  std::cout << "the other host's mount was refused after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms\n";
  {
    std::ofstream more(fs::path(dir) / "g");
    more << "still writable";
    more.close();
    EXPECT_TRUE(more.good());  // Not remounted read-only: A's kernel saw no other mount.
  }

  ASSERT_TRUE(is_ok(driver_->detach(dataset(1), "a")));
  start = std::chrono::steady_clock::now();
  std::string there = ok_value(other->attach(dataset(1), "b", 2));
  waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, std::chrono::seconds(5));  // A clean unmount lets it through at once.
  EXPECT_EQ(first_line(fs::path(there) / "f"), "from a");
  EXPECT_TRUE(is_ok(other->detach(dataset(1), "b")));
}

// Moving local datasets between node directories.
class LocalVolume : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_directory();
    ASSERT_FALSE(root_.empty());
    node_a_ = make_local_driver((root_ / "a").string());
    node_b_ = make_local_driver((root_ / "b").string());
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string dir(const char* node) { return (root_ / node).string(); }

  fs::path root_;
  std::unique_ptr<VolumeDriver> node_a_, node_b_;
};

fs::perms mode_of(const fs::path& path) { return fs::symlink_status(path).permissions(); }

TEST_F(LocalVolume, ADatasetIsInvisibleFromAnotherNodeDirectory) {
  ASSERT_TRUE(is_ok(node_a_->create(dataset(1), kSize)));
  EXPECT_TRUE(fails_with(node_b_->attach(dataset(1), "b", 1), ErrorCode::kNotFound));
  EXPECT_TRUE(ok_value(node_b_->list()).empty());
}

TEST_F(LocalVolume, CopyCarriesFilesModesAndTheEpochToAnotherNodeDirectory) {
  ASSERT_TRUE(is_ok(node_a_->create(dataset(1), kSize)));
  fs::path src = ok_value(node_a_->attach(dataset(1), "a", 3));
  std::ofstream(src / "top.txt") << "top";
  fs::create_directories(src / "bin");
  std::ofstream(src / "bin" / "run.sh") << "#!/bin/sh\n";
  fs::create_directory(src / "private");
  std::ofstream(src / "private" / "key") << "secret";
  fs::create_symlink("top.txt", src / "link");
  fs::permissions(src / "top.txt", fs::perms(0640));
  fs::permissions(src / "bin" / "run.sh", fs::perms(0755));
  fs::permissions(src / "private" / "key", fs::perms(0600));
  fs::permissions(src / "private", fs::perms(0700));
  ASSERT_TRUE(is_ok(node_a_->detach(dataset(1), "a")));

  ASSERT_TRUE(is_ok(copy_local_dataset(dir("a"), dir("b"), dataset(1))));
  VolumeInfo info = ok_value(node_b_->list()).at(0);
  EXPECT_EQ(info.size_bytes, kSize);
  EXPECT_EQ(info.epoch, 3u);
  EXPECT_FALSE(info.attached_to.has_value());
  EXPECT_TRUE(fails_with(node_b_->attach(dataset(1), "b", 2), ErrorCode::kConflict));

  fs::path dst = ok_value(node_b_->attach(dataset(1), "b", 4));
  std::ifstream in(dst / "private" / "key");
  std::string key;
  in >> key;
  EXPECT_EQ(key, "secret");
  EXPECT_EQ(mode_of(dst / "top.txt"), fs::perms(0640));
  EXPECT_EQ(mode_of(dst / "bin" / "run.sh"), fs::perms(0755));
  EXPECT_EQ(mode_of(dst / "private"), fs::perms(0700));
  EXPECT_EQ(mode_of(dst / "private" / "key"), fs::perms(0600));
  EXPECT_EQ(fs::read_symlink(dst / "link"), "top.txt");
  ASSERT_TRUE(is_ok(node_b_->detach(dataset(1), "b")));
}

TEST_F(LocalVolume, CopyOverwritesTheDestination) {
  ASSERT_TRUE(is_ok(node_a_->create(dataset(1), kSize)));
  ASSERT_TRUE(is_ok(node_b_->create(dataset(1), kSize)));
  fs::path stale = ok_value(node_b_->attach(dataset(1), "b", 1));
  std::ofstream(stale / "stale") << "old";
  ASSERT_TRUE(is_ok(node_b_->detach(dataset(1), "b")));
  fs::path src = ok_value(node_a_->attach(dataset(1), "a", 1));
  std::ofstream(src / "fresh") << "new";
  ASSERT_TRUE(is_ok(node_a_->detach(dataset(1), "a")));

  ASSERT_TRUE(is_ok(copy_local_dataset(dir("a"), dir("b"), dataset(1))));
  fs::path dst = ok_value(node_b_->attach(dataset(1), "b", 2));
  EXPECT_FALSE(fs::exists(dst / "stale"));
  EXPECT_TRUE(fs::exists(dst / "fresh"));
}

TEST_F(LocalVolume, CopyRefusesUnknownDatasetsBadIdsAndCopiesOntoItself) {
  EXPECT_TRUE(fails_with(copy_local_dataset(dir("a"), dir("b"), dataset(1)), ErrorCode::kNotFound));
  EXPECT_TRUE(
      fails_with(copy_local_dataset(dir("a"), dir("b"), "../../etc"), ErrorCode::kInvalidArgument));
  ASSERT_TRUE(is_ok(node_a_->create(dataset(1), kSize)));
  EXPECT_TRUE(
      fails_with(copy_local_dataset(dir("a"), dir("a"), dataset(1)), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth
