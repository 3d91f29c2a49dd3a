// Task logs: read_file_range against real files in a temporary directory, and the
// /berth/v1/tasks/{id}/logs answer against a fake TaskLogSource (files and a running
// Docker task's text).
#include "agent/task_logs.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berth::agent {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/berth-task-logs-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    path_ = made == nullptr ? "" : made;
  }
  ~TempDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void append(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::app);
  file << bytes;
}

class FakeTaskLogSource final : public TaskLogSource {
 public:
  std::optional<TaskLogInfo> find(const std::string& task_id) override {
    ++finds_;
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return std::nullopt;
    return it->second;
  }

  void add(const std::string& task_id, TaskLogInfo info) { tasks_[task_id] = std::move(info); }
  TaskLogInfo& task(const std::string& task_id) { return tasks_.at(task_id); }
  int finds() const { return finds_; }

 private:
  std::map<std::string, TaskLogInfo> tasks_;
  int finds_ = 0;
};

http::Request logs_request(const std::string& target) {
  http::Request request;
  request.method = "GET";
  request.target = target;
  http::split_target(target, &request.path, &request.query);
  return request;
}

std::string header(const http::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<missing>";
}

std::string message(const http::Response& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  return body.is_object() ? body.value("message", "<no message>")
                          : "<not json: " + response.body + ">";
}

class TaskLogsTest : public ::testing::Test {
 protected:
  TaskLogsTest() {
    source_.add("web.1", {dir_.file("stdout"), dir_.file("stderr"), nullptr, false});
  }

  http::Response get(const std::string& target) {
    return task_logs_response(logs_request(target), source_);
  }

  TempDir dir_;
  FakeTaskLogSource source_;
};

TEST(ReadFileRange, ReadsFromTheOffsetAndReportsTheSize) {
  TempDir dir;
  append(dir.file("out"), "0123456789");
  uint64_t size = 0;
  auto middle = read_file_range(dir.file("out"), 3, 4, &size);
  ASSERT_TRUE(middle.ok()) << middle.error().message;
  EXPECT_EQ(*middle, "3456");
  EXPECT_EQ(size, 10u);
  auto rest = read_file_range(dir.file("out"), 7, 100, &size);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(*rest, "789");
  auto past_end = read_file_range(dir.file("out"), 50, 100, &size);
  ASSERT_TRUE(past_end.ok());
  EXPECT_EQ(*past_end, "");
  EXPECT_EQ(size, 10u);
}

TEST(ReadFileRange, NegativeOffsetsCountBackFromTheEnd) {
  TempDir dir;
  append(dir.file("out"), "0123456789");
  uint64_t size = 0;
  EXPECT_EQ(*read_file_range(dir.file("out"), -3, 100, &size), "789");
  EXPECT_EQ(*read_file_range(dir.file("out"), -3, 2, &size), "78");
  EXPECT_EQ(*read_file_range(dir.file("out"), -100, 100, &size), "0123456789");
  EXPECT_EQ(*read_file_range(dir.file("out"), INT64_MIN, 4, &size), "0123");
}

TEST(ReadFileRange, SeesWhatAGrowingFileAppends) {
  TempDir dir;
  append(dir.file("out"), "first\n");
  uint64_t size = 0;
  EXPECT_EQ(*read_file_range(dir.file("out"), 0, 100, &size), "first\n");
  append(dir.file("out"), "second\n");
  EXPECT_EQ(*read_file_range(dir.file("out"), 6, 100, &size), "second\n");
  EXPECT_EQ(size, 13u);
}

TEST(ReadFileRange, AMissingFileIsNotFound) {
  TempDir dir;
  uint64_t size = 0;
  auto missing = read_file_range(dir.file("nope"), 0, 100, &size);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto directory = read_file_range(dir.path(), 0, 100, &size);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().code, ErrorCode::kInternal);
  EXPECT_NE(directory.error().message.find(dir.path()), std::string::npos)
      << directory.error().message;
}

TEST(ResolveLogOffset, ClampsToTheStream) {
  EXPECT_EQ(resolve_log_offset(0, 10), 0u);
  EXPECT_EQ(resolve_log_offset(4, 10), 4u);
  EXPECT_EQ(resolve_log_offset(10, 10), 10u);
  EXPECT_EQ(resolve_log_offset(11, 10), 10u);
  EXPECT_EQ(resolve_log_offset(-1, 10), 9u);
  EXPECT_EQ(resolve_log_offset(-10, 10), 0u);
  EXPECT_EQ(resolve_log_offset(-11, 10), 0u);
  EXPECT_EQ(resolve_log_offset(INT64_MIN, 10), 0u);
}

TEST_F(TaskLogsTest, ServesStdoutFromTheStartAsPlainText) {
  append(dir_.file("stdout"), "hello\nworld\n");
  append(dir_.file("stderr"), "oops\n");
  auto response = get("/berth/v1/tasks/web.1/logs");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain");
  EXPECT_EQ(response.body, "hello\nworld\n");
  EXPECT_EQ(header(response, "X-Berth-Log-Offset"), "12");
  EXPECT_EQ(header(response, "X-Berth-Log-Size"), "12");
  EXPECT_EQ(header(response, "X-Berth-Task-Done"), "false");
}

