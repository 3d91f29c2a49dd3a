// `berth task logs`: prints a task's stdout or stderr, byte for byte, as the agent running it
// keeps it. Reads GET /berth/v1/tasks/{id}/logs?stream=&offset=&length= from the master, which
// forwards it to the task's agent (see agent/task_logs.h for the answer's headers). Called by
// client_commands.cpp once the command line is parsed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "cli/command_context.h"

namespace berth::cli {

struct TaskLogsOptions {
  bool stderr_stream = false;  // stderr instead of stdout
  // Keep polling every 0.5 s from where the last answer ended, until the task has ended and
  // everything it wrote has been printed (or the user interrupts).
  bool follow = false;
  // Only the last N lines of what the stream holds when asked.
  std::optional<int64_t> tail_lines;
};

// Returns kExitOk, or kExitFailure when the master refused (unknown task, agent unreachable)
// or could not be reached; the reason is on context.err. Output already printed stays.
int task_logs(const CommandContext& context, const std::string& task_id,
              const TaskLogsOptions& options);

// Where the last `lines` lines of `text` begin. A final line without a newline counts as a
// line. nullopt when `text` holds too few line breaks to tell: a byte before it may still
// belong to the first of those lines (when `text` is the whole stream, all of it is wanted).
std::optional<size_t> tail_start(const std::string& text, int64_t lines);

}  // namespace berth::cli
