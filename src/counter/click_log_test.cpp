#include "counter/click_log.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "counter/test_dir.h"

namespace berth::counter {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::string log_path(const TestDir& dir) { return dir.path() + "/" + ClickLog::kFileName; }

TEST(DecodeClickLog, ReadsWholeLinesInOrder) {
  std::string text = encode_click_line({1, 10, 20, 1000}) + encode_click_line({2, 30, 40, 2000});
  auto decoded = decode_click_log(text);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->clicks, (std::vector<Click>{{1, 10, 20, 1000}, {2, 30, 40, 2000}}));
  EXPECT_EQ(decoded->valid_bytes, text.size());
  EXPECT_EQ(decoded->torn_bytes, 0u);
}

TEST(DecodeClickLog, EmptyFileHasNoClicks) {
  auto decoded = decode_click_log("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->clicks.empty());
}

TEST(DecodeClickLog, FinalLineWithoutNewlineIsTornEvenIfItParses) {
  std::string good = encode_click_line({1, 1, 1, 1});
  std::string last = encode_click_line({2, 2, 2, 2});
  last.pop_back();
  auto decoded = decode_click_log(good + last);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->clicks.size(), 1u);
  EXPECT_EQ(decoded->valid_bytes, good.size());
  EXPECT_EQ(decoded->torn_bytes, last.size());
}

TEST(DecodeClickLog, FinalNewlineTerminatedGarbageIsTorn) {
  // A crash can persist the sector holding '\n' but not the one before it.
  std::string good = encode_click_line({1, 1, 1, 1});
  std::string garbage = std::string(12, '\0') + "\"x\":5,\"y\":6}\n";
  auto decoded = decode_click_log(good + garbage);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->clicks.size(), 1u);
  EXPECT_EQ(decoded->torn_bytes, garbage.size());
}

TEST(DecodeClickLog, BadLineBeforeTheEndIsDamageNotATornWrite) {
  std::string text =
      encode_click_line({1, 1, 1, 1}) + "{\"id\":2,\"x\":1}\n" + encode_click_line({3, 3, 3, 3});
  auto decoded = decode_click_log(text);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(decoded.error().message.find("line 2"), std::string::npos) << decoded.error().message;
}

TEST(DecodeClickLog, IdsThatDoNotIncreaseAreDamage) {
  auto decoded =
      decode_click_log(encode_click_line({2, 1, 1, 1}) + encode_click_line({2, 1, 1, 1}));
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().message.find("ids must increase"), std::string::npos);
}

TEST(ClickLog, AppendedClicksAreThereAfterReopening) {
  TestDir dir;
  {
    auto log = ClickLog::open(dir.path());
    ASSERT_TRUE(log.ok()) << log.error().message;
    EXPECT_EQ((*log)->size(), 0u);
    auto first = (*log)->append(10, 20, 1000);
    auto second = (*log)->append(30, 40, 2000);
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(*first, (Click{1, 10, 20, 1000}));
    EXPECT_EQ(*second, (Click{2, 30, 40, 2000}));
  }
  EXPECT_EQ(read_file(log_path(dir)),
            "{\"id\":1,\"ts\":1000,\"x\":10,\"y\":20}\n{\"id\":2,\"ts\":2000,\"x\":30,\"y\":40}\n");
  auto log = ClickLog::open(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ((*log)->clicks(), (std::vector<Click>{{1, 10, 20, 1000}, {2, 30, 40, 2000}}));
  auto third = (*log)->append(5, 6, 3000);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->id, 3);
}

TEST(ClickLog, CreatesAMissingDataDirectory) {
  TestDir dir;
  std::string nested = dir.path() + "/volume/data/";
  auto log = ClickLog::open(nested);
  ASSERT_TRUE(log.ok()) << log.error().message;
  ASSERT_TRUE((*log)->append(1, 2, 3).ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.path() + "/volume/data/clicks.jsonl"));
}

TEST(ClickLog, DataDirectoryThatIsAFileIsRefused) {
  TestDir dir;
  write_file(dir.path() + "/file", "x");
  auto log = ClickLog::open(dir.path() + "/file");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kInvalidArgument);
}