TEST_F(TaskLogsTest, StreamStderrServesTheStderrFile) {
  append(dir_.file("stdout"), "hello\n");
  append(dir_.file("stderr"), "oops\n");
  auto response = get("/berth/v1/tasks/web.1/logs?stream=stderr");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "oops\n");
  EXPECT_EQ(header(response, "X-Berth-Log-Size"), "5");
}

TEST_F(TaskLogsTest, OffsetAndLengthPageThroughTheStream) {
  append(dir_.file("stdout"), "0123456789");
  auto first = get("/berth/v1/tasks/web.1/logs?stream=stdout&offset=0&length=4");
  EXPECT_EQ(first.body, "0123");
  EXPECT_EQ(header(first, "X-Berth-Log-Offset"), "4");
  EXPECT_EQ(header(first, "X-Berth-Log-Size"), "10");
  auto second = get("/berth/v1/tasks/web.1/logs?offset=4&length=4");
  EXPECT_EQ(second.body, "4567");
  EXPECT_EQ(header(second, "X-Berth-Log-Offset"), "8");
  auto last = get("/berth/v1/tasks/web.1/logs?offset=8&length=4");
  EXPECT_EQ(last.body, "89");
  EXPECT_EQ(header(last, "X-Berth-Log-Offset"), "10");
  auto beyond = get("/berth/v1/tasks/web.1/logs?offset=25");
  EXPECT_EQ(beyond.status, 200);
  EXPECT_EQ(beyond.body, "");
  EXPECT_EQ(header(beyond, "X-Berth-Log-Offset"), "10");
  auto probe = get("/berth/v1/tasks/web.1/logs?length=0");
  EXPECT_EQ(probe.body, "");
  EXPECT_EQ(header(probe, "X-Berth-Log-Offset"), "0");
  EXPECT_EQ(header(probe, "X-Berth-Log-Size"), "10");
}

TEST_F(TaskLogsTest, NegativeOffsetCountsBackFromTheEnd) {
  append(dir_.file("stdout"), "0123456789");
  auto tail = get("/berth/v1/tasks/web.1/logs?offset=-3");
  EXPECT_EQ(tail.body, "789");
  EXPECT_EQ(header(tail, "X-Berth-Log-Offset"), "10");
  auto window = get("/berth/v1/tasks/web.1/logs?offset=-6&length=2");
  EXPECT_EQ(window.body, "45");
  EXPECT_EQ(header(window, "X-Berth-Log-Offset"), "6");
  auto everything = get("/berth/v1/tasks/web.1/logs?offset=-1000");
  EXPECT_EQ(everything.body, "0123456789");
}

TEST_F(TaskLogsTest, LengthDefaultsToOneMebibyteAndIsCappedAtEight) {
  const uint64_t nine_mib = uint64_t{9} << 20;
  append(dir_.file("stdout"), std::string(nine_mib, 'x'));
  auto by_default = get("/berth/v1/tasks/web.1/logs");
  EXPECT_EQ(by_default.body.size(), kDefaultLogLengthBytes);
  EXPECT_EQ(header(by_default, "X-Berth-Log-Offset"), std::to_string(kDefaultLogLengthBytes));
  EXPECT_EQ(header(by_default, "X-Berth-Log-Size"), std::to_string(nine_mib));
  auto too_much = get("/berth/v1/tasks/web.1/logs?length=" + std::to_string(uint64_t{64} << 20));
  EXPECT_EQ(too_much.status, 200);
  EXPECT_EQ(too_much.body.size(), kMaxLogLengthBytes);
  EXPECT_EQ(header(too_much, "X-Berth-Log-Offset"), std::to_string(kMaxLogLengthBytes));
}

TEST_F(TaskLogsTest, AFollowerSeesWhatTheTaskWritesNext) {
  append(dir_.file("stdout"), "one\n");
  auto first = get("/berth/v1/tasks/web.1/logs");
  EXPECT_EQ(first.body, "one\n");
  const std::string next = header(first, "X-Berth-Log-Offset");
  auto nothing_yet = get("/berth/v1/tasks/web.1/logs?offset=" + next);
  EXPECT_EQ(nothing_yet.body, "");
  EXPECT_EQ(header(nothing_yet, "X-Berth-Log-Offset"), next);
  append(dir_.file("stdout"), "two\n");
  auto second = get("/berth/v1/tasks/web.1/logs?offset=" + next);
  EXPECT_EQ(second.body, "two\n");
  EXPECT_EQ(header(second, "X-Berth-Log-Offset"), "8");
  EXPECT_EQ(header(second, "X-Berth-Log-Size"), "8");
}

TEST_F(TaskLogsTest, DoneSaysTheTaskHasEnded) {
  append(dir_.file("stdout"), "bye\n");
  source_.task("web.1").done = true;
  auto response = get("/berth/v1/tasks/web.1/logs");
  EXPECT_EQ(response.body, "bye\n");
  EXPECT_EQ(header(response, "X-Berth-Task-Done"), "true");
}

