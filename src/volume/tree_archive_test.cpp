#include "volume/tree_archive.h"

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

namespace berth {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kNoLimit = uint64_t{1} << 30;

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

void set_mtime(const fs::path& path, time_t seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
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
    d << std::oct << (st.st_mode & 07777) << std::dec << " mtime " << st.st_mtim.tv_sec << " ";
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
    set_mtime(src_ / "a" / "b" / "c" / "deep.txt", 1500000000);
    set_mtime(src_ / "a" / "b", 1400000000);
    set_mtime(src_ / "empty", 1600000000);
  }

  fs::path root_, src_;
};

TEST_F(TreeArchive, RoundTripsNestedDirectoriesSymlinksModesAndEmptyFiles) {
  fill_source();
  set_mode(src_, 0750);
  set_mtime(src_, 1300000000);
  ArchiveStats written;
  Result<std::string> tar = archive_tree(src_, kNoLimit, &written);
  ASSERT_TRUE(tar.ok()) << tar.error().message;
  EXPECT_EQ(tar->size() % 512, 0u);

  Result<ArchiveStats> read = extract_tree(*tar, root_ / "dst");
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
}

TEST_F(TreeArchive, AnEmptyDirectoryIsAnArchiveOfItsRootAlone) {
  Result<std::string> tar = archive_tree(src_, kNoLimit);
  ASSERT_TRUE(tar.ok());
  Result<ArchiveStats> read = extract_tree(*tar, root_ / "dst");
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
  Result<std::string> tar = archive_tree(src_, kNoLimit);
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

TEST_F(TreeArchive, AnArchiveOverTheLimitIsRefusedBeforeAnythingIsRead) {
  write_file(src_ / "big", std::string(64 * 1024, 'x'));
  Result<std::string> tar = archive_tree(src_, 32 * 1024);
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(tar.error().message.find("limit of 32768 bytes"), std::string::npos)
      << tar.error().message;
}

TEST_F(TreeArchive, AMissingDirectoryIsNotFound) {
  Result<std::string> tar = archive_tree(root_ / "nothing", kNoLimit);
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code, ErrorCode::kNotFound);
}

TEST_F(TreeArchive, ATruncatedArchiveIsRefusedWhereverItIsCut) {
  fill_source();
  Result<std::string> tar = archive_tree(src_, kNoLimit);
  ASSERT_TRUE(tar.ok());
  // Cut on a block boundary just before the end marker, in a header, in contents, at 0.
  for (size_t cut : {tar->size() - 1024, size_t{700}, size_t{512 + 100}, size_t{0}}) {
    Result<ArchiveStats> read =
        extract_tree(std::string_view(*tar).substr(0, cut), root_ / ("cut-" + std::to_string(cut)));
    ASSERT_FALSE(read.ok()) << "cut at " << cut;
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument) << read.error().message;
  }
}

TEST_F(TreeArchive, ACorruptHeaderIsRefused) {
  write_file(src_ / "file", "contents");
  Result<std::string> tar = archive_tree(src_, kNoLimit);
  ASSERT_TRUE(tar.ok());
  std::string bad = *tar;
  bad[512 + 3] ^= 0x20;  // the second entry's name
  Result<ArchiveStats> read = extract_tree(bad, root_ / "dst");
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().message.find("checksum"), std::string::npos) << read.error().message;
}

TEST_F(TreeArchive, ExtractingIntoAnExistingDirectoryIsRefused) {
  Result<std::string> tar = archive_tree(src_, kNoLimit);
  ASSERT_TRUE(tar.ok());
  EXPECT_FALSE(extract_tree(*tar, src_).ok());
}

// Archives that try to write outside the target, made by hand.
class HostileArchive : public TreeArchive {
 protected:
  static void header(std::string* out, const std::string& name, char type, size_t size = 0,
                     const std::string& link = "") {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(h + 100, 8, "%07o", 0644);
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
  static void file(std::string* out, const std::string& name, const std::string& contents) {
    header(out, name, '0', contents.size());
    out->append(contents);
    out->append((512 - contents.size() % 512) % 512, '\0');
  }
  static std::string end(std::string tar) { return tar + std::string(1024, '\0'); }

  void expect_refused(const std::string& tar, const std::string& mentions) {
    Result<ArchiveStats> read = extract_tree(tar, root_ / "dst");
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.error().code, ErrorCode::kInvalidArgument) << read.error().message;
    EXPECT_NE(read.error().message.find(mentions), std::string::npos) << read.error().message;
    EXPECT_FALSE(fs::exists(root_ / "escaped"));
    fs::remove_all(root_ / "dst");
  }
};

TEST_F(HostileArchive, NamesThatLeaveTheTreeAreRefused) {
  std::string tar;
  file(&tar, "../escaped", "x");
  expect_refused(end(tar), "plain relative path");
  tar.clear();
  file(&tar, "/tmp/escaped", "x");
  expect_refused(end(tar), "absolute");
  tar.clear();
  header(&tar, "a/", '5');
  file(&tar, "a/../../escaped", "x");
  expect_refused(end(tar), "plain relative path");
}

TEST_F(HostileArchive, NothingIsWrittenThroughASymlinkOfTheArchive) {
  std::string tar;
  header(&tar, "out", '2', 0, root_.string());
  file(&tar, "out/escaped", "x");
  expect_refused(end(tar), "comes before its directory");
  tar.clear();
  header(&tar, "escaped-link", '2', 0, (root_ / "escaped").string());
  file(&tar, "escaped-link", "x");
  expect_refused(end(tar), "appears twice");
}

TEST_F(HostileArchive, HardLinksOnlyToEarlierFilesOfTheArchive) {
  std::string tar;
  header(&tar, "passwd", '1', 0, "/etc/passwd");
  expect_refused(end(tar), "absolute");
  tar.clear();
  header(&tar, "later", '1', 0, "not-yet");
  expect_refused(end(tar), "not an earlier file");
}

TEST_F(HostileArchive, DataAfterTheEndMarkerIsRefused) {
  std::string tar;
  file(&tar, "a", "x");
  expect_refused(end(tar) + std::string(512, 'x'), "follows the end");
}

}  // namespace
}  // namespace berth
