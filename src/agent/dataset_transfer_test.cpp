#include "agent/dataset_transfer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "volume/two_local_nodes_test_support.h"
#include "volume/volume_driver.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

const std::string kId = "0d6f6a2e-4b8c-4e0a-9f31-7a2b5c8d9e01";
constexpr uint64_t kSize = 64 << 20;

http::Request archive_request(const std::string& id, const std::string& method = "GET") {
  http::Request r;
  r.method = method;
  r.path = "/berth/v1/datasets/" + id + "/archive";
  r.target = r.path;
  return r;
}

// What the downloading agent's HTTP client would make of `response`.
http::ClientResponse as_received(const http::Response& response) {
  http::ClientResponse out;
  out.status = response.status;
  for (const auto& [name, value] : response.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = value;
  }
  out.body = response.body;
  return out;
}

bool never_in_use(const std::string&) { return false; }

// The local directories of two nodes, "node-a" holding a dataset and "node-b" receiving it.
class DatasetTransferTest : public testing::TwoLocalNodes {
 protected:
  void make_on_a(uint64_t epoch) {
    ASSERT_TRUE(a_->create(kId, kSize).ok());
    Result<std::string> path = a_->attach(kId, "node-a", epoch);
    ASSERT_TRUE(path.ok()) << path.error().message;
    fs::path data(*path);
    std::ofstream(data / "orders.log") << "order-1\norder-2\n";
    fs::create_directories(data / "db" / "wal");
    std::ofstream(data / "db" / "wal" / "0001") << std::string(5000, 'w');
    std::ofstream(data / "db" / "empty");
    fs::create_symlink("wal/0001", data / "db" / "current");
    fs::permissions(data / "orders.log", fs::perms(0640));
    ASSERT_TRUE(a_->detach(kId, "node-a").ok());
  }
};

TEST_F(DatasetTransferTest, RecognisesOnlyArchivePaths) {
  EXPECT_TRUE(is_dataset_archive_path("/berth/v1/datasets/" + kId + "/archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/datasets//archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/datasets/a/b/archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/tasks/x/logs"));
}

TEST_F(DatasetTransferTest, ADetachedDatasetTravelsIntactToTheNewNode) {
  make_on_a(2);
  DatasetTransfer sender(dir("a"));
  http::Response answer = sender.serve(archive_request(kId), "node-a", never_in_use);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.content_type, "application/x-tar");

  Result<LocalDatasetArchive> archive =
      archive_from_answer(as_received(answer), kId, "node-a", kMaxDatasetArchiveBytes);
  ASSERT_TRUE(archive.ok()) << archive.error().message;
  EXPECT_EQ(archive->epoch, 2u);
  EXPECT_EQ(archive->size_bytes, kSize);
  ASSERT_TRUE(install_local_dataset(dir("b"), kId, *archive).ok());
  Result<std::string> path = b_->attach(kId, "node-b", 3);
  ASSERT_TRUE(path.ok()) << path.error().message;
  fs::path data(*path);
  EXPECT_EQ(read_all(data / "orders.log"), "order-1\norder-2\n");
  EXPECT_EQ(read_all(data / "db" / "wal" / "0001"), std::string(5000, 'w'));
  EXPECT_EQ(fs::file_size(data / "db" / "empty"), 0u);
  EXPECT_EQ(fs::read_symlink(data / "db" / "current"), "wal/0001");
  EXPECT_EQ(fs::status(data / "orders.log").permissions(), fs::perms(0640));
}

TEST_F(DatasetTransferTest, ADatasetAttachedOrInUseIsRefusedWith409) {
  make_on_a(1);
  DatasetTransfer sender(dir("a"));
  http::Response in_use =
      sender.serve(archive_request(kId), "node-a", [](const std::string& id) { return id == kId; });
  EXPECT_EQ(in_use.status, 409);
  EXPECT_NE(in_use.body.find("in use"), std::string::npos) << in_use.body;
  ASSERT_TRUE(a_->attach(kId, "node-a", 2).ok());
  http::Response attached = sender.serve(archive_request(kId), "node-a", never_in_use);
  EXPECT_EQ(attached.status, 409);
  EXPECT_NE(attached.body.find("attached"), std::string::npos) << attached.body;
  Result<LocalDatasetArchive> received =
      archive_from_answer(as_received(attached), kId, "node-a", kMaxDatasetArchiveBytes);
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kConflict);
}

