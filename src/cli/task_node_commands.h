// `berth task ...` and `berth node ...`: list and kill tasks through /v2/tasks, list, drain
// and undrain nodes through /berth/v1/nodes. Called by client_commands.cpp once the command line is
// parsed; each function returns the process exit code (kExitOk or kExitFailure).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/command_context.h"

namespace berth::cli {

// `app_id` empty lists the tasks of every app.
int task_list(const CommandContext& context, const std::string& app_id);
// POST /v2/tasks/delete?scale=... with {"ids":[task_id]}. With `scale` the app's instance
// count goes down by one instead of the task being replaced.
int task_kill(const CommandContext& context, const std::string& task_id, bool scale);
int node_list(const CommandContext& context);
// `node` is a node id or hostname, resolved through GET /berth/v1/nodes. With `drain`,
// POST /berth/v1/nodes/{id}/drain: nothing new is placed on the node and its tasks move
// elsewhere; without, DELETE of the same path undoes that. An unknown or ambiguous name is
// reported on stderr and changes nothing.
int node_drain(const CommandContext& context, const std::string& node, bool drain);

// The task table shared with `berth app show`: ID, [APP,] HOST, PORTS, STATE, STARTED[, HEALTH].
std::string render_tasks(const nlohmann::json& tasks, bool with_app_column,
                         bool with_health_column);

}  // namespace berth::cli
