#include "cmd/config_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace berth::cmd {
namespace {

using ::testing::HasSubstr;

std::string parse_error(const std::string& text) {
  auto parsed = parse_config(text, "/etc/berth/berth.conf");
  EXPECT_FALSE(parsed) << text;
  return parsed ? "" : parsed.error().message;
}

std::string check_error(const std::string& text) {
  auto parsed = parse_config(text, "berth.conf");
  EXPECT_TRUE(parsed) << parsed.error().message;
  if (!parsed) return "";
  Status checked = check_config(*parsed, "berth.conf");
  EXPECT_FALSE(checked) << text;
  return checked ? "" : checked.error().message;
}

TEST(ConfigFile, ReadsSectionsKeysAndEveryKindOfValue) {
  auto parsed = parse_config(
      "# berth\n"
      "\n"
      "[master]\n"
      "  port = 9090   # a comment after a value\n"
      "data-dir = \"/var/lib/berth/master\"\n"
      "http-credentials = \"user:pa\\\"ss # not a comment\"\n"
      "[ agent ]  # the agent\n"
      "join-token=abc#def\n"
      "attributes = 'rack:a\\b' # single quotes take it as it is\n"
      "work-dir = \"\"\r\n",
      "f");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 6u);
  const auto& e = *parsed;
  EXPECT_EQ(e[0].section, "master");
  EXPECT_EQ(e[0].key, "port");
  EXPECT_EQ(e[0].value, "9090");
  EXPECT_EQ(e[0].line, 4);
  EXPECT_EQ(e[1].value, "/var/lib/berth/master");
  EXPECT_EQ(e[2].value, "user:pa\"ss # not a comment");
  EXPECT_EQ(e[3].section, "agent");
  EXPECT_EQ(e[3].key, "join-token");
  EXPECT_EQ(e[3].value, "abc#def");
  EXPECT_EQ(e[4].value, "rack:a\\b");
  EXPECT_EQ(e[5].value, "");
  EXPECT_EQ(e[5].line, 10);
}

TEST(ConfigFile, MalformedLinesNameTheFileTheLineAndTheProblem) {
  EXPECT_THAT(parse_error("[master]\n\nport 9090\n"),
              HasSubstr("/etc/berth/berth.conf:3: expected `key = value`"));
  EXPECT_THAT(parse_error("port = 1\n"),
              HasSubstr("berth.conf:1: `port` is outside a section: put it under [master]"));
  EXPECT_THAT(parse_error("[masters]\n"),
              HasSubstr(":1: unknown section [masters]: berth reads [master] and [agent]"));
  EXPECT_THAT(parse_error("[master\n"), HasSubstr(":1: the section header has no closing ]"));
  EXPECT_THAT(parse_error("[master]\ndata-dir = \"/var/lib\n"),
              HasSubstr(":2: the double quote is not closed"));
  EXPECT_THAT(parse_error("[master]\ndata-dir = '/var/lib\n"),
              HasSubstr(":2: the single quote is not closed"));
  EXPECT_THAT(parse_error("[master]\ndata-dir = \"/a\" b\n"),
              HasSubstr(":2: text after the closing quote: `b`"));
  EXPECT_THAT(parse_error("[master]\ndata-dir = \"a\\nb\"\n"),
              HasSubstr(":2: a double-quoted value takes only the escapes"));
  EXPECT_THAT(parse_error("[master]\nport =   # nothing\n"),
              HasSubstr(":2: no value: write `key = \"\"` for an empty one"));
  EXPECT_THAT(parse_error("[master]\n--port = 1\n"),
              HasSubstr(":2: write the key without `--`: `port` = ..."));
  EXPECT_THAT(parse_error("[master]\nlease ms = 1\n"),
              HasSubstr(":2: expected `key = value` with a flag's long name as the key"));
}

TEST(ConfigFile, AKeyGivenTwiceInASectionIsAnErrorNamingBothLines) {
  EXPECT_THAT(parse_error("[master]\nport = 1\n[agent]\nport = 2\n[master]\nport = 3\n"),
              HasSubstr(":6: `port` is given twice in [master] (first on line 2)"));
}

TEST(ConfigFile, AJoinTokenMayBeSetInBothSections) {
  auto parsed = parse_config("[master]\njoin-token = t\n[agent]\njoin-token = t\n", "f");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(check_config(*parsed, "f"));
}

TEST(ConfigFile, AnUnknownKeySuggestsTheClosestFlag) {
  EXPECT_THAT(check_error("[master]\n\nlease-m = 2000\n"),
              HasSubstr("berth.conf:3: unknown key `lease-m` in [master]; did you mean "
                        "`lease-ms`?"));
  EXPECT_THAT(check_error("[agent]\nwork_dir = /x\n"), HasSubstr("did you mean `work-dir`?"));
  EXPECT_THAT(check_error("[agent]\nfrobnicate-everything = 1\n"),
              HasSubstr(":2: unknown key `frobnicate-everything` in [agent]: `berth agent "
                        "--help` lists the flags"));
  EXPECT_THAT(check_error("[master]\nhelp = true\n"), HasSubstr("unknown key `help`"));
  EXPECT_THAT(check_error("[agent]\nconfig = /etc/other.conf\n"),
              HasSubstr(":2: `config` cannot be set in a config file"));
}

