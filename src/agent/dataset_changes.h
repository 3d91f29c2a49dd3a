// The agent's dataset convergence (docs/protocol.md §6; Flocker's change calculator,
// docs/compatibility.md §3.3): given what the master wants here and what this node has, the changes
// to make. Pure; the agent's dataset loop discovers local state, calls this, and applies the result
// idempotently, every heartbeat.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace berth::agent {

// A dataset this node has: attached here, or (attached=false) a detached copy of a `local`
// dataset stored here.
struct LocalDataset {
  std::string dataset_id;
  std::string driver;
  bool attached = false;
  uint64_t epoch = 0;
  bool in_use = false;  // a running task or a Docker mount uses it
};

struct DatasetChange {
  enum class Kind {
    kCreateAndAttach,
    // A `local` dataset moving here: fetch its data from `copy_from` (node `copy_from_node`),
    // install it, then attach. Never creates an empty dataset.
    kCopyAndAttach,
    kDetach,
    kDestroy,
  };
  Kind kind = Kind::kDetach;
  std::string dataset_id;
  std::string driver;
  uint64_t epoch = 0;
  uint64_t size_bytes = 0;
  std::string copy_from;       // kCopyAndAttach: "http://host:port" of the agent holding it
  std::string copy_from_node;  // kCopyAndAttach: that agent's node id
};

// Detaches come first in the result: a node gives up what it no longer owns before taking
// anything new. A dataset in use is never detached here (its users are stopped first). A
// dataset assigned with copy_from is copied in (kCopyAndAttach) unless it is attached here at
// the assigned epoch already; one attached here at an older epoch is detached first (its
// data is stale next to the copy), unless in use, in which case nothing happens until it is
// released.
std::vector<DatasetChange> compute_dataset_changes(
    const std::vector<protocol::DatasetAssignment>& desired,
    const std::vector<LocalDataset>& local);

// The assignments in force once a "datasets" command's list `command` arrives over `in_force`
// (docs/fencing.md §4). A command never grants, so it lists every dataset with attach=false;
// one that `in_force` grants at the same epoch, and that the command neither destroys nor
// moves, keeps its grant. The master ends a grant only by taking a report or by moving the
// dataset to a newer epoch, never by a command, and a command's list, built when the agent's
// poll fetched it, can arrive after a newer answer that granted: letting go then would detach
// a dataset its task is about to use. What the command leaves out, or names at another epoch, is
// let go as before.
std::vector<protocol::DatasetAssignment> with_grants_kept(
    const std::vector<protocol::DatasetAssignment>& in_force,
    std::vector<protocol::DatasetAssignment> command);

}  // namespace berth::agent
