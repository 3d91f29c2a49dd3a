#include "cli/task_logs_command.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string_view>

#include "http/http.h"

namespace berth::cli {
namespace {

constexpr std::chrono::milliseconds kFollowInterval{500};
// The most one answer of the agent holds (agent/task_logs.h, kMaxLogLengthBytes).
constexpr uint64_t kMaxAnswerBytes = uint64_t{8} << 20;
// --tail N first asks for max(64 KiB, N * 512 bytes) and reads further back while that holds
// fewer than N lines, up to 64 MiB in all.
constexpr uint64_t kMinTailWindowBytes = uint64_t{64} << 10;
constexpr uint64_t kTailBytesPerLine = 512;
constexpr uint64_t kMaxTailBytes = uint64_t{64} << 20;

std::optional<uint64_t> parse_offset(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// One answer: `bytes` are the stream's bytes [start, end) of `size` when read.
struct LogPage {
  std::string bytes;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t size = 0;
  bool done = false;  // the task has ended: the stream will not grow
};

class LogReader {
 public:
  LogReader(const CommandContext& context, const std::string& task_id, bool stderr_stream)
      : context_(context),
        task_id_(task_id),
        base_target_("/berth/v1/tasks/" + http::percent_encode(task_id) +
                     "/logs?stream=" + (stderr_stream ? "stderr" : "stdout")) {}

  // One request; a failure has been reported when it returns nullopt. Without `length` the
  // agent's default applies.
  std::optional<LogPage> fetch(int64_t offset,
                               std::optional<uint64_t> length = std::nullopt) const {
    std::string target = base_target_ + "&offset=" + std::to_string(offset);
    if (length) target += "&length=" + std::to_string(*length);
    auto answer = call_or_report(context_, "GET", target);
    if (!answer) return std::nullopt;
    auto end = parse_offset(answer->header("x-berth-log-offset"));
    auto size = parse_offset(answer->header("x-berth-log-size"));
    if (!end || !size || *end < answer->body.size()) {
      context_.err
          << "the master's answer to GET " << target
          << " lacks valid X-Berth-Log-Offset and X-Berth-Log-Size headers; do the master and "
             "the agent run an older berth than this client?\n";
      return std::nullopt;
    }
    LogPage page;
    page.bytes = std::move(answer->body);
    page.end = *end;
    page.start = *end - page.bytes.size();
    page.size = *size;
    page.done = answer->header("x-berth-task-done") == "true";
    return page;
  }

  // The bytes [from, to), in as many requests as the agent's limit on one answer needs.
  std::optional<std::string> fetch_range(uint64_t from, uint64_t to) const {
    std::string bytes;
    while (from < to) {
      auto page = fetch(static_cast<int64_t>(from), std::min(to - from, kMaxAnswerBytes));
      if (!page) return std::nullopt;
      if (page->bytes.empty() || page->start != from || page->end > to) {
        context_.err << "the log of task " << task_id_
                     << " changed while it was being read; try again\n";
        return std::nullopt;
      }
      bytes += page->bytes;
      from = page->end;
    }
    return bytes;
  }

 private:
  const CommandContext& context_;
  std::string task_id_;
  std::string base_target_;
};

void print(const CommandContext& context, std::string_view bytes) {
  if (bytes.empty()) return;
  context.out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  context.out.flush();
}

// Prints the last `lines` lines of the stream as it is now and returns the answer that ended
// there, for a follower to go on from.
std::optional<LogPage> print_tail(const CommandContext& context, const LogReader& reader,
                                  int64_t lines) {
  const uint64_t count = static_cast<uint64_t>(lines);
  const uint64_t window = count >= kMaxAnswerBytes / kTailBytesPerLine
                              ? kMaxAnswerBytes
                              : std::max(kMinTailWindowBytes, count * kTailBytesPerLine);
  auto last = reader.fetch(-static_cast<int64_t>(window), window);
  if (!last) return std::nullopt;
  if (last->end < last->size) {  // the agent answered less than asked: read on to the end
    auto rest = reader.fetch_range(last->end, last->size);
    if (!rest) return std::nullopt;
    last->bytes += *rest;
    last->end = last->size;
  }
  std::string text = last->bytes;
  uint64_t start = last->start;
  std::optional<size_t> from = tail_start(text, lines);
  while (!from && start > 0) {
    if (text.size() >= kMaxTailBytes) {
      context.err << "the last " << lines << " lines hold more than " << (kMaxTailBytes >> 20)
                  << " MiB; showing the last " << (kMaxTailBytes >> 20) << " MiB only\n";
      from = 0;
      break;
    }
    const uint64_t step = std::min(
        {std::max<uint64_t>(text.size(), kMinTailWindowBytes), start, kMaxTailBytes - text.size()});
    auto earlier = reader.fetch_range(start - step, start);
    if (!earlier) return std::nullopt;
    text.insert(0, *earlier);
    start -= step;
    from = tail_start(text, lines);
  }
  print(context, std::string_view(text).substr(from.value_or(0)));
  return last;
}

}  // namespace

std::optional<size_t> tail_start(const std::string& text, int64_t lines) {
  if (lines <= 0) return text.size();
  size_t position = text.size();
  if (position > 0 && text[position - 1] == '\n') --position;  // the last line's own newline
  for (int64_t line = 0; line < lines; ++line) {
    if (position == 0) return std::nullopt;
    const size_t newline = text.rfind('\n', position - 1);
    if (newline == std::string::npos) return std::nullopt;
    position = newline;
  }
  return position + 1;
}

int task_logs(const CommandContext& context, const std::string& task_id,
              const TaskLogsOptions& options) {
  LogReader reader(context, task_id, options.stderr_stream);
  uint64_t offset = 0;
  if (options.tail_lines) {
    auto tail = print_tail(context, reader, *options.tail_lines);
    if (!tail) return kExitFailure;
    if (!options.follow) return kExitOk;
    offset = tail->end;
  }
  // Without --follow, what the stream held when first asked.
  std::optional<uint64_t> stop_at;
  while (true) {
    auto page = reader.fetch(static_cast<int64_t>(offset));
    if (!page) return kExitFailure;
    print(context, page->bytes);
    offset = page->end;
    if (!stop_at) stop_at = page->size;
    const bool drained = page->bytes.empty() || page->end >= page->size;
    if (!options.follow) {
      if (drained || offset >= *stop_at) return kExitOk;
      continue;
    }
    if (drained) {
      if (page->done) return kExitOk;
      context.env.sleep_for(kFollowInterval);
    }
  }
}

}  // namespace berth::cli
