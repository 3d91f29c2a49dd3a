#include "cli/deployment_watch.h"

namespace berth::cli {
namespace {

// A master fail-over makes the API unreachable for a few seconds; more misses than this in a
// row mean it is gone.
constexpr int kMaxMissedPolls = 5;

void print_if_changed(const CommandContext& context, const std::string& line, std::string* last) {
  if (line.empty() || line == *last) return;
  context.notes() << line << "\n";
  context.notes().flush();
  *last = line;
}

}  // namespace

std::string deployment_id_of(const ApiAnswer& answer) {
  std::string id = answer.header("marathon-deployment-id");
  if (!id.empty()) return id;
  const auto& body = answer.json;
  if (!body.is_object()) return "";
  if (body.contains("deploymentId") && body["deploymentId"].is_string()) {
    return body["deploymentId"].get<std::string>();
  }
  if (body.contains("deployments") && body["deployments"].is_array() &&
      !body["deployments"].empty()) {
    return text_field(body["deployments"][0], "id", "");
  }
  return "";
}

bool deployment_listed(const nlohmann::json& deployments, const std::string& deployment_id) {
  if (!deployments.is_array()) return false;
  for (const auto& deployment : deployments) {
    if (text_field(deployment, "id", "") == deployment_id) return true;
  }
  return false;
}

std::string progress_line(const std::string& verb, const nlohmann::json& app) {
  if (!app.is_object() || !app.contains("id")) return "";
  std::string line = verb + " " + text_field(app, "id") + ": " +
                     std::to_string(int_field(app, "tasksRunning")) + "/" +
                     std::to_string(int_field(app, "instances")) + " running";
  int64_t staged = int_field(app, "tasksStaged");
  if (staged > 0) line += ", " + std::to_string(staged) + " staged";
  return line;
}

std::string queue_line(const nlohmann::json& queue, const std::string& app_id) {
  if (!queue.is_object() || !queue.contains("queue") || !queue["queue"].is_array()) return "";
  for (const auto& item : queue["queue"]) {
    if (!item.is_object() || !item.contains("app") || text_field(item["app"], "id", "") != app_id) {
      continue;
    }
    std::string reasons;
    const auto summary = item.value("processedOffersSummary", nlohmann::json::object());
    const auto rejects = summary.is_object()
                             ? summary.value("rejectSummaryLastOffers", nlohmann::json::array())
                             : nlohmann::json::array();
    for (const auto& reject : rejects) {
      int64_t declined = int_field(reject, "declined");
      if (declined <= 0) continue;
      if (!reasons.empty()) reasons += ", ";
      reasons += text_field(reject, "reason", "unknown reason") + " on " +
                 std::to_string(declined) + "/" + std::to_string(int_field(reject, "processed")) +
                 " nodes";
    }
    if (!reasons.empty()) return "waiting: " + reasons;
    const auto delay = item.value("delay", nlohmann::json::object());
    int64_t seconds_left = int_field(delay, "timeLeftSeconds");
    if (seconds_left > 0) {
      return "waiting: backing off after failed launches, next attempt in " +
             std::to_string(seconds_left) + "s";
    }
    return "";
  }
  return "";
}

int wait_for_deployment(const CommandContext& context, const DeploymentWatch& watch) {
  const MonoTime deadline = context.env.now() + watch.timeout;
  std::string last_progress, last_queue;
  int missed_polls = 0;
  while (true) {
    auto deployments = context.api.call("GET", "/v2/deployments");
    if (!deployments.ok()) {
      if (++missed_polls >= kMaxMissedPolls) {
        context.err << deployments.error().message << "\ngave up following deployment "
                    << watch.deployment_id << " of " << watch.app_id << " after " << missed_polls
                    << " failed polls; it may still be running on the master\n";
        return kExitFailure;
      }
    } else if (!deployments->ok()) {
      report_failure(context, *deployments);
      return kExitFailure;
    } else {
      missed_polls = 0;
      if (!deployment_listed(deployments->json, watch.deployment_id)) return kExitOk;
      auto app = context.api.call("GET", app_target(watch.app_id));
      if (app.ok() && app->ok() && app->json.is_object() && app->json.contains("app")) {
        print_if_changed(context, progress_line(watch.verb, app->json["app"]), &last_progress);
      }
      auto queue = context.api.call("GET", "/v2/queue");
      if (queue.ok() && queue->ok()) {
        print_if_changed(context, queue_line(queue->json, watch.app_id), &last_queue);
      }
    }
    if (context.env.now() >= deadline) {
      context.err << "timed out after " << watch.timeout.count() << "s waiting for deployment "
                  << watch.deployment_id << " of " << watch.app_id
                  << "; it continues on the master. Follow it with `berth app show " << watch.app_id
                  << "`, or give more time with --timeout\n";
      return kExitFailure;
    }
    context.env.sleep_for(watch.poll_interval);
  }
}

}  // namespace berth::cli