TEST_F(DatasetTransferTest, OnlyHoldersOfTheJoinTokenGetTheData) {
  make_on_a(1);
  DatasetTransferOptions guarded;
  guarded.join_token = "s3cret";
  DatasetTransfer sender(dir("a"), guarded);
  http::Request anonymous = archive_request(kId);
  EXPECT_EQ(sender.serve(anonymous, "node-a", never_in_use).status, 401);
  http::Request wrong = archive_request(kId);
  wrong.headers["authorization"] = "Bearer s3cre";
  EXPECT_EQ(sender.serve(wrong, "node-a", never_in_use).status, 401);
  http::Request agent = archive_request(kId);
  agent.headers["authorization"] = "Bearer s3cret";
  EXPECT_EQ(sender.serve(agent, "node-a", never_in_use).status, 200);
}

TEST_F(DatasetTransferTest, UnknownDatasetsBadIdsAndOtherMethodsAreRefused) {
  DatasetTransfer sender(dir("a"));
  EXPECT_EQ(sender.serve(archive_request(kId), "node-a", never_in_use).status, 404);
  EXPECT_EQ(sender.serve(archive_request("..%2F..%2Fetc"), "node-a", never_in_use).status, 404);
  make_on_a(1);
  EXPECT_EQ(sender.serve(archive_request(kId, "DELETE"), "node-a", never_in_use).status, 405);
  EXPECT_TRUE(fs::exists(root_ / "a" / kId));
}

TEST_F(DatasetTransferTest, AnArchiveOverTheLimitIsRefusedWith413SayingSo) {
  make_on_a(1);
  DatasetTransferOptions small;
  small.max_archive_bytes = 4096;
  DatasetTransfer sender(dir("a"), small);
  http::Response answer = sender.serve(archive_request(kId), "node-a", never_in_use);
  EXPECT_EQ(answer.status, 413);
  Result<LocalDatasetArchive> received =
      archive_from_answer(as_received(answer), kId, "node-a", 4096);
  ASSERT_FALSE(received.ok());
  EXPECT_NE(received.error().message.find("limit"), std::string::npos) << received.error().message;
}

TEST_F(DatasetTransferTest, TheNewNodeRefusesAnArchiveFromAnotherNodeOrDamagedOnTheWay) {
  make_on_a(1);
  DatasetTransfer sender(dir("a"));
  http::ClientResponse good =
      as_received(sender.serve(archive_request(kId), "node-a", never_in_use));
  ASSERT_EQ(good.status, 200);

  Result<LocalDatasetArchive> wrong_node =
      archive_from_answer(good, kId, "node-c", kMaxDatasetArchiveBytes);
  ASSERT_FALSE(wrong_node.ok());
  EXPECT_NE(wrong_node.error().message.find("not node node-c"), std::string::npos)
      << wrong_node.error().message;

  http::ClientResponse damaged = good;
  damaged.body[damaged.body.size() / 2] ^= 1;
  Result<LocalDatasetArchive> bad_sum =
      archive_from_answer(damaged, kId, "node-a", kMaxDatasetArchiveBytes);
  ASSERT_FALSE(bad_sum.ok());
  EXPECT_NE(bad_sum.error().message.find("damaged"), std::string::npos);

  http::ClientResponse unlabelled = good;
  unlabelled.headers.erase("x-berth-archive-entries");
  EXPECT_FALSE(archive_from_answer(unlabelled, kId, "node-a", kMaxDatasetArchiveBytes).ok());
}

}  // namespace
}  // namespace berth::agent
