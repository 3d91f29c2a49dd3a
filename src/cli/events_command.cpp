#include "cli/events_command.h"

#include "http/http.h"
#include "json/bounded.h"

namespace berth::cli {
namespace {

std::string plan_apps(const nlohmann::json& plan) {
  std::string apps;
  if (plan.is_object() && plan.contains("affectedApps") && plan["affectedApps"].is_array()) {
    for (const auto& app : plan["affectedApps"])
      apps += (apps.empty() ? "" : ",") + scalar_text(app);
  }
  return apps.empty() ? "-" : apps;
}

std::string plan_action(const nlohmann::json& plan) {
  if (!plan.is_object() || !plan.contains("steps") || !plan["steps"].is_array() ||
      plan["steps"].empty())
    return "-";
  const auto& step = plan["steps"][0];
  if (!step.is_object() || !step.contains("actions") || !step["actions"].is_array() ||
      step["actions"].empty()) {
    return "-";
  }
  return text_field(step["actions"][0], "action");
}

}  // namespace

std::vector<SseParser::Event> SseParser::feed(std::string_view piece) {
  std::vector<Event> out;
  pending_.append(piece);
  size_t start = 0;
  for (size_t end; (end = pending_.find('\n', start)) != std::string::npos; start = end + 1) {
    std::string_view line(pending_.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {  // the blank line ends an event
      if (!current_.data.empty()) out.push_back(std::move(current_));
      current_ = {};
      continue;
    }
    if (line.front() == ':') continue;  // a comment: the keep-alive
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") {
      current_.type = std::string(value);
    } else if (field == "data") {
      if (!current_.data.empty()) current_.data += '\n';
      current_.data.append(value);
    }
  }
  pending_.erase(0, start);
  return out;
}

std::string describe_event(const std::string& type, const nlohmann::json& data) {
  std::string when = text_field(data, "timestamp");
  std::string what;
  if (type == "status_update_event") {
    what = "task " + text_field(data, "taskId") + " of " + text_field(data, "appId") + " on " +
           text_field(data, "host") + ": " + text_field(data, "taskStatus");
    std::string message = text_field(data, "message", "");
    if (!message.empty()) what += " (" + message + ")";
  } else if (type == "health_status_changed_event") {
    bool alive = data.is_object() && data.value("alive", false);
    what = "task " + text_field(data, "taskId") + " of " + text_field(data, "appId") +
           (alive ? " healthy" : " unhealthy");
  } else if (type == "deployment_info") {
    const nlohmann::json plan =
        data.is_object() && data.contains("plan") ? data["plan"] : nlohmann::json();
    what = "deployment " + text_field(plan, "id") + " started: " + plan_action(plan) + " " +
           plan_apps(plan);
  } else if (type == "deployment_success" || type == "deployment_failed") {
    const nlohmann::json plan =
        data.is_object() && data.contains("plan") ? data["plan"] : nlohmann::json();
    what = "deployment " + text_field(data, "id") +
           (type == "deployment_success" ? " succeeded: " : " failed: ") + plan_action(plan) + " " +
           plan_apps(plan);
    std::string reason = text_field(data, "reason", "");
    if (!reason.empty()) what += " (" + reason + ")";
  } else if (type == "api_post_event") {
    what = text_field(data, "uri") + " from " + text_field(data, "clientIp");
  } else if (type == "app_terminated_event") {
    what = "app " + text_field(data, "appId") + " removed";
  } else {
    nlohmann::json rest = data.is_object() ? data : nlohmann::json::object();
    rest.erase("eventType");
    rest.erase("timestamp");
    what = json::dump(rest);
  }
  return when + " " + type + " " + what;
}

int events(const CommandContext& context, const EventsOptions& options) {
  std::string target = "/v2/events";
  for (size_t i = 0; i < options.types.size(); ++i) {
    target +=
        (i == 0 ? "?" : "&") + std::string("event_type=") + http::percent_encode(options.types[i]);
  }
  SseParser parser;
  auto answer = context.api.stream(target, [&](std::string_view piece) {
    for (const auto& event : parser.feed(piece)) {
      if (context.json) {
        context.out << event.data << "\n";
      } else {
        nlohmann::json data = json::parse_or_discarded(event.data);
        context.out << describe_event(event.type, data.is_discarded() ? nlohmann::json() : data)
                    << "\n";
      }
      context.out.flush();
    }
    return static_cast<bool>(context.out);
  });
  if (!answer.ok()) {
    context.err << answer.error().message << "\n";
    return kExitFailure;
  }
  if (!answer->ok()) {
    report_failure(context, *answer);
    return kExitFailure;
  }
  context.err << "the master ended the event stream\n";
  return kExitOk;
}

}  // namespace berth::cli
