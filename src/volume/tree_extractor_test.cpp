// Streams that try to write outside the target, made by hand (ustar headers) or with
// libarchive's writer (pax records), arriving whole or in small pieces: extract_tree refuses
// each one before anything lands outside, saying what was wrong.
#include "volume/tree_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace berth {
namespace {

namespace fs = std::filesystem;

// One ustar header, by hand.
void header(std::string* out, const std::string& name, char type, size_t size = 0,
            const std::string& link = "", unsigned mode = 0644) {
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  std::snprintf(h + 100, 8, "%07o", mode);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011zo", size);
  std::snprintf(h + 136, 12, "%011o", 0);
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  out->append(h, 512);
}

void file(std::string* out, const std::string& name, const std::string& contents) {
  header(out, name, '0', contents.size());
  out->append(contents);
  out->append((512 - contents.size() % 512) % 512, '\0');
}

std::string end(std::string tar) { return tar + std::string(1024, '\0'); }

la_ssize_t append_to(struct archive*, void* client, const void* bytes, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(bytes), n);
  return static_cast<la_ssize_t>(n);
}

// A pax stream of regular files written by libarchive, names as given.
std::string pax_stream(const std::vector<std::pair<std::string, std::string>>& files) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_open(a, &out, nullptr, append_to, nullptr);
  struct archive_entry* e = archive_entry_new();
  for (const auto& [name, contents] : files) {
    archive_entry_clear(e);
    archive_entry_copy_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(contents.size()));
    archive_write_header(a, e);
    archive_write_data(a, contents.data(), contents.size());
  }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A source that hands out `good` and then breaks.
class BreakingSource final : public ArchiveSource {
 public:
  explicit BreakingSource(std::string good) : good_(std::move(good)) {}
  Result<std::string_view> read() override {
    if (!given_) {
      given_ = true;
      return std::string_view(good_);
    }
    return make_error(ErrorCode::kUnavailable, "the connection broke");
  }

 private:
  std::string good_;
  bool given_ = false;
};

class HostileArchive : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-hostile-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Whole and in small pieces, the stream is refused for a reason that `mentions`.
  void expect_refused(const std::string& tar, const std::string& mentions) {
    for (size_t piece : {tar.size(), size_t{100}}) {
      BytesArchiveSource source(tar, piece);
      Result<ArchiveStats> read = extract_tree(source, root_ / "dst");
      ASSERT_FALSE(read.ok()) << "pieces of " << piece;
      EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument) << read.error().message;
      EXPECT_NE(read.error().message.find(mentions), std::string::npos) << read.error().message;
      EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "escaped")));
      fs::remove_all(root_ / "dst");
    }
  }

  std::string escaped() const { return (root_ / "escaped").string(); }

  fs::path root_;
};

TEST_F(HostileArchive, NamesThatLeaveTheTreeAreRefused) {
  std::string tar;
  file(&tar, "../escaped", "x");
  expect_refused(end(tar), "plain relative path");
  tar.clear();
  file(&tar, escaped(), "x");
  expect_refused(end(tar), "absolute");
  tar.clear();
  header(&tar, "a/", '5');
  file(&tar, "a/../../escaped", "x");
  expect_refused(end(tar), "plain relative path");
  // Through a pax record, which holds names of any length.
  expect_refused(pax_stream({{std::string(120, 'a') + "/../../escaped", "x"}}),
                 "plain relative path");
  expect_refused(pax_stream({{escaped(), "x"}}), "absolute");
}

TEST_F(HostileArchive, NothingIsWrittenThroughASymlinkOfTheArchive) {
  std::string tar;
  header(&tar, "out", '2', 0, root_.string());
  file(&tar, "out/escaped", "x");
  expect_refused(end(tar), "comes before its directory");
  tar.clear();
  header(&tar, "escaped-link", '2', 0, escaped());
  file(&tar, "escaped-link", "x");
  expect_refused(end(tar), "appears twice");
  tar.clear();
  header(&tar, "out", '2', 0, root_.string());
  header(&tar, "out/", '5');
  expect_refused(end(tar), "appears twice");
}

