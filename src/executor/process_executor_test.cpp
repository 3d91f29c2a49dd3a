// ProcessExecutor against real processes, sh and the machine's cgroups. These tests poll with
// short sleeps because the kernel, not a fake clock, decides when a process has exited; each
// one finishes in well under 5 s. Tests that need a writable cgroup v1 memory controller skip
// with the reason where it is missing.
#include "executor/process_executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace berth {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A process that exited counts as gone even while it waits, a zombie, for its parent to reap it.
bool alive(int pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 3s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A pid the task wrote to a file, once the whole line is there.
int wait_for_pid_file(const fs::path& path) {
  int pid = 0;
  eventually([&] {
    std::string text = read_file(path);
    if (text.empty() || text.back() != '\n') return false;
    pid = std::stoi(text);
    return true;
  });
  return pid;
}

class ProcessExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "berth-executor-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    executor_ = std::make_unique<ProcessExecutor>(options());
  }

  void TearDown() override {
    bool enforced = executor_ && executor_->memory_limits_enforced();
    executor_.reset();
    if (enforced) {
      EXPECT_FALSE(fs::exists(cgroup_parent())) << "the executor left " << cgroup_parent();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // One prefix per test process, so concurrent test binaries never share cgroups.
  static ExecutorOptions options() {
    ExecutorOptions options;
    options.cgroup_prefix = "berth-test-" + std::to_string(::getpid());
    // Tasks run as the test itself unless a test sets a user (see the TaskUser tests).
    options.task_users.allow_root = true;
    if (::geteuid() == 0) options.task_users.default_user = "root";
    return options;
  }

  void use_task_users(TaskUserPolicy policy) {
    ExecutorOptions o = options();
    o.task_users = std::move(policy);
    executor_ = std::make_unique<ProcessExecutor>(o);
  }

  static std::string cgroup_parent() {
    ExecutorOptions o = options();
    return o.memory_cgroup_root + "/" + o.cgroup_prefix;
  }

  ProcessSpec shell_spec(const std::string& id, const std::string& cmd) const {
    ProcessSpec spec;
    spec.task_id = id;
    spec.sandbox_dir = sandbox(id).string();
    spec.cmd = cmd;
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    return spec;
  }

  fs::path sandbox(const std::string& id) const { return dir_ / "sandboxes" / id; }

  // Polls until `id` exits; other exits seen on the way are kept for later calls.
  std::optional<TaskExit> wait_for_exit(const std::string& id,
                                        std::chrono::milliseconds timeout = 4s) {
    std::optional<TaskExit> found;
    eventually(
        [&] {
          for (TaskExit& exit : executor_->poll_exits()) seen_.push_back(std::move(exit));
          for (auto it = seen_.begin(); it != seen_.end(); ++it) {
            if (it->task_id == id) {
              found = *it;
              seen_.erase(it);
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }

  fs::path dir_;
  std::unique_ptr<ProcessExecutor> executor_;
  std::vector<TaskExit> seen_;
};

TEST_F(ProcessExecutorTest, RunsCmdThroughShAndAppendsItsOutputToSandboxFiles) {
  ASSERT_TRUE(executor_->launch(shell_spec("first", "echo out-$((1+1)); echo err >&2")).ok());
  std::optional<TaskExit> exit = wait_for_exit("first");
  ASSERT_TRUE(exit);
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->code, 0);

  // A second task in the same sandbox appends rather than truncates.
  ProcessSpec again = shell_spec("second", "echo again; echo again-err >&2");
  again.sandbox_dir = sandbox("first").string();
  ASSERT_TRUE(executor_->launch(again).ok());
  ASSERT_TRUE(wait_for_exit("second"));
  EXPECT_EQ(read_file(sandbox("first") / "stdout"), "out-2\nagain\n");
  EXPECT_EQ(read_file(sandbox("first") / "stderr"), "err\nagain-err\n");
}

TEST_F(ProcessExecutorTest, RunsTheTaskInItsOwnSessionAndSandbox) {
  Result<TaskStarted> pid = executor_->launch(shell_spec("session", "pwd; exec sleep 30"));
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(::getsid(pid->pid), pid->pid);
  EXPECT_EQ(::getpgid(pid->pid), pid->pid);
  EXPECT_EQ(executor_->running(), std::vector<std::string>{"session"});
  EXPECT_TRUE(eventually([&] {
    return read_file(sandbox("session") / "stdout") == sandbox("session").string() + "\n";
  })) << "the task's working directory is not its sandbox";
  ASSERT_TRUE(executor_->kill("session", 2s).ok());
  ASSERT_TRUE(wait_for_exit("session"));
  EXPECT_TRUE(executor_->running().empty());
}

TEST_F(ProcessExecutorTest, ExecsArgsDirectlyWithoutShellInterpretation) {
  ProcessSpec spec;
  spec.task_id = "args";
  spec.sandbox_dir = sandbox("args").string();
  spec.args = {"echo", "$HOME", "a  b", "*"};
  // args[0] is looked up in the task's PATH, not the test's.
  spec.env = {{"PATH", "/nonexistent:/usr/bin:/bin"}, {"HOME", "/root"}};
  ASSERT_TRUE(executor_->launch(spec).ok());
  std::optional<TaskExit> exit = wait_for_exit("args");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
  EXPECT_EQ(read_file(sandbox("args") / "stdout"), "$HOME a  b *\n");
}

TEST_F(ProcessExecutorTest, GivesTheTaskExactlyTheEnvironmentOfItsSpec) {
  ASSERT_EQ(::setenv("BERTH_AGENT_ONLY", "secret", 1), 0);
  ProcessSpec spec;
  spec.task_id = "env";
  spec.sandbox_dir = sandbox("env").string();
  spec.args = {"/usr/bin/env"};
  spec.env = {{"PORT0", "31000"}, {"PATH", "/usr/bin:/bin"}};
  ASSERT_TRUE(executor_->launch(spec).ok());
  ASSERT_TRUE(wait_for_exit("env"));
  ::unsetenv("BERTH_AGENT_ONLY");
  EXPECT_EQ(read_file(sandbox("env") / "stdout"), "PATH=/usr/bin:/bin\nPORT0=31000\n");
}

TEST_F(ProcessExecutorTest, ReportsExitCodes) {
  ASSERT_TRUE(executor_->launch(shell_spec("three", "exit 3")).ok());
  std::optional<TaskExit> exit = wait_for_exit("three");
  ASSERT_TRUE(exit);
  EXPECT_FALSE(exit->signaled);
  EXPECT_EQ(exit->code, 3);
  EXPECT_FALSE(exit->killed_by_us);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_EQ(exit->message, "exited with code 3");
}

// The task must not inherit signals the agent ignores or blocks: it would then survive them.
TEST_F(ProcessExecutorTest, ReportsSignalsEvenWhenTheAgentIgnoresOrBlocksThem) {
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR1, &ignore, &previous), 0);
  sigset_t usr2, previous_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr2, &previous_mask), 0);

  Result<TaskStarted> usr1_pid = executor_->launch(shell_spec("usr1", "kill -USR1 $$; exit 0"));
  Result<TaskStarted> usr2_pid = executor_->launch(shell_spec("usr2", "kill -USR2 $$; exit 0"));
  ::sigaction(SIGUSR1, &previous, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ASSERT_TRUE(usr1_pid.ok() && usr2_pid.ok());

  std::optional<TaskExit> exit = wait_for_exit("usr1");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->code, SIGUSR1);
  EXPECT_EQ(exit->message, "killed by signal 10 (SIGUSR1)");
  exit = wait_for_exit("usr2");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->code, SIGUSR2);
}

