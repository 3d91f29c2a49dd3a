// The `berth` client commands (`berth app|task|node|dataset ...`, `berth master list`): a
// command-line front end to the master's Marathon v2 API, /berth/v1 endpoints and Flocker v1
// dataset API. main() dispatches here when argv[1] is app, task, node or dataset (or argv[1..2]
// is master list); this is the only file of the component that sees CLI11.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/client_environment.h"

namespace berth::cli {

// args = the full argv as strings (args[0] = program name). Returns the process exit code:
// 0 on success, 1 when the master refused or could not be reached (the reason is on `err`),
// 2 on a usage error. Writes to out/err so tests can capture. Uses the real process
// environment: stdin, BERTH_MASTER and the system clock.
int run_client_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The same with a given environment, for tests.
int run_client_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                       ClientEnvironment& environment);

}  // namespace berth::cli
