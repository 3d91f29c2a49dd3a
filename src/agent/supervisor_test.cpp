#include "agent/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace berth::agent {
namespace {

pid_t start_sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

std::string temp_file() {
  char tmpl[] = "/tmp/berth-supervisor-XXXXXX";
  return std::string(::mkdtemp(tmpl)) + "/deadline";
}

}  // namespace

TEST(SandboxFile, ALinkPlantedAtTheTemporaryIsReplacedNotFollowed) {
  std::string file = temp_file();
  std::string victim = file + "-victim";
  { std::ofstream(victim) << "precious\n"; }
  std::filesystem::create_symlink(victim, file + ".tmp");
  ASSERT_TRUE(write_sandbox_file(file, "42\n").ok());
  std::ifstream written(file), kept(victim);
  std::string line;
  std::getline(written, line);
  EXPECT_EQ(line, "42");
  std::getline(kept, line);
  EXPECT_EQ(line, "precious");
  EXPECT_FALSE(std::filesystem::is_symlink(file));
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(Supervisor, KillsTheTaskWhenTheDeadlinePassesWithoutRenewal) {
  pid_t task = start_sleeper();
  std::string file = temp_file();
  ASSERT_TRUE(
      write_deadline_file(file, std::chrono::steady_clock::now() + std::chrono::milliseconds(200))
          .ok());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run_supervisor(task, file, ""), 1);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(180));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  int status = 0;
  ASSERT_EQ(::waitpid(task, &status, 0), task);
  EXPECT_TRUE(WIFSIGNALED(status));
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(Supervisor, KeepsTheTaskWhileTheDeadlineIsRenewed) {
  pid_t task = start_sleeper();
  std::string file = temp_file();
  ASSERT_TRUE(
      write_deadline_file(file, std::chrono::steady_clock::now() + std::chrono::milliseconds(200))
          .ok());
  std::thread renewer([&] {
    for (int i = 0; i < 10; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      (void)write_deadline_file(file,
                                std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    }
    std::filesystem::remove(file);  // the agent stops supervising: the supervisor leaves
  });
  EXPECT_EQ(run_supervisor(task, file, ""), 0);
  renewer.join();
  EXPECT_EQ(::kill(task, 0), 0) << "the task was killed although its lease was renewed";
  ::kill(task, SIGKILL);
  ::waitpid(task, nullptr, 0);
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

TEST(Supervisor, LeavesWhenTheTaskEnds) {
  pid_t task = start_sleeper();
  std::string file = temp_file();
  ASSERT_TRUE(
      write_deadline_file(file, std::chrono::steady_clock::now() + std::chrono::seconds(30)).ok());
  ::kill(task, SIGKILL);
  ::waitpid(task, nullptr, 0);
  EXPECT_EQ(run_supervisor(task, file, ""), 0);
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

}  // namespace berth::agent
