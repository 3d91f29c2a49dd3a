// Both ends of a local dataset's move over a real HTTP server on loopback: what the sender
// answers, what the receiver installs, and every way the stream can go wrong on the way (another
// node, a flipped byte, a missing or lying trailer, a cut, a hostile sender), plus a dataset
// far larger than the memory either side may use.
#include "agent/dataset_transfer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "agent/sha256.h"
#include "volume/two_local_nodes_test_support.h"
#include "volume/volume_driver.h"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

const std::string kId = "0d6f6a2e-4b8c-4e0a-9f31-7a2b5c8d9e01";
constexpr uint64_t kSize = 64 << 20;

http::Request archive_request(const std::string& id, const std::string& method = "GET") {
  http::Request r;
  r.method = method;
  r.path = "/berth/v1/datasets/" + id + "/archive";
  r.target = r.path;
  return r;
}

bool never_in_use(const std::string&) { return false; }

// A line of /proc/self/status ("VmRSS", "VmHWM") in bytes.
uint64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

// The local directories of two nodes, "node-a" holding a dataset and "node-b" receiving it
// from node a's agent, whose HTTP server answers with DatasetTransfer::serve (passed through
// `tamper` when a test sets it).
class DatasetTransferTest : public testing::TwoLocalNodes {
 protected:
  void SetUp() override {
    TwoLocalNodes::SetUp();
    sender_ = std::make_unique<DatasetTransfer>(dir("a"));
    auto server = http::serve({"127.0.0.1", 0}, [this](const http::Request& request) {
      http::Response response = sender_->serve(request, "node-a", never_in_use);
      if (tamper_) tamper_(response);
      return response;
    });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    TwoLocalNodes::TearDown();
  }

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

  DatasetChange change(const std::string& from_node = "node-a") const {
    DatasetChange c;
    c.kind = DatasetChange::Kind::kCopyAndAttach;
    c.dataset_id = kId;
    c.driver = "local";
    c.copy_from = "http://127.0.0.1:" + std::to_string(server_->port());
    c.copy_from_node = from_node;
    return c;
  }

  // A failed copy changes nothing on node b and leaves nothing behind.
  void expect_nothing_on_b() {
    EXPECT_FALSE(fs::exists(root_ / "b" / kId));
    EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
    EXPECT_TRUE(b_->list()->empty());
  }

  std::unique_ptr<DatasetTransfer> sender_;
  std::function<void(http::Response&)> tamper_;
  std::unique_ptr<http::Server> server_;
};

TEST(Sha256, MatchesTheStandardsVectors) {
  Sha256 empty;
  EXPECT_EQ(empty.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.update("a");
  abc.update("bc");
  EXPECT_EQ(abc.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(DatasetTransferTest, RecognisesOnlyArchivePaths) {
  EXPECT_TRUE(is_dataset_archive_path("/berth/v1/datasets/" + kId + "/archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/datasets//archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/datasets/a/b/archive"));
  EXPECT_FALSE(is_dataset_archive_path("/berth/v1/tasks/x/logs"));
}

TEST_F(DatasetTransferTest, ADetachedDatasetTravelsIntactToTheNewNode) {
  make_on_a(2);
  DatasetTransfer receiver(dir("b"));
  Status received = receiver.receive(change());
  ASSERT_TRUE(received.ok()) << received.error().message;
  Result<std::vector<VolumeInfo>> listed = b_->list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].epoch, 2u);
  EXPECT_EQ((*listed)[0].size_bytes, kSize);
  Result<std::string> path = b_->attach(kId, "node-b", 3);
  ASSERT_TRUE(path.ok()) << path.error().message;
  fs::path data(*path);
  EXPECT_EQ(read_all(data / "orders.log"), "order-1\norder-2\n");
  EXPECT_EQ(read_all(data / "db" / "wal" / "0001"), std::string(5000, 'w'));
  EXPECT_EQ(fs::file_size(data / "db" / "empty"), 0u);
  EXPECT_EQ(fs::read_symlink(data / "db" / "current"), "wal/0001");
  EXPECT_EQ(fs::status(data / "orders.log").permissions(), fs::perms(0640));
  EXPECT_FALSE(fs::exists(root_ / "b" / ".berth" / ("received-" + kId)));
  // The sender let go of the dataset's lock: it attaches there again.
  EXPECT_TRUE(a_->attach(kId, "node-a", 4).ok());
}

TEST_F(DatasetTransferTest, TheAnswerIsAChunkedTarWithItsDigestAndEntriesInTheTrailer) {
  make_on_a(2);
  std::string body;
  std::map<std::string, std::string> trailer;
  Result<http::ClientResponse> answer =
      http::download(change().copy_from, "/berth/v1/datasets/" + kId + "/archive", {},
                     [&](const http::ClientResponse&, http::BodyReader& reader) -> Status {
                       while (true) {
                         Result<std::string_view> piece = reader.read();
                         if (!piece) return piece.error();
                         if (piece->empty()) break;
                         body.append(*piece);
                       }
                       trailer = reader.trailer();
                       return {};
                     });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->headers["content-type"], "application/x-tar");
  EXPECT_EQ(answer->headers["transfer-encoding"], "chunked");
  EXPECT_EQ(answer->headers["x-berth-node-id"], "node-a");
  EXPECT_EQ(answer->headers["x-berth-dataset-epoch"], "2");
  EXPECT_EQ(answer->headers["x-berth-dataset-size"], std::to_string(kSize));
  EXPECT_EQ(answer->headers["trailer"], "X-Berth-Archive-Entries, X-Berth-Archive-Sha256");
  Sha256 digest;
  digest.update(body);
  EXPECT_EQ(trailer["x-berth-archive-sha256"], digest.hex());
  // root, orders.log, db, db/current, db/empty, db/wal, db/wal/0001
  EXPECT_EQ(trailer["x-berth-archive-entries"], "7");
  EXPECT_NE(body.find(std::string(5000, 'w')), std::string::npos);
}

