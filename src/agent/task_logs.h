// Task logs on an agent: the answer to GET /berth/v1/tasks/{task_id}/logs, which `berth task
// logs` sends to the master and the master forwards, path and query unchanged, to the agent
// running the task. The agent's HTTP server calls task_logs_response() with a TaskLogSource
// that knows the agent's tasks; this file only reads bytes and shapes the answer.
//
// Query: stream=stdout|stderr (default stdout); offset=N, the first byte wanted (default 0;
// negative counts back from the end: -100 is the last 100 bytes); length=M, the most bytes
// wanted (default 1 MiB; more than 8 MiB is served as 8 MiB). An offset past the end gives an
// empty body that ends at the end.
// Answer: 200 text/plain with the bytes, and headers X-Berth-Log-Offset (the offset of the
// byte after the body: where the next poll starts), X-Berth-Log-Size (the stream's size when
// read) and X-Berth-Task-Done (true once the task has ended and the stream cannot grow).
// 404 {"message"} for a task this agent does not know; 400 {"message"} naming the bad
// parameter; 503 or 500 {"message"} when the bytes cannot be read.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/result.h"
#include "http/http.h"

namespace berth::agent {

// Stream numbers, as in Docker's multiplexed log format.
inline constexpr int kStdoutStream = 1;
inline constexpr int kStderrStream = 2;

inline constexpr uint64_t kDefaultLogLengthBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMaxLogLengthBytes = uint64_t{8} << 20;

// Where the output of one task can be read.
struct TaskLogInfo {
  // The task's <sandbox>/stdout and <sandbox>/stderr: process tasks, and Docker tasks once
  // they have ended (their output is saved there). A file that does not exist yet reads as
  // an empty stream: the task has not written anything.
  std::string stdout_path;
  std::string stderr_path;
  // When set, used instead of the files: the whole current text of a stream (kStdoutStream or
  // kStderrStream), e.g. from Docker's logs of a running container. kNotFound answers 404,
  // kUnavailable 503 and any other error 500, with the error's message.
  std::function<Result<std::string>(int stream)> read_stream;
  // The task has ended and its streams will not grow any more. find() must say so only once
  // the final bytes are readable, since a follower stops when it has read up to the size it
  // was given along with done = true.
  bool done = false;
};

// The agent's tasks, as far as their logs go. Implemented by the agent; tests use a fake.
class TaskLogSource {
 public:
  virtual ~TaskLogSource();
  // Where the logs of `task_id` are, or nullopt when this agent does not have that task (any
  // more). Called from HTTP server threads: implementations must be thread-safe.
  virtual std::optional<TaskLogInfo> find(const std::string& task_id) = 0;
};

// Where a read asking for `offset` starts in a stream of `size` bytes: `offset`, at most
// `size`; a negative offset counts back from `size`, down to 0.
uint64_t resolve_log_offset(int64_t offset, uint64_t size);

// Reads at most `length` bytes of the file at `path` from resolve_log_offset(offset, size)
// with pread, without reading the rest of the file, and sets *size to the file's size when it
// was read (the bytes returned end at or before it). kNotFound when the file does not exist;
// kInternal, naming the path and the reason, when it cannot be opened or read.
Result<std::string> read_file_range(const std::string& path, int64_t offset, uint64_t length,
                                    uint64_t* size);

// The answer to `request` (GET /berth/v1/tasks/{task_id}/logs?...; other paths get 404 and
// other methods 405). Looks the task up in `source` once and reads only the bytes it serves.
http::Response task_logs_response(const http::Request& request, TaskLogSource& source);

}  // namespace berth::agent
