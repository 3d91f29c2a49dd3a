#include "volume/epoch_record.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace berth {
namespace {

namespace fs = std::filesystem;

const std::string kId = "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10";

class VolumeEpochRecord : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-record-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    pool_ = pattern;
  }
  void TearDown() override { fs::remove_all(pool_); }

  fs::path pool_;
};

TEST_F(VolumeEpochRecord, RoundTripsThroughJson) {
  EpochRecord record{1 << 20, "node-a", 42};
  Result<EpochRecord> back = decode_record(kId, encode_record(kId, record), "test");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, record);
  EpochRecord free_record{5, std::nullopt, 0};
  EXPECT_EQ(*decode_record(kId, encode_record(kId, free_record), "test"), free_record);
}

TEST_F(VolumeEpochRecord, ACorruptOrForeignRecordIsAnErrorNamingTheFile) {
  for (const char* text :
       {"", "{", "[]", R"({"dataset_id":"x","size_bytes":1,"epoch":1,"attached_to":null})",
        R"({"size_bytes":1,"epoch":1,"attached_to":null})"}) {
    Result<EpochRecord> r = decode_record(kId, text, "/pool/.berth/x.json");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().message.find("/pool/.berth/x.json"), std::string::npos);
  }
}

TEST_F(VolumeEpochRecord, WriteReplacesAndListShowsEveryRecord) {
  RecordDir records(pool_ / ".berth", false);
  ASSERT_TRUE(records.write(kId, {100, std::nullopt, 1}).ok());
  ASSERT_TRUE(records.write(kId, {100, "b", 2}).ok());
  Result<std::optional<EpochRecord>> read = records.read(kId);
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ(**read, (EpochRecord{100, "b", 2}));
  EXPECT_FALSE(fs::exists(pool_ / ".berth" / (kId + ".json.tmp")));
  Result<std::vector<VolumeInfo>> list = records.list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].attached_to, "b");
}

TEST_F(VolumeEpochRecord, AMissingPoolIsUnavailableNotSilentlyCreated) {
  RecordDir records(pool_ / "not-mounted" / ".berth", false);
  Result<RecordDir::Lock> lock = records.lock(kId);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(fs::exists(pool_ / "not-mounted"));
}

TEST_F(VolumeEpochRecord, ALockHeldTooLongIsABoundedWaitEndingUnavailable) {
  RecordDir records(pool_ / ".berth", false, std::chrono::milliseconds(50));
  Result<RecordDir::Lock> held = records.lock(kId);
  ASSERT_TRUE(held.ok());
  Result<RecordDir::Lock> second = records.lock(kId);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace berth