TEST_F(DatasetTransferTest, ADatasetAttachedOrInUseIsRefusedWith409) {
  make_on_a(1);
  http::Response in_use = sender_->serve(archive_request(kId), "node-a",
                                         [](const std::string& id) { return id == kId; });
  EXPECT_EQ(in_use.status, 409);
  EXPECT_NE(in_use.body.find("in use"), std::string::npos) << in_use.body;
  ASSERT_TRUE(a_->attach(kId, "node-a", 2).ok());
  http::Response attached = sender_->serve(archive_request(kId), "node-a", never_in_use);
  EXPECT_EQ(attached.status, 409);
  EXPECT_NE(attached.body.find("attached"), std::string::npos) << attached.body;
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kConflict);
  EXPECT_NE(received.error().message.find("attached"), std::string::npos);
  expect_nothing_on_b();
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

  sender_ = std::make_unique<DatasetTransfer>(dir("a"), guarded);
  DatasetTransferOptions other;
  other.join_token = "another";
  Status refused = DatasetTransfer(dir("b"), other).receive(change());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("join token"), std::string::npos);
  expect_nothing_on_b();
  EXPECT_TRUE(DatasetTransfer(dir("b"), guarded).receive(change()).ok());
}

TEST_F(DatasetTransferTest, UnknownDatasetsBadIdsAndOtherMethodsAreRefused) {
  EXPECT_EQ(sender_->serve(archive_request(kId), "node-a", never_in_use).status, 404);
  EXPECT_EQ(sender_->serve(archive_request("..%2F..%2Fetc"), "node-a", never_in_use).status, 404);
  Status missing = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  make_on_a(1);
  EXPECT_EQ(sender_->serve(archive_request(kId, "DELETE"), "node-a", never_in_use).status, 405);
  EXPECT_TRUE(fs::exists(root_ / "a" / kId));
}

// --- damaged on the way ------------------------------------------------------------------

