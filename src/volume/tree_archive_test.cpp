// A tree through TreeArchiver and extract_tree: everything a dataset may hold comes out as it
// went in, whatever the pieces the stream arrives in; the stream is a tar any tar reads; a file
// that changes while it is read fails the archive. Hostile streams: tree_extractor_test.cpp.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "volume/tree_archiver.h"
#include "volume/tree_extractor.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

void set_mode(const fs::path& path, mode_t mode) { ASSERT_EQ(::chmod(path.c_str(), mode), 0); }

void set_mtime(const fs::path& path, time_t seconds, long nanoseconds = 0) {
  struct timespec times[2] = {{seconds, nanoseconds}, {seconds, nanoseconds}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

// The whole stream of `dir`, gathered piece by piece as the agent sends it.
Result<std::string> archive_all(const fs::path& dir, ArchiveStats* stats = nullptr) {
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(dir);
  if (!archiver) return archiver.error();
  std::string tar;
  while (true) {
    Result<bool> more = (*archiver)->next(&tar);
    if (!more) return more.error();
    if (!*more) break;
  }
  if (stats) *stats = (*archiver)->stats();
  return tar;
}

Result<ArchiveStats> extract(std::string_view tar, const fs::path& to,
                             size_t piece_bytes = size_t{1} << 16) {
  BytesArchiveSource source(tar, piece_bytes);
  return extract_tree(source, to);
}

// What a task could tell apart about every entry of a tree, by relative path.
std::map<std::string, std::string> describe(const fs::path& root) {
  std::map<std::string, std::string> out;
  auto one = [&](const fs::path& path, const std::string& name) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      out[name] = "unreadable";
      return;
    }
    std::ostringstream d;
    d << std::oct << (st.st_mode & 07777) << std::dec << " mtime " << st.st_mtim.tv_sec << "."
      << st.st_mtim.tv_nsec << " owner " << st.st_uid << ":" << st.st_gid << " ";
    if (S_ISDIR(st.st_mode)) {
      d << "dir";
    } else if (S_ISREG(st.st_mode)) {
      d << "file nlink " << st.st_nlink << " [" << read_all(path) << "]";
    } else if (S_ISLNK(st.st_mode)) {
      out[name] = "symlink -> " + fs::read_symlink(path).string();  // a link's mode is 0777
      return;
    } else if (S_ISFIFO(st.st_mode)) {
      d << "fifo";
    }
    out[name] = d.str();
  };
  one(root, ".");
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    one(it->path(), fs::relative(it->path(), root).string());
  }
  return out;
}

class TreeArchive : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-archive-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    src_ = root_ / "src";
    fs::create_directory(src_);
  }
  void TearDown() override {
    // Read-only directories made by a test must be writable again to be removed.
    for (auto it = fs::recursive_directory_iterator(root_);
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory() && !it->is_symlink()) ::chmod(it->path().c_str(), 0755);
    }
    fs::remove_all(root_);
  }

  // A tree with everything a dataset may hold.
  void fill_source() {
    fs::create_directories(src_ / "a" / "b" / "c");
    write_file(src_ / "a" / "b" / "c" / "deep.txt", "deep down\n");
    write_file(src_ / "empty", "");
    write_file(src_ / "binary", std::string("\0\x01\xff zero\0bytes", 14));
    write_file(src_ / "run.sh", "#!/bin/sh\necho hi\n");
    set_mode(src_ / "run.sh", 0755);
    write_file(src_ / "secret", "key");
    set_mode(src_ / "secret", 0600);
    write_file(src_ / "shared-group", "g");
    set_mode(src_ / "shared-group", 0640);
    fs::create_symlink("a/b/c/deep.txt", src_ / "link-to-deep");
    fs::create_symlink("/nonexistent/elsewhere", src_ / "dangling");
    fs::create_directory(src_ / "private");
    write_file(src_ / "private" / "inside", "in");
    set_mode(src_ / "private", 0700);
    fs::create_directory(src_ / "readonly");
    write_file(src_ / "readonly" / "kept", "kept");
    set_mode(src_ / "readonly", 0555);
    std::string long_name(150, 'n');
    fs::create_directory(src_ / long_name);
    write_file(src_ / long_name / (std::string(120, 'f') + ".txt"), "long names travel too");
    fs::create_symlink(std::string(130, 't'), src_ / "long-target");
    fs::create_hard_link(src_ / "secret", src_ / "secret-again");
    ASSERT_EQ(::mkfifo((src_ / "pipe").c_str(), 0620), 0);
    // Names are bytes: UTF-8 and otherwise.
    write_file(src_ / "caf\xc3\xa9", "accent");
    write_file(src_ / "raw-\xff\xfe", "not utf-8");
    write_file(src_ / "larger", std::string(3 * TreeArchiver::kPieceBytes + 12345, 'L'));
    set_mtime(src_ / "a" / "b" / "c" / "deep.txt", 1500000000, 123456789);
    set_mtime(src_ / "a" / "b", 1400000000);
    set_mtime(src_ / "empty", 1600000000, 5);
  }

  fs::path root_, src_;
};