TEST_F(HostileArchive, HardLinksOnlyToEarlierFilesOfTheArchive) {
  std::string tar;
  header(&tar, "passwd", '1', 0, "/etc/passwd");
  expect_refused(end(tar), "absolute");
  tar.clear();
  header(&tar, "later", '1', 0, "not-yet");
  file(&tar, "not-yet", "x");
  expect_refused(end(tar), "not an earlier file");
  tar.clear();
  header(&tar, "to-passwd", '2', 0, "/etc/passwd");
  header(&tar, "through-link", '1', 0, "to-passwd");
  expect_refused(end(tar), "not an earlier file");
  tar.clear();
  header(&tar, "d/", '5');
  header(&tar, "to-dir", '1', 0, "d");
  expect_refused(end(tar), "not an earlier file");
  tar.clear();
  header(&tar, "up", '1', 0, "../escaped");
  expect_refused(end(tar), "plain relative path");
}

TEST_F(HostileArchive, AHardLinkToAnEarlierFileIsKept) {
  std::string tar;
  header(&tar, "d/", '5', 0, "", 0755);
  file(&tar, "d/first", "shared");
  header(&tar, "second", '1', 0, "d/first");
  const std::string stream = end(tar);
  BytesArchiveSource source(stream);
  Result<ArchiveStats> read = extract_tree(source, root_ / "dst");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->entries, 3u);
  EXPECT_TRUE(fs::equivalent(root_ / "dst" / "d" / "first", root_ / "dst" / "second"));
}

TEST_F(HostileArchive, AnEntryThatAppearsTwiceIsRefused) {
  std::string tar;
  file(&tar, "f", "first");
  file(&tar, "f", "second");
  expect_refused(end(tar), "appears twice");
  tar.clear();
  header(&tar, "d/", '5', 0, "", 0755);
  header(&tar, "d/", '5', 0, "", 0555);
  expect_refused(end(tar), "appears twice");
  tar.clear();
  header(&tar, "./", '5');
  header(&tar, ".", '5');
  expect_refused(end(tar), "appears twice");
}

TEST_F(HostileArchive, AnEntryBeforeItsDirectoryIsRefused) {
  std::string tar;
  file(&tar, "nodir/f", "x");
  expect_refused(end(tar), "comes before its directory");
  tar.clear();
  file(&tar, "plain", "x");
  file(&tar, "plain/f", "x");
  expect_refused(end(tar), "comes before its directory");
}

TEST_F(HostileArchive, TheRootMustBeADirectory) {
  std::string tar;
  file(&tar, ".", "x");
  expect_refused(end(tar), "root entry");
}

TEST_F(HostileArchive, DataAfterTheEndMarkerIsRefused) {
  std::string tar;
  file(&tar, "a", "x");
  expect_refused(end(tar) + std::string(512, 'x'), "follows the end");
  expect_refused(end(tar) + std::string(70000, '\0') + "x", "follows the end");
  // Zeros after the marker are a tar's usual padding.
  const std::string padded_stream = end(tar) + std::string(9216, '\0');
  BytesArchiveSource padded(padded_stream, 1000);
  EXPECT_TRUE(extract_tree(padded, root_ / "padded").ok());
}

TEST_F(HostileArchive, AnEmptyOrForeignStreamIsRefused) {
  expect_refused("", "empty");
  expect_refused(std::string(2048, 'z'), "malformed archive");
}

TEST_F(HostileArchive, DevicesAreSkipped) {
  std::string tar;
  header(&tar, "null", '3');
  header(&tar, "disk", '4');
  file(&tar, "kept", "x");
  const std::string stream = end(tar);
  BytesArchiveSource source(stream);
  Result<ArchiveStats> read = extract_tree(source, root_ / "dst");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "dst" / "null")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "dst" / "disk")));
  EXPECT_TRUE(fs::exists(root_ / "dst" / "kept"));
}

TEST_F(HostileArchive, TheSourcesErrorEndsTheExtractionAndLeavesItRemovable) {
  std::string tar;
  header(&tar, "ro/", '5', 0, "", 0555);
  file(&tar, "ro/f", std::string(5000, 'x'));
  BreakingSource source(tar.substr(0, 2048));
  Result<ArchiveStats> read = extract_tree(source, root_ / "dst");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(read.error().message, "the connection broke");
  std::error_code ec;
  fs::remove_all(root_ / "dst", ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_FALSE(fs::exists(root_ / "dst"));
}

}  // namespace
}  // namespace berth
