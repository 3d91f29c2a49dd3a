// The flags of `berth master` and `berth agent` as main() parses them after their config file:
// which source wins, and the config file the Debian package ships (packaging/deb/berth.conf).
#include "cmd/service_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "cmd/config_file.h"

namespace berth::cmd {
namespace {

using ::testing::HasSubstr;

// Every option of both commands but --help.
std::vector<std::pair<std::string, CLI::Option*>> every_flag(const ServiceCommands& commands) {
  std::vector<std::pair<std::string, CLI::Option*>> flags;
  for (auto [section, command] :
       {std::pair{"master", commands.master}, {"agent", commands.agent}}) {
    for (CLI::Option* option : command->get_options()) {
      if (option != command->get_help_ptr()) flags.emplace_back(section, option);
    }
  }
  return flags;
}

// Unsets every variable the two commands read, and puts them back afterwards.
class Precedence : public ::testing::Test {
 protected:
  void SetUp() override {
    CLI::App app;
    ServiceFlags flags;
    for (auto& [section, option] : every_flag(add_service_commands(app, flags))) {
      std::string name = option->get_envname();
      if (saved_.count(name)) continue;
      const char* value = std::getenv(name.c_str());
      saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
      ::unsetenv(name.c_str());
    }
    char pattern[] = "/tmp/berth-precedence-test-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override {
    for (auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
    std::filesystem::remove_all(dir_);
  }

  // What main() does: the config file, then CLI11 on `args` (args[1] the command).
  ServiceFlags run(const std::string& config, std::vector<std::string> args) {
    std::string path = dir_ + "/berth.conf";
    std::ofstream(path) << config;
    ::chmod(path.c_str(), 0600);
    args.insert(args.begin() + 2, {"--config", path});
    Status loaded = load_config(args);
    EXPECT_TRUE(loaded) << loaded.error().message;
    CLI::App app;
    ServiceFlags flags;
    add_service_commands(app, flags);
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError& error) {
      ADD_FAILURE() << error.what();
    }
    return flags;
  }

  std::map<std::string, std::optional<std::string>> saved_;
  std::string dir_;
};

TEST_F(Precedence, TheConfigFileBeatsTheDefaults) {
  ServiceFlags flags =
      run("[master]\nport = 9101\ndata-dir = \"/srv/berth\"\n", {"berth", "master"});
  EXPECT_EQ(flags.master.port, 9101);
  EXPECT_EQ(flags.master.data_dir, "/srv/berth");
  EXPECT_EQ(flags.master.lease_ms, 1000);  // not in the file: the default
}

TEST_F(Precedence, TheEnvironmentBeatsTheConfigFile) {
  ::setenv("BERTH_PORT", "9102", 1);
  ServiceFlags flags = run("[master]\nport = 9101\nlease-ms = 2000\n", {"berth", "master"});
  EXPECT_EQ(flags.master.port, 9102);
  EXPECT_EQ(flags.master.lease_ms, 2000);
}

TEST_F(Precedence, AnEmptyEnvironmentVariableLeavesTheConfigFileInCharge) {
  ::setenv("BERTH_PORT", "", 1);
  ServiceFlags flags = run("[master]\nport = 9101\n", {"berth", "master"});
  EXPECT_EQ(flags.master.port, 9101);
}

TEST_F(Precedence, AFlagBeatsTheEnvironmentAndTheConfigFile) {
  ::setenv("BERTH_PORT", "9102", 1);
  ServiceFlags flags =
      run("[master]\nport = 9101\nhost = 0.0.0.0\n", {"berth", "master", "--port", "9103"});
  EXPECT_EQ(flags.master.port, 9103);
  EXPECT_EQ(flags.master.host, "0.0.0.0");
}

TEST_F(Precedence, EachCommandTakesOnlyItsOwnSection) {
  std::string config =
      "[master]\njoin-token = for-the-master\n[agent]\njoin-token = for-the-agent\n"
      "work-dir = /w\n";
  ServiceFlags master = run(config, {"berth", "master"});
  EXPECT_EQ(master.master.join_token, "for-the-master");
  ::unsetenv("BERTH_JOIN_TOKEN");
  ServiceFlags agent = run(config, {"berth", "agent"});
  EXPECT_EQ(agent.agent.options.join_token, "for-the-agent");
}

TEST_F(Precedence, TheAgentsRequiredWorkDirCanComeFromTheConfigFile) {
  ServiceFlags flags = run("[agent]\nwork-dir = \"/var/lib/berth/agent\"\nports = 40000-40100\n",
                           {"berth", "agent"});
  EXPECT_EQ(flags.agent.options.work_dir, "/var/lib/berth/agent");
  auto options = agent_options(flags.agent);
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->port_begin, 40000u);
  EXPECT_EQ(options->port_end, 40100u);
}

TEST_F(Precedence, SwitchesCanBeTurnedOnAndOffInTheConfigFile) {
  ServiceFlags master = run("[master]\ninsecure = true\nno-auth = false\n", {"berth", "master"});
  EXPECT_TRUE(master.master.insecure);
  EXPECT_FALSE(master.master.no_auth);
  ServiceFlags agent =
      run("[agent]\nwork-dir = /w\nno-service-router = true\nallow-root-tasks = false\n",
          {"berth", "agent"});
  auto options = agent_options(agent.agent);
  ASSERT_TRUE(options);
  EXPECT_FALSE(options->service_router);
  EXPECT_FALSE(options->allow_root_tasks);
}

TEST_F(Precedence, ABadConfigFileSetsNothing) {
  std::string path = dir_ + "/bad.conf";
  std::ofstream(path) << "[master]\nport = 9101\nlease-m = 3\n";
  Status loaded = load_config({"berth", "master", "--config", path});
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr(path + ":3: unknown key `lease-m`"));
  EXPECT_EQ(std::getenv("BERTH_PORT"), nullptr);
}