TEST_F(DatasetTransferTest, AnAnswerFromAnotherNodeIsRefusedBeforeItsBodyIsRead) {
  make_on_a(1);
  Status received = DatasetTransfer(dir("b")).receive(change("node-c"));
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(received.error().message.find("not node node-c"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

TEST_F(DatasetTransferTest, AByteFlippedOnTheWayFailsTheDigest) {
  make_on_a(1);
  tamper_ = [](http::Response& response) {
    auto inner = response.stream;
    response.stream = [inner](std::string* chunk) {
      bool more = inner(chunk);
      // Inside a file's contents, so that the tar itself stays well formed.
      size_t at = chunk->find(std::string(100, 'w'));
      if (at != std::string::npos) (*chunk)[at + 50] = 'v';
      return more;
    };
  };
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(received.error().message.find("is damaged: its SHA-256 is"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

TEST_F(DatasetTransferTest, AStreamWithoutItsTrailerCannotBeVerified) {
  make_on_a(1);
  tamper_ = [](http::Response& response) {
    response.finish = [] { return std::optional<http::Fields>(http::Fields{}); };
  };
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_NE(received.error().message.find("cannot be verified"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

TEST_F(DatasetTransferTest, ATrailerThatCountsOtherEntriesIsRefused) {
  make_on_a(1);
  tamper_ = [](http::Response& response) {
    auto inner = response.finish;
    response.finish = [inner] {
      std::optional<http::Fields> fields = inner();
      for (auto& [name, value] : *fields) {
        if (name == "X-Berth-Archive-Entries") value = std::to_string(std::stoi(value) + 1);
      }
      return fields;
    };
  };
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_NE(received.error().message.find("incomplete"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

TEST_F(DatasetTransferTest, AStreamCutShortIsRefused) {
  make_on_a(1);
  tamper_ = [](http::Response& response) {
    auto inner = response.stream;
    auto calls = std::make_shared<int>(0);
    response.stream = [inner, calls](std::string* chunk) {
      if ((*calls)++ > 0) return false;
      inner(chunk);
      chunk->resize(chunk->size() / 2);
      return true;
    };
    response.finish = [] { return std::optional<http::Fields>(); };
  };
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(received.error().message.find("before its end"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

TEST_F(DatasetTransferTest, AFileThatChangesWhileItIsSentBreaksTheCopyOff) {
  make_on_a(1);
  fs::path big = root_ / "a" / kId / "big";
  std::ofstream(big) << std::string(8 << 20, 'b');
  tamper_ = [big](http::Response& response) {
    auto inner = response.stream;
    response.stream = [inner, big](std::string* chunk) {
      bool more = inner(chunk);
      fs::resize_file(big, 10);  // shrinks under the sender after its first piece
      return more;
    };
  };
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(received.error().message.find("before its end"), std::string::npos)
      << received.error().message;
  expect_nothing_on_b();
}

// A sender with the right digest for a stream that tries to write outside: the extraction's
// checks hold before any digest is compared.
TEST_F(DatasetTransferTest, AHostileSenderCannotWriteOutsideTheStagingDirectory) {
  std::string tar(512, '\0');
  const std::string name = "../../escaped";
  std::memcpy(tar.data(), name.data(), name.size());
  std::memcpy(tar.data() + 100, "0000644", 7);
  std::memcpy(tar.data() + 108, "0000000", 7);
  std::memcpy(tar.data() + 116, "0000000", 7);
  std::memcpy(tar.data() + 124, "00000000001", 11);
  std::memcpy(tar.data() + 136, "00000000000", 11);
  std::memset(tar.data() + 148, ' ', 8);
  tar[156] = '0';
  std::memcpy(tar.data() + 257,
              "ustar\0"
              "00",
              8);
  unsigned sum = 0;
  for (unsigned char c : tar) sum += c;
  std::snprintf(tar.data() + 148, 8, "%06o", sum);
  tar += "x" + std::string(511, '\0') + std::string(1024, '\0');
  server_.reset();
  auto server = http::serve({"127.0.0.1", 0}, [tar](const http::Request&) {
    http::Response response;
    response.content_type = "application/x-tar";
    response.headers = {{"X-Berth-Node-Id", "node-a"},
                        {"X-Berth-Dataset-Epoch", "1"},
                        {"X-Berth-Dataset-Size", "1"}};
    auto sent = std::make_shared<bool>(false);
    response.stream = [tar, sent](std::string* chunk) {
      if (*sent) return false;
      *chunk = tar;
      return *sent = true;
    };
    response.finish = [tar] {
      Sha256 digest;
      digest.update(tar);
      return std::optional<http::Fields>(
          http::Fields{{"X-Berth-Archive-Entries", "1"}, {"X-Berth-Archive-Sha256", digest.hex()}});
    };
    return response;
  });
  ASSERT_TRUE(server.ok());
  server_ = std::move(*server);
  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_FALSE(received.ok());
  EXPECT_EQ(received.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(received.error().message.find("plain relative path"), std::string::npos)
      << received.error().message;
  EXPECT_FALSE(fs::exists(root_ / "escaped"));
  EXPECT_FALSE(fs::exists(root_ / "b" / "escaped"));
  expect_nothing_on_b();
}

// --- size ---------------------------------------------------------------------------------

// 2 GiB through both ends in this one process: the peak of its resident memory grows by a
// small fraction of that. The file is sparse on node a (reading a hole costs no disk) but
// written in full on node b.
TEST_F(DatasetTransferTest, ALargeDatasetTravelsWithFlatMemory) {
  constexpr uint64_t kLarge = uint64_t{2} << 30;
  constexpr uint64_t kBound = uint64_t{64} << 20;
  make_on_a(1);
  fs::path big = root_ / "a" / kId / "big";
  {
    std::ofstream out(big, std::ios::binary);
    for (uint64_t at : {uint64_t{0}, kLarge / 3, kLarge - 8}) {
      out.seekp(static_cast<std::streamoff>(at));
      out << "berth!!!";
    }
  }
  ASSERT_EQ(fs::file_size(big), kLarge);
  uint64_t rss_before = status_bytes("VmRSS");
  // Resets VmHWM to the current RSS (Linux 4.0 and later).
  bool reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
  uint64_t baseline = reset ? rss_before : std::max(rss_before, status_bytes("VmHWM"));

  Status received = DatasetTransfer(dir("b")).receive(change());
  ASSERT_TRUE(received.ok()) << received.error().message;
  uint64_t peak = status_bytes("VmHWM");
  uint64_t growth = peak > baseline ? peak - baseline : 0;
  std::cout << "peak RSS grew by " << (growth >> 20) << " MiB moving " << (kLarge >> 20)
            << " MiB (VmHWM " << (reset ? "reset" : "not reset") << ")\n";
  // AddressSanitizer keeps freed blocks resident (its quarantine, 256 MiB), which is not ours.
  if (!kSanitized) {
    EXPECT_LT(growth, kBound);
  }

  fs::path copy = root_ / "b" / kId / "big";
  ASSERT_EQ(fs::file_size(copy), kLarge);
  std::ifstream in(copy, std::ios::binary);
  for (uint64_t at : {uint64_t{0}, kLarge / 3, kLarge - 8}) {
    std::string word(8, '\0');
    in.seekg(static_cast<std::streamoff>(at));
    in.read(word.data(), 8);
    EXPECT_EQ(word, "berth!!!") << "at " << at;
  }
}

}  // namespace
}  // namespace berth::agent
