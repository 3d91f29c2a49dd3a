// `berth group ...`: deploy, list, show, scale and destroy Marathon groups through the master's
// /v2/groups API (docs/compatibility.md §2.8). Each returns the process exit code.
#pragma once

#include <string>

#include "cli/app_commands.h"
#include "cli/command_context.h"

namespace berth::cli {

// POSTs the group definition in `file`; when the group exists, PUTs it (its apps and
// subgroups become exactly those of the file).
int group_deploy(const CommandContext& context, const std::string& file,
                 const ChangeOptions& options);
// Every group with its apps and dependencies, one line per group.
int group_list(const CommandContext& context);
int group_show(const CommandContext& context, const std::string& group_id);
// Every app of the group: instances = ceil(instances * factor).
int group_scale(const CommandContext& context, const std::string& group_id, double factor,
                const ChangeOptions& options);
// Puts the group back as it was at `version` (berth group show lists its versions).
int group_rollback(const CommandContext& context, const std::string& group_id,
                   const std::string& version, const ChangeOptions& options);
int group_destroy(const CommandContext& context, const std::string& group_id,
                  const ChangeOptions& options);

}  // namespace berth::cli
