// The environment a task sees: the app's `env` plus Marathon's variables
// (docs/compatibility.md §2.2). Pure; used by the agent's executors.
#pragma once

#include <map>
#include <string>

#include "protocol/messages.h"

namespace berth::agent {

// `host` is the agent's address; `sandbox` the task's sandbox directory; `inherited_path` the
// agent's PATH, given to tasks whose env does not set one (so `cmd: "sleep 10"` works).
std::map<std::string, std::string> task_environment(const protocol::LaunchSpec& spec,
                                                    const std::string& host,
                                                    const std::string& sandbox,
                                                    const std::string& inherited_path);

}  // namespace berth::agent