TEST(ClickLog, TornFinalLineIsIgnoredAndTruncatedAway) {
  TestDir dir;
  std::string good = encode_click_line({1, 10, 20, 1000}) + encode_click_line({2, 30, 40, 2000});
  std::string torn = encode_click_line({3, 50, 60, 3000}).substr(0, 15);
  write_file(log_path(dir), good + torn);
  {
    auto log = ClickLog::open(dir.path());
    ASSERT_TRUE(log.ok()) << log.error().message;
    EXPECT_EQ((*log)->size(), 2u);
    EXPECT_EQ((*log)->torn_bytes_dropped(), torn.size());
    EXPECT_EQ(read_file(log_path(dir)), good);  // repaired on disk, not just skipped
    auto next = (*log)->append(7, 8, 4000);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->id, 3);
  }
  EXPECT_EQ(read_file(log_path(dir)), good + encode_click_line({3, 7, 8, 4000}));
  auto reopened = ClickLog::open(dir.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 3u);
  EXPECT_EQ((*reopened)->torn_bytes_dropped(), 0u);
}

TEST(ClickLog, DamagedFileIsRefusedAndLeftUntouched) {
  TestDir dir;
  std::string text =
      encode_click_line({1, 1, 1, 1}) + "not json\n" + encode_click_line({3, 3, 3, 3});
  write_file(log_path(dir), text);
  auto log = ClickLog::open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(log.error().message.find(log_path(dir)), std::string::npos) << log.error().message;
  EXPECT_EQ(read_file(log_path(dir)), text);
}

TEST(ClickLog, FileLargerThanTheBoundIsRefused) {
  TestDir dir;
  write_file(log_path(dir), encode_click_line({1, 1, 1, 1}) + encode_click_line({2, 2, 2, 2}));
  ClickLogOptions options;
  options.max_file_bytes = 40;
  auto log = ClickLog::open(dir.path(), options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, ErrorCode::kInvalidArgument);
}

TEST(ClickLog, SecondOpenOfTheSameDirectoryIsRefusedWhileTheFirstIsOpen) {
  TestDir dir;
  auto first = ClickLog::open(dir.path());
  ASSERT_TRUE(first.ok());
  auto second = ClickLog::open(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  first->reset();
  EXPECT_TRUE(ClickLog::open(dir.path()).ok());
}

TEST(ClickLog, FullLogRefusesAppendsAndKeepsWhatItHas) {
  TestDir dir;
  ClickLogOptions options;
  options.max_clicks = 2;
  auto log = ClickLog::open(dir.path(), options);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->append(1, 1, 1).ok());
  ASSERT_TRUE((*log)->append(2, 2, 2).ok());
  auto third = (*log)->append(3, 3, 3);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kNotAllowed);
  EXPECT_EQ((*log)->size(), 2u);
}

TEST(ClickLog, FailedWriteIsTruncatedAwaySoLaterAppendsStayReadable) {
  TestDir dir;
  auto log = ClickLog::open(dir.path());
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->append(1, 1, 1).ok());
  size_t size_before = read_file(log_path(dir)).size();

  // A file-size limit a few bytes past the end makes the next write land only partly.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit tight = saved;
  tight.rlim_cur = size_before + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  auto failed = (*log)->append(2, 2, 2);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);

  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(failed.error().message.find("File too large"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(read_file(log_path(dir)).size(), size_before);
  EXPECT_EQ((*log)->size(), 1u);

  auto retried = (*log)->append(3, 3, 3);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->id, 2);
  log->reset();
  auto reopened = ClickLog::open(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ((*reopened)->clicks(), (std::vector<Click>{{1, 1, 1, 1}, {2, 3, 3, 3}}));
}

TEST(ClickLog, ConcurrentAppendsLoseNothing) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  TestDir dir;
  {
    auto log = ClickLog::open(dir.path());
    ASSERT_TRUE(log.ok());
    std::vector<std::thread> threads;
    std::vector<std::vector<int64_t>> ids(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto click = (*log)->append(t, i, 0);
          ids[t].push_back(click.ok() ? click->id : -1);
          (*log)->clicks();  // readers run alongside writers
        }
      });
    }
    for (auto& thread : threads) thread.join();
    std::set<int64_t> all;
    for (const auto& per_thread : ids) all.insert(per_thread.begin(), per_thread.end());
    EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
    EXPECT_EQ(*all.begin(), 1);
    EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  }
  auto reopened = ClickLog::open(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto clicks = (*reopened)->clicks();
  ASSERT_EQ(clicks.size(), size_t{kThreads * kPerThread});
  std::set<std::pair<int64_t, int64_t>> seen;
  for (size_t i = 0; i < clicks.size(); ++i) {
    EXPECT_EQ(clicks[i].id, static_cast<int64_t>(i + 1));
    seen.insert({clicks[i].x, clicks[i].y});
  }
  EXPECT_EQ(seen.size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace berth::counter