TEST_F(ProcessExecutorTest, DoesNotLeakTheAgentsFileDescriptors) {
  int null_fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(null_fd, 0);
  int leaky_fd = ::fcntl(null_fd, F_DUPFD, 100);  // deliberately without close-on-exec
  ::close(null_fd);
  ASSERT_GE(leaky_fd, 100);
  ProcessSpec spec;
  spec.task_id = "fds";
  spec.sandbox_dir = sandbox("fds").string();
  spec.args = {"/bin/ls", "/proc/self/fd"};
  Result<TaskStarted> pid = executor_->launch(spec);
  ::close(leaky_fd);
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(wait_for_exit("fds"));
  // ls itself has its directory open as fd 3.
  EXPECT_EQ(read_file(sandbox("fds") / "stdout"), "0\n1\n2\n3\n");
}

TEST_F(ProcessExecutorTest, KillSendsSigtermFirst) {
  ASSERT_TRUE(executor_
                  ->launch(shell_spec("term",
                                      "trap 'echo got-term > term; exit 0' TERM; "
                                      "touch ready; while :; do sleep 0.05; done"))
                  .ok());
  ASSERT_TRUE(eventually([&] { return fs::exists(sandbox("term") / "ready"); }));
  ASSERT_TRUE(executor_->kill("term", 10s).ok());
  std::optional<TaskExit> exit = wait_for_exit("term");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_FALSE(exit->signaled) << exit->message;
  EXPECT_EQ(exit->code, 0);
  EXPECT_EQ(read_file(sandbox("term") / "term"), "got-term\n");
}