TEST_F(TaskLogsTest, ATaskThatWroteNothingYetHasEmptyStreams) {
  auto response = get("/berth/v1/tasks/web.1/logs?stream=stderr&offset=-100");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(header(response, "X-Berth-Log-Offset"), "0");
  EXPECT_EQ(header(response, "X-Berth-Log-Size"), "0");
}

TEST_F(TaskLogsTest, ARunningDockerTaskIsReadThroughItsFunction) {
  std::vector<int> asked;
  TaskLogInfo docker;
  docker.read_stream = [&asked](int stream) -> Result<std::string> {
    asked.push_back(stream);
    return std::string(stream == kStdoutStream ? "container out\n" : "container err\n");
  };
  source_.add("db.1", docker);
  auto out = get("/berth/v1/tasks/db.1/logs?offset=-4&length=3");
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.body, "out");
  EXPECT_EQ(header(out, "X-Berth-Log-Offset"), "13");
  EXPECT_EQ(header(out, "X-Berth-Log-Size"), "14");
  auto err = get("/berth/v1/tasks/db.1/logs?stream=stderr&offset=10");
  EXPECT_EQ(err.body, "err\n");
  auto beyond = get("/berth/v1/tasks/db.1/logs?offset=99");
  EXPECT_EQ(beyond.body, "");
  EXPECT_EQ(header(beyond, "X-Berth-Log-Offset"), "14");
  EXPECT_EQ(asked, (std::vector<int>{kStdoutStream, kStderrStream, kStdoutStream}));
}

TEST_F(TaskLogsTest, ADockerFailureIsReportedWithItsReason) {
  TaskLogInfo docker;
  docker.read_stream = [](int) -> Result<std::string> {
    return make_error(ErrorCode::kUnavailable, "cannot reach dockerd at /var/run/docker.sock");
  };
  source_.add("db.1", docker);
  auto response = get("/berth/v1/tasks/db.1/logs");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(message(response),
            "cannot read the logs of task db.1: cannot reach dockerd at /var/run/docker.sock");
}

// The agent's one error table (agent/http_answers.h): an error of the agent's own reading
// answers by its code, and kInvalidArgument there is the agent's failure, not the caller's.
TEST_F(TaskLogsTest, AReadFailureAnswersByTheAgentsErrorTable) {
  TaskLogInfo removing;
  removing.read_stream = [](int) -> Result<std::string> {
    return make_error(ErrorCode::kConflict, "removal of container db.2 is already in progress");
  };
  source_.add("db.2", removing);
  EXPECT_EQ(get("/berth/v1/tasks/db.2/logs").status, 409);
  TaskLogInfo misconfigured;
  misconfigured.read_stream = [](int) -> Result<std::string> {
    return make_error(ErrorCode::kInvalidArgument,
                      "the Docker socket path '' must be 1 to 107 bytes long");
  };
  source_.add("db.3", misconfigured);
  EXPECT_EQ(get("/berth/v1/tasks/db.3/logs").status, 500);
}

TEST_F(TaskLogsTest, AnUnknownTaskIsNotFound) {
  auto response = get("/berth/v1/tasks/web.9/logs");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(message(response), "task web.9 is not on this node");
}

TEST_F(TaskLogsTest, BadParametersAreRefusedByName) {
  struct Case {
    std::string query;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"stream=stdin", "bad stream 'stdin': give stdout or stderr"},
      {"offset=abc", "bad offset 'abc': give a byte offset, negative to count back from the end"},
      {"offset=", "bad offset '': give a byte offset, negative to count back from the end"},
      {"offset=1.5", "bad offset '1.5': give a byte offset, negative to count back from the end"},
      {"offset=99999999999999999999",
       "bad offset '99999999999999999999': give a byte offset, negative to count "
       "back from the end"},
      {"length=-1", "bad length '-1': give the most bytes wanted, a whole number up to 8388608"},
      {"length=10k", "bad length '10k': give the most bytes wanted, a whole number up to 8388608"},
  };
  for (const auto& c : cases) {
    auto response = get("/berth/v1/tasks/web.1/logs?" + c.query);
    EXPECT_EQ(response.status, 400) << c.query;
    EXPECT_EQ(message(response), c.message) << c.query;
  }
  EXPECT_EQ(source_.finds(), 0) << "bad input is refused before the task is looked up";
}

TEST_F(TaskLogsTest, OtherPathsAndMethodsAreRefused) {
  EXPECT_EQ(get("/berth/v1/tasks/web.1/stats").status, 404);
  EXPECT_EQ(get("/berth/v1/tasks//logs").status, 404);
  EXPECT_EQ(get("/berth/v1/tasks/a/b/logs").status, 404);
  http::Request post = logs_request("/berth/v1/tasks/web.1/logs");
  post.method = "POST";
  EXPECT_EQ(task_logs_response(post, source_).status, 405);
  EXPECT_EQ(source_.finds(), 0);
}

}  // namespace
}  // namespace berth::agent
