// `berth events`: the master's event stream (/v2/events, Marathon's SSE) printed live, one
// line per event: what the master decided (tasks launched, lost, killed, failed with their
// reason; deployments; health) as it happens.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command_context.h"

namespace berth::cli {

struct EventsOptions {
  std::vector<std::string> types;  // event_type filters; empty = every event
};

int events(const CommandContext& context, const EventsOptions& options);

// Splits Server-Sent Events text into events as it arrives: feed() pieces of the stream in
// any split, take the complete (type, data) pairs it returns. Comments (keep-alives) and
// events without data are skipped.
class SseParser {
 public:
  struct Event {
    std::string type;
    std::string data;
  };
  std::vector<Event> feed(std::string_view piece);

 private:
  std::string pending_;  // an incomplete line
  Event current_;
};

// One line for an event: its time, its type and what it says (task, state, reason, host...).
std::string describe_event(const std::string& type, const nlohmann::json& data);

}  // namespace berth::cli