TEST_F(ProcessExecutorTest, KillSendsSigkillOnlyAfterTheGracePeriod) {
  ManualClock clock;
  executor_.reset();
  executor_ = std::make_unique<ProcessExecutor>(options(), clock);
  ASSERT_TRUE(executor_
                  ->launch(shell_spec("stubborn",
                                      "trap '' TERM; touch ready; while :; do sleep 0.05; done"))
                  .ok());
  ASSERT_TRUE(eventually([&] { return fs::exists(sandbox("stubborn") / "ready"); }));
  ASSERT_TRUE(executor_->kill("stubborn", 30s).ok());

  // The clock has not moved: the task ignores SIGTERM and nothing else has been sent.
  EXPECT_FALSE(wait_for_exit("stubborn", 300ms));
  clock.advance(29s);
  EXPECT_FALSE(wait_for_exit("stubborn", 100ms));
  clock.advance(1s);
  std::optional<TaskExit> exit = wait_for_exit("stubborn");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->killed_by_us);
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->code, SIGKILL);
  EXPECT_EQ(exit->message, "killed by signal 9 (SIGKILL)");
}

TEST_F(ProcessExecutorTest, KillTakesDownGrandchildrenIncludingOnesInTheirOwnSession) {
  if (!executor_->memory_limits_enforced()) {
    GTEST_SKIP() << "needs the task's memory cgroup to find a process that left the session ("
                 << executor_->isolation_summary() << ")";
  }
  Result<TaskStarted> pid =
      executor_->launch(shell_spec("tree",
                                   "sleep 60 & echo $! > child.pid; "
                                   "setsid sh -c 'echo $$ > escaped.pid; exec sleep 60' & wait"));
  ASSERT_TRUE(pid.ok());
  int child = wait_for_pid_file(sandbox("tree") / "child.pid");
  int escaped = wait_for_pid_file(sandbox("tree") / "escaped.pid");
  ASSERT_GT(child, 0);
  ASSERT_GT(escaped, 0);
  ASSERT_NE(::getsid(escaped), pid->pid) << "the escaped process is still in the task's session";

  ASSERT_TRUE(executor_->kill("tree", 2s).ok());
  ASSERT_TRUE(wait_for_exit("tree"));
  EXPECT_TRUE(eventually([&] { return !alive(child); })) << "child " << child << " survived";
  EXPECT_TRUE(eventually([&] { return !alive(escaped); })) << "escaped " << escaped << " survived";
}

TEST_F(ProcessExecutorTest, KillsWhatIsLeftOfTheTreeWhenTheMainProcessExits) {
  ASSERT_TRUE(
      executor_->launch(shell_spec("leftover", "sleep 60 & echo $! > bg.pid; exit 0")).ok());
  std::optional<TaskExit> exit = wait_for_exit("leftover");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
  EXPECT_FALSE(exit->killed_by_us);
  int background = wait_for_pid_file(sandbox("leftover") / "bg.pid");
  ASSERT_GT(background, 0);
  EXPECT_TRUE(eventually([&] { return !alive(background); }));
}

TEST_F(ProcessExecutorTest, PutsTheTaskInItsOwnMemoryCgroupAndRemovesItAfterwards) {
  if (!executor_->memory_limits_enforced()) {
    GTEST_SKIP() << "memory cgroup not writable here: " << executor_->isolation_summary();
  }
  ProcessSpec spec = shell_spec("limited", "exec sleep 30");
  spec.mem_mib = 32;
  Result<TaskStarted> pid = executor_->launch(spec);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  std::string cgroup = cgroup_parent() + "/limited";
  EXPECT_EQ(read_file(cgroup + "/memory.limit_in_bytes"), "33554432\n");
  EXPECT_NE(read_file("/proc/" + std::to_string(pid->pid) + "/cgroup")
                .find(":memory:/" + options().cgroup_prefix + "/limited\n"),
            std::string::npos);
  ASSERT_TRUE(executor_->kill("limited", 2s).ok());
  std::optional<TaskExit> exit = wait_for_exit("limited");
  ASSERT_TRUE(exit);
  EXPECT_FALSE(exit->oom_killed);
  EXPECT_TRUE(eventually([&] {
    executor_->poll_exits();
    return !fs::exists(cgroup);
  }));
}

