// `berth app ...`: deploy, list, show, scale, restart and destroy Marathon apps through the
// master's /v2/apps API. Called by client_commands.cpp once the command line is parsed; each
// function returns the process exit code (kExitOk or kExitFailure).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command_context.h"

namespace berth::cli {

// Options of the commands that start a deployment.
struct ChangeOptions {
  bool force = false;    // ?force=true: cancel deployments that lock the app
  bool no_wait = false;  // return once the master accepted the change
  int timeout_seconds = 300;
};

// Shared by the commands that start deployments (apps and groups):
// `target` with ?force=true (or &force=true) added when `force`.
std::string with_force(const std::string& target, bool force);
// The JSON object in `file` ("-": the environment's input); on failure says why on stderr,
// naming it "the <what> definition", and returns nullopt.
std::optional<nlohmann::json> read_definition(const CommandContext& context,
                                              const std::string& file, const std::string& what);
// Prints what a deployable call answered and, unless --no-wait, follows its deployment.
int finish_change(const CommandContext& context, const ApiAnswer& answer, const std::string& id,
                  const std::string& verb, const std::string& done, const ChangeOptions& options);

// `file` is a path or "-" for the environment's input. POSTs the definition; when the app
// already exists, PUTs it with partialUpdate=false so the app ends up exactly as the file says.
int app_deploy(const CommandContext& context, const std::string& file,
               const ChangeOptions& options);
int app_list(const CommandContext& context);
int app_show(const CommandContext& context, const std::string& app_id);
int app_scale(const CommandContext& context, const std::string& app_id, int64_t instances,
              const ChangeOptions& options);
int app_restart(const CommandContext& context, const std::string& app_id,
                const ChangeOptions& options);
int app_destroy(const CommandContext& context, const std::string& app_id,
                const ChangeOptions& options);

}  // namespace berth::cli
