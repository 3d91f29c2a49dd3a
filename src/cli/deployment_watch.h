// Following a deployment until the master finishes it: `berth app deploy/scale/restart/
// destroy` start a deployment and, unless --no-wait, call wait_for_deployment. The pieces
// that read the API's JSON are pure functions so they can be tested on their own.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/api_client.h"
#include "cli/command_context.h"

namespace berth::cli {

struct DeploymentWatch {
  std::string app_id;         // normalized, e.g. "/prod/web"
  std::string deployment_id;  // from deployment_id_of()
  std::string verb;           // for progress lines: "deploying", "scaling", ...
  std::chrono::seconds timeout{300};
  std::chrono::milliseconds poll_interval{1000};
};

// Polls GET /v2/deployments until `deployment_id` is no longer listed, printing a progress
// line (from GET /v2/apps/{id}) and a launch-queue line (from GET /v2/queue) whenever they
// change. Returns kExitOk when the deployment is gone; kExitFailure, having said why on
// stderr, when the timeout passes, the master answers an error, or it stays unreachable for
// several polls in a row.
int wait_for_deployment(const CommandContext& context, const DeploymentWatch& watch);

// The deployment a deployable call started: the Marathon-Deployment-Id header, else the
// body's deploymentId, else deployments[0].id (POST /v2/apps). Empty when there is none.
std::string deployment_id_of(const ApiAnswer& answer);

// Whether GET /v2/deployments (an array of {id, ...}) still lists `deployment_id`.
bool deployment_listed(const nlohmann::json& deployments, const std::string& deployment_id);

// "deploying /web: 3/5 running, 1 staged" from an AppInfo; empty if `app` is not one.
std::string progress_line(const std::string& verb, const nlohmann::json& app);

// "waiting: InsufficientCpus on 3/3 nodes, UnfulfilledConstraint on 1/3 nodes" from GET
// /v2/queue for `app_id`, or a backoff note; empty when the app is not held up.
std::string queue_line(const nlohmann::json& queue, const std::string& app_id);

}  // namespace berth::cli