TEST_F(ProcessExecutorTest, KillsATaskThatExceedsItsMemoryLimitAndReportsTheOom) {
  if (!executor_->memory_limits_enforced()) {
    GTEST_SKIP() << "memory cgroup not writable here: " << executor_->isolation_summary();
  }
  // tail keeps everything after the last newline: 64 MiB of zeros against a 16 MiB limit.
  ProcessSpec spec = shell_spec("hungry", "head -c 64M /dev/zero | tail");
  spec.mem_mib = 16;
  ASSERT_TRUE(executor_->launch(spec).ok());
  std::optional<TaskExit> exit = wait_for_exit("hungry");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->oom_killed) << exit->message;
  // sh reports the OOM-killed tail as 128 + SIGKILL.
  EXPECT_TRUE((!exit->signaled && exit->code == 128 + SIGKILL) ||
              (exit->signaled && exit->code == SIGKILL))
      << exit->message;
  EXPECT_NE(exit->message.find("OOM"), std::string::npos) << exit->message;
  EXPECT_FALSE(exit->killed_by_us);
}

TEST_F(ProcessExecutorTest, RunsTasksWithoutLimitsWhereThereIsNoMemoryCgroup) {
  executor_.reset();
  ExecutorOptions missing = options();
  missing.memory_cgroup_root = (dir_ / "no-cgroup").string();
  executor_ = std::make_unique<ProcessExecutor>(missing);
  EXPECT_FALSE(executor_->memory_limits_enforced());
  EXPECT_EQ(executor_->isolation_summary(),
            "memory limits: not enforced (" + missing.memory_cgroup_root + " does not exist)");
  ProcessSpec spec = shell_spec("unlimited", "exit 0");
  spec.mem_mib = 16;
  ASSERT_TRUE(executor_->launch(spec).ok());
  ASSERT_TRUE(wait_for_exit("unlimited"));

  ExecutorOptions plain_dir = options();
  plain_dir.memory_cgroup_root = dir_.string();
  EXPECT_EQ(ProcessExecutor(plain_dir).isolation_summary(),
            "memory limits: not enforced (" + dir_.string() +
                " is not a cgroup v1 memory hierarchy (no memory.limit_in_bytes))");
}

TEST_F(ProcessExecutorTest, SummaryNamesTheCgroupInUse) {
  if (!executor_->memory_limits_enforced()) {
    GTEST_SKIP() << "memory cgroup not writable here: " << executor_->isolation_summary();
  }
  EXPECT_EQ(executor_->isolation_summary(), "memory limits: cgroup v1 at " + cgroup_parent());
}

TEST_F(ProcessExecutorTest, RejectsInvalidTaskIdsBeforeTouchingTheDisk) {
  for (const std::string& id : std::vector<std::string>{
           "", ".", "..", "a/b", "../escape", "with space", "semi;colon", std::string(201, 'x')}) {
    ProcessSpec spec = shell_spec("valid", "exit 0");
    spec.task_id = id;
    Result<TaskStarted> pid = executor_->launch(spec);
    ASSERT_FALSE(pid.ok()) << "accepted '" << id << "'";
    EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(pid.error().message.find("'" + id.substr(0, 200)), std::string::npos)
        << pid.error().message;
  }
  EXPECT_FALSE(fs::exists(sandbox("valid")));
  ASSERT_TRUE(executor_->launch(shell_spec(std::string(194, 'y') + ".a_b-1", "exit 0")).ok());
}

