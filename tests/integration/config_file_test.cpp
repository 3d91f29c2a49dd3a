// `berth master --config FILE` and `berth agent --config FILE` as the binary runs them
// (docs/deploy.md §1): the master listens where its file says, an environment variable and a
// flag beat the file, and a bad file stops the command, with the file and the line, before it
// creates anything.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "http/http.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

int free_port() {
  auto probe = http::serve({"127.0.0.1", 0}, [](const http::Request&) { return http::Response{}; });
  return probe ? (*probe)->port() : 18190;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool answers_ping(int port) {
  auto answer = http::request("http://127.0.0.1:" + std::to_string(port), "GET", "/ping", "", 1000);
  return answer && answer->status == 200;
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/berth-config-it-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override {
    for (pid_t pid : running_) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string write_config(const std::string& text, mode_t mode = 0600) {
    std::string path = dir_ + "/berth.conf";
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }

  // Starts berth with `args` and nothing in its environment but PATH and `env`; its output goes
  // to <dir>/<log>.
  pid_t start(const std::vector<std::string>& args, const std::vector<std::string>& env,
              const std::string& log) {
    std::vector<std::string> argv_text = {BERTH_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_text = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    env_text.insert(env_text.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_text) argv.push_back(a.data());
    for (auto& e : env_text) envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    std::string log_path = dir_ + "/" + log;
    pid_t pid = ::fork();
    if (pid == 0) {
      std::FILE* out = std::freopen(log_path.c_str(), "w", stdout);
      (void)out;
      ::dup2(1, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    return pid;
  }

  // Runs berth to its end; its exit code, its output in `output`.
  int run(const std::vector<std::string>& args, std::string* output) {
    pid_t pid = start(args, {}, "run.log");
    int status = 0;
    ::waitpid(pid, &status, 0);
    *output = read_file(dir_ + "/run.log");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Starts a master and waits until one of `ports` answers /ping; that port, or 0.
  int start_master(const std::vector<std::string>& args, const std::vector<std::string>& env,
                   const std::vector<int>& ports) {
    running_.push_back(start(args, env, "master.log"));
    for (int i = 0; i < 200; ++i) {
      for (int port : ports) {
        if (answers_ping(port)) return port;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "no master answered; its log:\n" << read_file(dir_ + "/master.log");
    return 0;
  }

  std::string dir_;
  std::vector<pid_t> running_;
};

TEST_F(ConfigFile, TheMasterListensWhereItsConfigFileSays) {
  int port = free_port();
  std::string config = write_config("# a master\n[master]\nport = " + std::to_string(port) +
                                    "   # not 8080\ndata-dir = \"" + dir_ + "/master\"\n");
  EXPECT_EQ(start_master({"master", "--config", config}, {}, {port}), port);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/master/admin-token"));
}

TEST_F(ConfigFile, BerthConfigNamesTheFileToo) {
  int port = free_port();
  std::string config = write_config("[master]\nport = " + std::to_string(port) +
                                    "\ndata-dir = " + dir_ + "/master\n");
  EXPECT_EQ(start_master({"master"}, {"BERTH_CONFIG=" + config}, {port}), port);
}

TEST_F(ConfigFile, AnEnvironmentVariableBeatsTheConfigFile) {
  int in_file = free_port(), in_env = free_port();
  std::string config = write_config("[master]\nport = " + std::to_string(in_file) +
                                    "\ndata-dir = " + dir_ + "/master\n");
  EXPECT_EQ(start_master({"master", "--config", config}, {"BERTH_PORT=" + std::to_string(in_env)},
                         {in_file, in_env}),
            in_env);
}

TEST_F(ConfigFile, AFlagBeatsTheEnvironmentAndTheConfigFile) {
  int in_file = free_port(), in_env = free_port(), in_flag = free_port();
  std::string config = write_config("[master]\nport = " + std::to_string(in_file) +
                                    "\ndata-dir = " + dir_ + "/master\n");
  EXPECT_EQ(start_master({"master", "--config", config, "--port", std::to_string(in_flag)},
                         {"BERTH_PORT=" + std::to_string(in_env)}, {in_file, in_env, in_flag}),
            in_flag);
}

TEST_F(ConfigFile, ABadConfigFileStopsTheCommandBeforeItCreatesAnything) {
  std::string config =
      write_config("[master]\ndata-dir = " + dir_ +
                   "/never\nlease-m = 2000\n[agent]\nwork-dir = " + dir_ + "/never-agent\n");
  std::string output;
  EXPECT_EQ(run({"master", "--config", config}, &output), 2);
  EXPECT_THAT(output, HasSubstr("berth master: " + config +
                                ":3: unknown key `lease-m` in [master]; did you mean `lease-ms`?"));
  // The agent checks the master's section too.
  EXPECT_EQ(run({"agent", "--config", config}, &output), 2);
  EXPECT_THAT(output, HasSubstr(config + ":3: unknown key `lease-m`"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never-agent"));
}

TEST_F(ConfigFile, AConfigFileAnyoneMayWriteIsRefused) {
  std::string config = write_config("[agent]\nwork-dir = " + dir_ + "/never-agent\n", 0666);
  std::string output;
  EXPECT_EQ(run({"agent", "--config", config}, &output), 2);
  EXPECT_THAT(output, HasSubstr("refusing config file " + config + ": anyone may write it"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never-agent"));
}

}  // namespace
}  // namespace berth::testing
