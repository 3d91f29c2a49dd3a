// `berth master list`: the masters of --master / $BERTH_MASTER (comma-separated), whether each
// answers (GET /ping) and which one leads (GET /v2/leader). Called by client_commands.cpp.
#pragma once

#include <string>

#include "cli/command_context.h"

namespace berth::cli {

// Prints MASTER, STATE (leader, standby or unreachable) and LEADER (whom that master names, or
// why it names none). A master leads when the leader a master names is its URL's host:port.
// Returns kExitOk when some master names a leader, else kExitFailure with the reason.
int master_list(const CommandContext& context);

}  // namespace berth::cli