TEST_F(ProcessExecutorTest, RejectsASpecWithNeitherCmdNorArgs) {
  ProcessSpec spec = shell_spec("nothing", "");
  spec.cmd.reset();
  Result<TaskStarted> pid = executor_->launch(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(pid.error().message.find("neither cmd nor args"), std::string::npos);

  spec = shell_spec("negative", "exit 0");
  spec.mem_mib = -1;
  pid = executor_->launch(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ProcessExecutorTest, ReportsAProgramThatCannotBeFound) {
  ProcessSpec spec;
  spec.task_id = "missing";
  spec.sandbox_dir = sandbox("missing").string();
  spec.args = {"berth-no-such-program", "--flag"};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  Result<TaskStarted> pid = executor_->launch(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(pid.error().message,
            "task 'missing': cannot execute 'berth-no-such-program' (looked in "
            "PATH=/usr/bin:/bin): No such file or directory");
  EXPECT_TRUE(executor_->running().empty());
  EXPECT_TRUE(executor_->poll_exits().empty());
  // The user reading the task's stderr sees why it never ran.
  EXPECT_NE(read_file(sandbox("missing") / "stderr").find("berth-no-such-program"),
            std::string::npos);
  // The id is free again.
  spec.args = {"true"};
  EXPECT_TRUE(executor_->launch(spec).ok());
}

TEST_F(ProcessExecutorTest, RejectsASecondTaskWithARunningId) {
  ASSERT_TRUE(executor_->launch(shell_spec("once", "exec sleep 30")).ok());
  Result<TaskStarted> again = executor_->launch(shell_spec("once", "exit 0"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  Status unknown = executor_->kill("never-launched", 1s);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

// ---- Marathon's `user` ----

TEST_F(ProcessExecutorTest, RunsATaskAsItsUserWithThatUsersGroups) {
  if (::geteuid() != 0) GTEST_SKIP() << "running a task as another user needs root";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "this machine has no user nobody";
  uid_t uid = nobody->pw_uid;
  gid_t gid = nobody->pw_gid;
  ProcessSpec spec =
      shell_spec("as-nobody", "id -u; id -g; id -G; echo by-name >> stdout; touch made");
  spec.user = "nobody";
  ASSERT_TRUE(executor_->launch(spec).ok());
  std::optional<TaskExit> exit = wait_for_exit("as-nobody");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0) << read_file(sandbox("as-nobody") / "stderr");
  std::string id = std::to_string(uid) + "\n" + std::to_string(gid) + "\n";
  EXPECT_EQ(read_file(sandbox("as-nobody") / "stdout"), id + std::to_string(gid) + "\nby-name\n");
  struct stat made {};
  ASSERT_EQ(::stat((sandbox("as-nobody") / "made").c_str(), &made), 0);
  EXPECT_EQ(made.st_uid, uid);
}

TEST_F(ProcessExecutorTest, ATaskCannotRemoveTheAgentsFilesFromItsSandbox) {
  if (::geteuid() != 0) GTEST_SKIP() << "running a task as another user needs root";
  fs::create_directories(sandbox("tamper"));
  std::ofstream(sandbox("tamper") / ".berth-lease-deadline") << "42\n";
  ProcessSpec spec = shell_spec("tamper",
                                "echo 99 > forged; mv -f forged .berth-lease-deadline || "
                                "rm -f .berth-lease-deadline || rm -f stdout || exit 0; exit 3");
  spec.user = "nobody";
  ASSERT_TRUE(executor_->launch(spec).ok());
  std::optional<TaskExit> exit = wait_for_exit("tamper");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0) << "the task replaced or removed a file of the agent";
  EXPECT_EQ(read_file(sandbox("tamper") / ".berth-lease-deadline"), "42\n");
  EXPECT_TRUE(fs::exists(sandbox("tamper") / "stdout"));
}

TEST_F(ProcessExecutorTest, AnUnknownUserFailsNamingTheUserAndTheNode) {
  use_task_users({"", true, "agent-2"});
  ProcessSpec spec = shell_spec("unknown", "exit 0");
  spec.user = "berth-no-such-user";
  Result<TaskStarted> pid = executor_->launch(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(pid.error().message,
            "task 'unknown': user 'berth-no-such-user' does not exist on agent-2: create it "
            "there, or set the app's `user` to one that exists");
  EXPECT_TRUE(executor_->running().empty());
}

TEST_F(ProcessExecutorTest, RootIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "a non-root executor runs tasks only as itself";
  use_task_users({"", false, "agent-2"});
  ProcessSpec spec = shell_spec("as-root", "exit 0");
  spec.user = "root";
  Result<TaskStarted> pid = executor_->launch(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(pid.error().message.find("user 'root' is uid 0"), std::string::npos)
      << pid.error().message;
  EXPECT_NE(pid.error().message.find("--allow-root-tasks"), std::string::npos)
      << pid.error().message;
  // A default user that is root is refused too.
  use_task_users({"root", false, "agent-2"});
  Result<TaskStarted> default_root = executor_->launch(shell_spec("default-root", "exit 0"));
  ASSERT_FALSE(default_root.ok());
  EXPECT_EQ(default_root.error().code, ErrorCode::kPermissionDenied);
  use_task_users({"", true, "agent-2"});
  ASSERT_TRUE(executor_->launch(spec).ok());
  std::optional<TaskExit> exit = wait_for_exit("as-root");
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
}

TEST_F(ProcessExecutorTest, ATaskWithoutAUserRunsAsNobodyOnARootAgentByDefault) {
  if (::geteuid() != 0) GTEST_SKIP() << "a non-root executor runs tasks only as itself";
  use_task_users(TaskUserPolicy{});
  ASSERT_TRUE(executor_->launch(shell_spec("default", "id -un")).ok());
  std::optional<TaskExit> exit = wait_for_exit("default");
  ASSERT_TRUE(exit);
  EXPECT_EQ(read_file(sandbox("default") / "stdout"), "nobody\n");
}

TEST(TaskUser, AContainerRunsAsTheAppsUserAndNeverAsRootUnlessAllowed) {
  TaskUserPolicy strict{"", false, "agent-7"};
  EXPECT_EQ(*container_user("postgres", strict), "postgres")
      << "a name is resolved by Docker, in the image";
  EXPECT_EQ(*container_user("1000:1000", strict), "1000:1000");
  for (const char* root : {"root", "0", "root:root", "0:0"}) {
    auto refused = container_user(root, strict);
    ASSERT_FALSE(refused.ok()) << root;
    EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(refused.error().message.find("--allow-root-tasks"), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find("agent-7"), std::string::npos)
        << refused.error().message;
  }
  auto nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(*container_user("", strict),
            std::to_string(nobody->pw_uid) + ":" + std::to_string(nobody->pw_gid))
      << "no user and no root: nobody, by number, so the image need not know the name";
  TaskUserPolicy relaxed{"", true, "agent-7"};
  EXPECT_EQ(*container_user("root", relaxed), "root");
  EXPECT_EQ(*container_user("", relaxed), "") << "with root allowed, the image's own user";
  TaskUserPolicy root_default{"root", false, "agent-7"};
  EXPECT_FALSE(container_user("", root_default).ok()) << "a root default user is still root";
}

TEST(TaskUser, ANonRootAgentRunsTasksOnlyAsItself) {
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  uid_t agent = nobody->pw_uid;  // an agent running as nobody
  Result<TaskUser> itself = resolve_task_user("", TaskUserPolicy{}, agent);
  ASSERT_TRUE(itself.ok()) << itself.error().message;
  EXPECT_EQ(itself->name, "nobody");
  EXPECT_FALSE(itself->switch_identity);
  EXPECT_TRUE(resolve_task_user("nobody", TaskUserPolicy{}, agent).ok());
  Result<TaskUser> other = resolve_task_user("root", {"", true, "agent-2"}, agent);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(
      other.error().message,
      "cannot run a task as user 'root': the agent on agent-2 runs as 'nobody', not root, "
      "and can only run tasks as that user; run the agent as root or change the app's `user`");
}

TEST(TaskUser, AHealthCheckCommandWrappedForTheUserRunsAsTheUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "running a command as another user needs root";
  Result<TaskUser> nobody = resolve_task_user("nobody", TaskUserPolicy{}, 0);
  ASSERT_TRUE(nobody.ok()) << nobody.error().message;
  std::string command = command_as_user(*nobody, "echo \"it's $(id -u)\"");
  FILE* shell = ::popen(command.c_str(), "r");
  ASSERT_NE(shell, nullptr);
  char line[64] = {};
  ASSERT_NE(std::fgets(line, sizeof line, shell), nullptr);
  EXPECT_EQ(::pclose(shell), 0);
  EXPECT_EQ(std::string(line), "it's " + std::to_string(nobody->uid) + "\n");
  // The agent's own user needs no wrapper.
  TaskUser self;
  EXPECT_EQ(command_as_user(self, "true"), "true");
}

TEST_F(ProcessExecutorTest, KillAllNowKillsEveryTaskAndReportsEachOnce) {
  ASSERT_TRUE(executor_->launch(shell_spec("one", "trap '' TERM; exec sleep 30")).ok());
  ASSERT_TRUE(executor_->launch(shell_spec("two", "sleep 30 & wait")).ok());
  executor_->kill_all_now();
  EXPECT_TRUE(executor_->running().empty());
  std::vector<TaskExit> exits = executor_->poll_exits();
  ASSERT_EQ(exits.size(), 2u);
  for (const TaskExit& exit : exits) {
    EXPECT_TRUE(exit.killed_by_us);
    EXPECT_TRUE(exit.signaled);
    EXPECT_EQ(exit.code, SIGKILL);
  }
  EXPECT_TRUE(executor_->poll_exits().empty());
  EXPECT_EQ(executor_->kill("one", 1s).error().code, ErrorCode::kNotFound);
}

TEST_F(ProcessExecutorTest, LaunchesAndReapsFromSeveralThreadsReportingEachExitOnce) {
  constexpr int kThreads = 4;
  constexpr int kTasksEach = 5;
  std::mutex mu;
  std::vector<TaskExit> exits;
  auto collect = [&] {
    std::vector<TaskExit> polled = executor_->poll_exits();
    std::lock_guard lock(mu);
    for (TaskExit& exit : polled) exits.push_back(std::move(exit));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTasksEach; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(executor_->launch(shell_spec(id, "exit " + std::to_string(i))).ok());
        collect();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(eventually([&] {
    collect();
    return executor_->running().empty();
  }));
  collect();
  std::map<std::string, int> codes;
  for (const TaskExit& exit : exits) {
    EXPECT_TRUE(codes.emplace(exit.task_id, exit.code).second) << exit.task_id << " twice";
  }
  ASSERT_EQ(codes.size(), static_cast<size_t>(kThreads * kTasksEach));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kTasksEach; ++i) {
      EXPECT_EQ(codes["t" + std::to_string(t) + "-" + std::to_string(i)], i);
    }
  }
}

}  // namespace
}  // namespace berth

#include "executor/leftovers.h"

namespace berth {

TEST(Leftovers, KillsOnlyProcessesWhoseSandboxIsUnderTheDirectory) {
  char tmpl[] = "/tmp/berth-leftovers-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto start = [&](const std::string& sandbox) {
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string var = "MESOS_SANDBOX=" + sandbox;
      char* envp[] = {var.data(), nullptr};
      char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("30"), nullptr};
      ::execve("/bin/sleep", argv, envp);
      ::_exit(127);
    }
    return pid;
  };
  pid_t inside = start(dir + "/sandboxes/t1");
  pid_t outside = start(dir + "-other/sandboxes/t1");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let both exec
  EXPECT_EQ(kill_tasks_under(dir), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(inside, &status, 0), inside);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(::waitpid(outside, &status, WNOHANG), 0)
      << "a process outside the directory was killed";
  ::kill(outside, SIGKILL);
  ::waitpid(outside, &status, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace berth

namespace berth {

TEST(BindMounts, ATaskSeesItsVolumeAtItsContainerPathAndTheHostDoesNot) {
  if (::geteuid() != 0) GTEST_SKIP() << "bind mounts in a private mount namespace need root";
  char tmpl[] = "/tmp/berth-bind-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string volume = dir + "/volume";
  std::filesystem::create_directories(volume);
  std::string target = "/tmp/berth-bind-target-" + std::to_string(::getpid()) + "/data";
  ExecutorOptions options;
  options.cgroup_prefix = "berth-bind-test-" + std::to_string(::getpid());
  options.task_users = {"root", true, "this node"};  // the volume is root's
  ProcessExecutor executor(options);
  ProcessSpec spec;
  spec.task_id = "bind-task";
  spec.sandbox_dir = dir + "/sandbox";
  spec.cmd =
      "echo written-inside > " + target + "/file && grep -q " + target + " /proc/self/mountinfo";
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  spec.bind_mounts = {{volume, target}};
  ASSERT_TRUE(executor.launch(spec).ok());
  std::vector<TaskExit> exits;
  for (int i = 0; i < 100 && exits.empty(); ++i) {
    exits = executor.poll_exits();
    if (exits.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].code, 0) << exits[0].message;
  std::ifstream in(volume + "/file");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "written-inside");
  // The mount lived only in the task's namespace.
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::stringstream all;
  all << mountinfo.rdbuf();
  EXPECT_EQ(all.str().find(target), std::string::npos);
  std::filesystem::remove_all("/tmp/berth-bind-target-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
}

}  // namespace berth