TEST_F(TreeArchive, RoundTripsEveryKindOfEntryWithModesTimesAndOwners) {
  fill_source();
  set_mode(src_, 0750);
  set_mtime(src_, 1300000000, 42);
  ArchiveStats written;
  Result<std::string> tar = archive_all(src_, &written);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  EXPECT_EQ(tar->size() % 512, 0u);
  EXPECT_EQ(written.entries, 24u);

  Result<ArchiveStats> read = extract(*tar, root_ / "dst");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->entries, written.entries);
  EXPECT_EQ(read->file_bytes, written.file_bytes);
  EXPECT_EQ(describe(root_ / "dst"), describe(src_));
  // The spot checks a reader of the description might want spelled out.
  EXPECT_EQ(read_all(root_ / "dst" / "a" / "b" / "c" / "deep.txt"), "deep down\n");
  EXPECT_TRUE(fs::is_regular_file(root_ / "dst" / "empty"));
  EXPECT_EQ(fs::file_size(root_ / "dst" / "empty"), 0u);
  EXPECT_EQ(fs::read_symlink(root_ / "dst" / "link-to-deep"), "a/b/c/deep.txt");
  EXPECT_EQ(fs::status(root_ / "dst" / "run.sh").permissions(), fs::perms(0755));
  EXPECT_EQ(fs::status(root_ / "dst" / "secret").permissions(), fs::perms(0600));
  EXPECT_EQ(fs::status(root_ / "dst" / "readonly").permissions(), fs::perms(0555));
  EXPECT_EQ(fs::status(root_ / "dst").permissions(), fs::perms(0750));
  EXPECT_TRUE(fs::equivalent(root_ / "dst" / "secret", root_ / "dst" / "secret-again"));
  EXPECT_EQ(read_all(root_ / "dst" / "raw-\xff\xfe"), "not utf-8");
  EXPECT_EQ(fs::file_size(root_ / "dst" / "larger"), 3 * TreeArchiver::kPieceBytes + 12345);
}

TEST_F(TreeArchive, OwnersTravelWhenRunningAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root may give files away";
  write_file(src_ / "theirs", "x");
  ASSERT_EQ(::chown((src_ / "theirs").c_str(), 4321, 8765), 0);
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  ASSERT_TRUE(extract(*tar, root_ / "dst").ok());
  struct stat st {};
  ASSERT_EQ(::lstat((root_ / "dst" / "theirs").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4321u);
  EXPECT_EQ(st.st_gid, 8765u);
}

TEST_F(TreeArchive, TheStreamMayArriveInPiecesOfAnySize) {
  fill_source();
  fs::remove(src_ / "larger");  // one byte at a time would take a while
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  for (size_t piece : {size_t{1}, size_t{7}, size_t{512}, size_t{10000}}) {
    fs::path to = root_ / ("dst-" + std::to_string(piece));
    Result<ArchiveStats> read = extract(*tar, to, piece);
    ASSERT_TRUE(read.ok()) << "pieces of " << piece << ": " << read.error().message;
    EXPECT_EQ(describe(to), describe(src_)) << "pieces of " << piece;
  }
}

TEST_F(TreeArchive, EachPieceOfALargeFileIsBounded) {
  write_file(src_ / "big", std::string(8 * TreeArchiver::kPieceBytes, 'b'));
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(src_);
  ASSERT_TRUE(archiver.ok());
  size_t total = 0, pieces = 0;
  while (true) {
    std::string piece;
    Result<bool> more = (*archiver)->next(&piece);
    ASSERT_TRUE(more.ok()) << more.error().message;
    EXPECT_LE(piece.size(), TreeArchiver::kPieceBytes + 2 * 10240);
    total += piece.size();
    ++pieces;
    if (!*more) break;
  }
  EXPECT_GE(pieces, 8u);
  EXPECT_LE(pieces, 10u);
  EXPECT_GT(total, 8 * TreeArchiver::kPieceBytes);
  EXPECT_EQ((*archiver)->stats().file_bytes, 8 * TreeArchiver::kPieceBytes);
}

// ustar's size field stops short of 8 GiB; pax records carry larger sizes. Only the first
// piece is made and read back: the header is all that matters here.
TEST_F(TreeArchive, AFileOver8GiBKeepsItsSize) {
  constexpr uint64_t kHuge = (uint64_t{9} << 30) + 7;
  std::ofstream(src_ / "huge").close();
  ASSERT_EQ(::truncate((src_ / "huge").c_str(), static_cast<off_t>(kHuge)), 0);
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(src_);
  ASSERT_TRUE(archiver.ok());
  std::string first;
  ASSERT_TRUE((*archiver)->next(&first).ok());
  struct archive* reader = archive_read_new();
  archive_read_support_format_tar(reader);
  ASSERT_EQ(archive_read_open_memory(reader, first.data(), first.size()), ARCHIVE_OK);
  struct archive_entry* entry = nullptr;
  ASSERT_EQ(archive_read_next_header(reader, &entry), ARCHIVE_OK);  // ./
  ASSERT_EQ(archive_read_next_header(reader, &entry), ARCHIVE_OK);
  EXPECT_STREQ(archive_entry_pathname(entry), "huge");
  EXPECT_EQ(static_cast<uint64_t>(archive_entry_size(entry)), kHuge);
  archive_read_free(reader);
}

TEST_F(TreeArchive, AnEmptyDirectoryIsAnArchiveOfItsRootAlone) {
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  Result<ArchiveStats> read = extract(*tar, root_ / "dst");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->entries, 1u);
  EXPECT_TRUE(fs::is_empty(root_ / "dst"));
}