TEST(ConfigFile, AKeyInTheOtherCommandsSectionSaysWhereItBelongs) {
  EXPECT_THAT(check_error("[master]\nwork-dir = /var/lib/berth/agent\n"),
              HasSubstr(":2: `work-dir` is a flag of `berth agent`, not of `berth master`: move "
                        "it to the [agent] section"));
  EXPECT_THAT(check_error("[agent]\nlease-ms = 2500\n"),
              HasSubstr("move it to the [master] section"));
}

TEST(ConfigFile, AValueItsFlagRefusesNamesTheLine) {
  EXPECT_THAT(check_error("[master]\nport = eighty\n"),
              HasSubstr("berth.conf:2: port = \"eighty\" is refused: "));
  EXPECT_THAT(check_error("[master]\ndataset-driver = nfs\n"),
              HasSubstr(":2: dataset-driver = \"nfs\" is refused: "));
  EXPECT_THAT(check_error("[agent]\nwork-dir = /w\nhttp-port = 70000\n"),
              HasSubstr(":3: http-port = \"70000\" is refused: "));
  EXPECT_THAT(check_error("[master]\ninsecure = maybe\n"),
              HasSubstr(":2: insecure = \"maybe\" is refused: "));
}

TEST(ConfigFile, AValueIsCheckedWithoutTheEnvironment) {
  // A bad environment variable of another flag is not this line's fault.
  ::setenv("BERTH_LEASE_MS", "not-a-number", 1);
  auto parsed = parse_config("[master]\nport = 9000\n", "f");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(check_config(*parsed, "f"));
  ::unsetenv("BERTH_LEASE_MS");
}

TEST(ConfigFilePermissions, OnlyRootAndTheRunningUserMayWriteIt) {
  EXPECT_TRUE(check_config_permissions("f", 0, 0, S_IFREG | 0644, 0));
  EXPECT_TRUE(check_config_permissions("f", 0, 998, S_IFREG | 0640, 998));  // root:berth
  EXPECT_TRUE(check_config_permissions("f", 1000, 1000, S_IFREG | 0600, 1000));
  EXPECT_TRUE(check_config_permissions("f", 0, 0, S_IFREG | 0664, 1000));  // root's group
  Status world = check_config_permissions("/etc/berth/berth.conf", 0, 0, S_IFREG | 0666, 0);
  ASSERT_FALSE(world);
  EXPECT_EQ(world.error().code, ErrorCode::kPermissionDenied);
  EXPECT_THAT(world.error().message,
              HasSubstr("refusing config file /etc/berth/berth.conf: anyone may write it (mode "
                        "0666)"));
  EXPECT_THAT(world.error().message, HasSubstr("chmod o-w /etc/berth/berth.conf"));
  Status group = check_config_permissions("f", 0, 998, S_IFREG | 0660, 998);
  ASSERT_FALSE(group);
  EXPECT_THAT(group.error().message, HasSubstr("group 998 may write it"));
  Status owner = check_config_permissions("f", 1000, 1000, S_IFREG | 0600, 998);
  ASSERT_FALSE(owner);
  EXPECT_THAT(owner.error().message,
              HasSubstr("owned by uid 1000, neither root nor the user running berth (uid 998)"));
}

class ConfigFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/berth-config-test-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text, mode_t mode) {
    std::string path = dir_ + "/berth.conf";
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string dir_;
};

TEST_F(ConfigFileOnDisk, AnUnreadableFileIsNamed) {
  auto missing = read_config_file(dir_ + "/nope.conf");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message,
              HasSubstr("cannot read config file " + dir_ + "/nope.conf: No such file"));
  auto directory = read_config_file(dir_);
  ASSERT_FALSE(directory);
  EXPECT_THAT(directory.error().message, HasSubstr("is not a regular file"));
}

TEST_F(ConfigFileOnDisk, AWorldWritableFileIsRefused) {
  std::string path = write("[master]\nport = 1\n", 0666);
  auto refused = read_config_file(path);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("anyone may write it"));
  ::chmod(path.c_str(), 0600);
  auto read = read_config_file(path);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, "[master]\nport = 1\n");
}

TEST_F(ConfigFileOnDisk, AFileOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  std::string path = write("[master]\nport = 1\n", 0644);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  auto refused = read_config_file(path);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("owned by uid 65534"));
}

TEST_F(ConfigFileOnDisk, AFileLargerThanAMebibyteIsRefused) {
  std::string path = write(std::string((size_t{1} << 20) + 1, '#'), 0600);
  auto refused = read_config_file(path);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("larger than 1 MiB"));
}

TEST(ConfigFileArgument, TakesTheLastConfigFlagThenTheEnvironment) {
  ::unsetenv("BERTH_CONFIG");
  EXPECT_EQ(config_file_argument({"berth", "master", "--port", "1"}), "");
  EXPECT_EQ(config_file_argument({"berth", "master", "--config", "/a"}), "/a");
  EXPECT_EQ(config_file_argument({"berth", "agent", "--config=/a", "--config", "/b"}), "/b");
  EXPECT_EQ(config_file_argument({"berth", "agent", "--", "--config", "/b"}), "");
  ::setenv("BERTH_CONFIG", "/env", 1);
  EXPECT_EQ(config_file_argument({"berth", "agent"}), "/env");
  EXPECT_EQ(config_file_argument({"berth", "agent", "--config", "/a"}), "/a");
  ::unsetenv("BERTH_CONFIG");
}

}  // namespace
}  // namespace berth::cmd