TEST(ServiceCommands, EveryFlagHasAnEnvironmentVariableOfItsOwn) {
  CLI::App app;
  ServiceFlags flags;
  std::map<std::string, std::set<std::string>> seen;
  for (auto& [section, option] : every_flag(add_service_commands(app, flags))) {
    std::string name = option->get_envname();
    EXPECT_TRUE(name.starts_with("BERTH_")) << section << " " << option->get_name();
    EXPECT_TRUE(seen[section].insert(name).second) << name << " twice in " << section;
  }
}

// The shipped file, every `# key = value` line (a flag and its default) made a setting.
std::string uncommented_shipped_config() {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/packaging/deb/berth.conf");
  EXPECT_TRUE(in) << "packaging/deb/berth.conf is missing";
  std::ostringstream out;
  std::regex setting("^# ?([a-z][a-z0-9-]* = .*)$");
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    out << (std::regex_match(line, m, setting) ? m[1].str() : line) << "\n";
  }
  return out.str();
}

TEST(ShippedConfigFile, ListsEveryFlagOfBothCommandsWithAValueItTakes) {
  std::string text = uncommented_shipped_config();
  auto entries = parse_config(text, "berth.conf");
  ASSERT_TRUE(entries) << entries.error().message;
  Status checked = check_config(*entries, "berth.conf");
  EXPECT_TRUE(checked) << checked.error().message;
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& e : *entries) keys.insert({e.section, e.key});
  CLI::App app;
  ServiceFlags flags;
  for (auto& [section, option] : every_flag(add_service_commands(app, flags))) {
    std::string key = option->get_lnames().front();
    if (key == "config") continue;
    EXPECT_TRUE(keys.count({section, key})) << "[" << section << "] " << key << " is missing";
  }
}

TEST(ShippedConfigFile, CommentsOutEachFlagWithItsDefault) {
  std::ifstream in(std::string(BERTH_SOURCE_DIR) + "/packaging/deb/berth.conf");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::regex commented("(^|\n)\\[([a-z]+)\\]|\n# ?([a-z][a-z0-9-]*) = ([^\n]*)");
  CLI::App app;
  ServiceFlags flags;
  ServiceCommands commands = add_service_commands(app, flags);
  std::string section;
  int compared = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), commented);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[2].matched) {
      section = (*it)[2];
      continue;
    }
    CLI::App* command = section == "master" ? commands.master : commands.agent;
    CLI::Option* option = command->get_option_no_throw("--" + (*it)[3].str());
    ASSERT_NE(option, nullptr) << (*it)[0];
    std::string value = (*it)[4];
    if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
    if (option->get_default_str().empty()) continue;
    EXPECT_EQ(value, option->get_default_str()) << "[" << section << "] " << (*it)[3];
    ++compared;
  }
  EXPECT_GT(compared, 10);
}

}  // namespace
}  // namespace berth::cmd
