#include "agent/task_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "agent/http_answers.h"

namespace berth::agent {
namespace {

const std::string kPathPrefix = "/berth/v1/tasks/";
const std::string kPathSuffix = "/logs";

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The whole of `text` as a decimal integer, or nullopt ("", "+1", "1x" and overflow included).
template <typename Integer>
std::optional<Integer> parse_integer(const std::string& text) {
  Integer value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The task id of "/berth/v1/tasks/{id}/logs", or nullopt for any other path.
std::optional<std::string> task_id_of(const std::string& path) {
  if (path.size() <= kPathPrefix.size() + kPathSuffix.size() || path.rfind(kPathPrefix, 0) != 0 ||
      path.compare(path.size() - kPathSuffix.size(), kPathSuffix.size(), kPathSuffix) != 0) {
    return std::nullopt;
  }
  std::string id =
      path.substr(kPathPrefix.size(), path.size() - kPathPrefix.size() - kPathSuffix.size());
  if (id.find('/') != std::string::npos) return std::nullopt;
  return id;
}

struct LogQuery {
  int stream = kStdoutStream;
  int64_t offset = 0;
  uint64_t length = kDefaultLogLengthBytes;
};

Result<LogQuery> parse_query(const http::Request& request) {
  LogQuery query;
  const std::string stream = request.query_value("stream", "stdout");
  if (stream == "stderr") {
    query.stream = kStderrStream;
  } else if (stream != "stdout") {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad stream '" + stream + "': give stdout or stderr");
  }
  if (request.query.count("offset") != 0) {
    const std::string text = request.query_value("offset");
    auto offset = parse_integer<int64_t>(text);
    if (!offset) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "bad offset '" + text + "': give a byte offset, negative to count back from the end");
    }
    query.offset = *offset;
  }
  if (request.query.count("length") != 0) {
    const std::string text = request.query_value("length");
    auto length = parse_integer<uint64_t>(text);
    if (!length) {
      return make_error(ErrorCode::kInvalidArgument,
                        "bad length '" + text +
                            "': give the most bytes wanted, a whole number up to " +
                            std::to_string(kMaxLogLengthBytes));
    }
    query.length = std::min(*length, kMaxLogLengthBytes);
  }
  return query;
}

struct LogRange {
  std::string bytes;
  uint64_t start = 0;
  uint64_t size = 0;
};

Result<LogRange> read_range(const TaskLogInfo& info, const LogQuery& query) {
  LogRange range;
  if (info.read_stream) {
    auto text = info.read_stream(query.stream);
    if (!text.ok()) return text.error();
    range.size = text->size();
    range.start = resolve_log_offset(query.offset, range.size);
    range.bytes = text->substr(range.start, query.length);
    return range;
  }
  const std::string& path = query.stream == kStderrStream ? info.stderr_path : info.stdout_path;
  auto bytes = read_file_range(path, query.offset, query.length, &range.size);
  if (!bytes.ok()) {
    if (bytes.error().code == ErrorCode::kNotFound) return range;  // nothing written yet
    return bytes.error();
  }
  range.start = resolve_log_offset(query.offset, range.size);
  range.bytes = std::move(bytes).value();
  return range;
}

}  // namespace

TaskLogSource::~TaskLogSource() = default;

uint64_t resolve_log_offset(int64_t offset, uint64_t size) {
  if (offset >= 0) return std::min(static_cast<uint64_t>(offset), size);
  // -offset cannot be taken for INT64_MIN; its magnitude is 2^63.
  const uint64_t back = offset == INT64_MIN ? (uint64_t{1} << 63) : static_cast<uint64_t>(-offset);
  return back >= size ? 0 : size - back;
}

Result<std::string> read_file_range(const std::string& path, int64_t offset, uint64_t length,
                                    uint64_t* size) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == ENOENT) return make_error(ErrorCode::kNotFound, "no file " + path);
    return make_error(ErrorCode::kInternal, "cannot open " + path + ": " + std::strerror(error));
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    return make_error(ErrorCode::kInternal, "cannot stat " + path + ": " + std::strerror(errno));
  }
  *size = static_cast<uint64_t>(status.st_size);
  const uint64_t start = resolve_log_offset(offset, *size);
  std::string bytes(std::min(length, *size - start), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd.get(), bytes.data() + done, bytes.size() - done,
                        static_cast<off_t>(start + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return make_error(ErrorCode::kInternal, "cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;  // the file shrank since fstat
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

http::Response task_logs_response(const http::Request& request, TaskLogSource& source) {
  auto task_id = task_id_of(request.path);
  if (!task_id) return message_response(404, "no such endpoint: " + request.path);
  if (request.method != "GET") {
    return message_response(
        405, "method " + request.method + " not allowed on " + request.path + ": use GET");
  }
  auto query = parse_query(request);
  if (!query.ok()) return message_response(400, query.error().message);
  // Whether the task is done is taken before reading, so that a done answer carries every
  // byte up to the final size.
  auto info = source.find(*task_id);
  if (!info) return message_response(404, "task " + *task_id + " is not on this node");
  auto range = read_range(*info, *query);
  if (!range.ok()) {
    return message_response(
        status_of(range.error().code),
        "cannot read the logs of task " + *task_id + ": " + range.error().message);
  }
  http::Response response;
  response.content_type = "text/plain";
  response.headers = {{"X-Berth-Log-Offset", std::to_string(range->start + range->bytes.size())},
                      {"X-Berth-Log-Size", std::to_string(range->size)},
                      {"X-Berth-Task-Done", info->done ? "true" : "false"}};
  response.body = std::move(range->bytes);
  return response;
}

}  // namespace berth::agent
