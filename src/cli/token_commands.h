// `berth token create|list|revoke`: API tokens through /berth/v1/tokens, and `berth backup`
// (admin only; see docs/security.md). Called by client_commands.cpp; each returns the process
// exit code.
#pragma once

#include <string>

#include "cli/command_context.h"

namespace berth::cli {

// Prints the new token (its secret is shown this once) and how to use it.
int token_create(const CommandContext& context, const std::string& role, const std::string& name);
int token_list(const CommandContext& context);
int token_revoke(const CommandContext& context, const std::string& id);

// `berth backup FILE` (admin): the master's stored state and join token (GET /berth/v1/backup)
// written to FILE, readable by its owner only; `berth restore FILE` puts it back
// (docs/architecture.md §5).
int backup(const CommandContext& context, const std::string& file);

}  // namespace berth::cli
