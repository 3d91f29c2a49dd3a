// `berth dataset ...`: create, list, show, move and destroy datasets through the Flocker v1
// API the master serves (/v1/configuration/datasets, /v1/state/datasets, /v1/state/nodes).
// Datasets are named by id or by metadata.name, nodes by uuid or hostname. Called by
// client_commands.cpp once the command line is parsed; each function returns the process
// exit code (kExitOk, kExitFailure, or kExitUsage for a bad --size).
#pragma once

#include <string>

#include "cli/command_context.h"

namespace berth::cli {

struct DatasetCreateOptions {
  std::string size;    // bytes, or with a binary K/M/G/T suffix; empty: the master's default
  std::string node;    // uuid or hostname of the primary; empty: the first active node
  std::string driver;  // shared, loop or local; empty: the master's default
};

struct DatasetMoveOptions {
  bool no_wait = false;  // return once the master accepted the new primary
  int timeout_seconds = 60;
};

// POST /v1/configuration/datasets with {"primary", "maximum_size", "metadata": {"name"},
// "driver"}. The API requires a primary: without --node it is the first node that
// GET /berth/v1/nodes reports "active" (not draining, not lost).
int dataset_create(const CommandContext& context, const std::string& name,
                   const DatasetCreateOptions& options);
// The configuration joined with the state and node hostnames, one row per dataset; deleted
// ones only with `include_deleted`. --json prints the configuration as the API gave it.
int dataset_list(const CommandContext& context, bool include_deleted);
// One dataset's configuration and where it is attached. --json prints its configuration.
int dataset_show(const CommandContext& context, const std::string& dataset);
// POST /v1/configuration/datasets/{id} with {"primary": uuid}; unless --no-wait, polls
// /v1/state/datasets every 200 ms until the dataset is attached on `node`, then prints
// "moved NAME to HOSTNAME in X.XX s". kExitFailure when the timeout passes first.
int dataset_move(const CommandContext& context, const std::string& dataset, const std::string& node,
                 const DatasetMoveOptions& options);
// DELETE /v1/configuration/datasets/{id}: the agents then remove its data.
int dataset_destroy(const CommandContext& context, const std::string& dataset);

}  // namespace berth::cli
