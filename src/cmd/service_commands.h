// The flags of `berth master` and `berth agent`, the two commands that run as services. main()
// adds them to berth's command line; the config file loader (config_file.h) builds them again to
// find each key's flag and to check its value. Every flag has a BERTH_... environment variable,
// which is how a config file sets it (docs/deploy.md §1).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "agent/agent.h"
#include "base/result.h"
#include "cmd/commands.h"

namespace berth::cmd {

// `berth agent`'s flags; the port range and the attributes are parsed once they are all read
// (agent_options).
struct AgentFlags {
  agent::AgentOptions options;
  std::string ports = "31000-32000";
  std::string attributes;
  bool no_service_router = false;
};

// Where both commands' flags land.
struct ServiceFlags {
  MasterFlags master;
  AgentFlags agent;
  std::string ca_cert;  // --ca-cert of either (and of `berth demo`, which main() adds)
  std::string config;   // --config of either; config_file.h reads it before the flags are parsed
};

struct ServiceCommands {
  CLI::App* master = nullptr;
  CLI::App* agent = nullptr;
};

// Adds the subcommands `master` and `agent` to `app`, their flags bound to `flags`, which must
// outlive `app`.
ServiceCommands add_service_commands(CLI::App& app, ServiceFlags& flags);

// The agent's options from its parsed flags; kInvalidArgument names a bad port range or
// attribute.
Result<agent::AgentOptions> agent_options(const AgentFlags& flags);

}  // namespace berth::cmd