TEST_F(TreeArchive, SystemTarReadsTheArchive) {
  if (::access("/usr/bin/tar", X_OK) != 0 && ::access("/bin/tar", X_OK) != 0) {
    GTEST_SKIP() << "no tar on this machine";
  }
  fill_source();
  fs::remove(src_ / "pipe");  // Some tar builds refuse FIFOs without privileges.
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  write_file(root_ / "x.tar", *tar);
  fs::create_directory(root_ / "by-tar");
  std::string command = "tar -xf " + (root_ / "x.tar").string() + " -C " +
                        (root_ / "by-tar").string() + " 2>" + (root_ / "tar.err").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << read_all(root_ / "tar.err");
  auto by_tar = describe(root_ / "by-tar");
  auto original = describe(src_);
  by_tar.erase(".");  // tar -C keeps the existing directory's own mode
  original.erase(".");
  EXPECT_EQ(by_tar, original);
}

TEST_F(TreeArchive, AMissingDirectoryIsNotFound) {
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(root_ / "nothing");
  ASSERT_FALSE(archiver.ok());
  EXPECT_EQ(archiver.error().code, ErrorCode::kNotFound);
  fs::create_directory_symlink(src_, root_ / "link");
  EXPECT_EQ(TreeArchiver::open(root_ / "link").error().code, ErrorCode::kNotFound);
}

TEST_F(TreeArchive, AFileThatShrinksWhileItIsReadFailsTheArchive) {
  write_file(src_ / "log", std::string(4 * TreeArchiver::kPieceBytes, 'l'));
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(src_);
  ASSERT_TRUE(archiver.ok());
  std::string out;
  ASSERT_TRUE((*archiver)->next(&out).ok());
  ASSERT_EQ(::truncate((src_ / "log").c_str(), 100), 0);
  Result<bool> more = true;
  while (more.ok() && *more) more = (*archiver)->next(&out);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(more.error().message.find("shrank"), std::string::npos) << more.error().message;
  EXPECT_FALSE(*(*archiver)->next(&out)) << "the stream is over after an error";
}

TEST_F(TreeArchive, DirectoriesNestedTooDeeplyAreRefused) {
  fs::path deep = src_;
  for (int i = 0; i < 260; ++i) deep /= "d";
  fs::create_directories(deep);
  Result<std::string> tar = archive_all(src_);
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(tar.error().message.find("deeper than 256"), std::string::npos);
}

TEST_F(TreeArchive, ATruncatedArchiveIsRefusedWhereverItIsCut) {
  fill_source();
  fs::remove(src_ / "larger");
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  // Every block boundary (a cut there leaves a well-formed tar without its end marker), and
  // inside headers and contents.
  std::vector<size_t> cuts;
  for (size_t cut = 0; cut + 1024 <= tar->size(); cut += 512) cuts.push_back(cut);
  for (size_t cut : {size_t{700}, size_t{512 + 100}, tar->size() - 1, tar->size() - 513}) {
    cuts.push_back(cut);
  }
  for (size_t cut : cuts) {
    fs::path to = root_ / ("cut-" + std::to_string(cut));
    Result<ArchiveStats> read = extract(std::string_view(*tar).substr(0, cut), to);
    ASSERT_FALSE(read.ok()) << "cut at " << cut << " of " << tar->size();
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument) << read.error().message;
    fs::remove_all(to);
  }
}

TEST_F(TreeArchive, ACorruptHeaderIsRefused) {
  write_file(src_ / "file", "contents");
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  std::string bad = *tar;
  size_t header = 0;
  while (header < bad.size() && bad.compare(header, 5, "file\0", 5) != 0) header += 512;
  ASSERT_LT(header, bad.size()) << "no ustar header named 'file'";
  bad[header + 1] ^= 0x20;
  Result<ArchiveStats> read = extract(bad, root_ / "dst");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(read.error().message.find("malformed archive"), std::string::npos)
      << read.error().message;
}

TEST_F(TreeArchive, ExtractingIntoAnExistingDirectoryIsRefused) {
  Result<std::string> tar = archive_all(src_);
  ASSERT_TRUE(tar.ok());
  EXPECT_FALSE(extract(*tar, src_).ok());
}

}  // namespace
}  // namespace berth
