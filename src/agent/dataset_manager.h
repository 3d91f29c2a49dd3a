// The agent's dataset loop (docs/protocol.md §6): level-triggered convergence of this node's
// datasets towards the master's assignments, through the VolumeDriver of each dataset. Discovers
// local state from the drivers on every pass, computes changes with compute_dataset_changes and
// applies them; tasks and Docker mounts mark datasets in use so they are never detached
// under a user. Thread-safe; converge() runs on the agent's dataset thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/dataset_changes.h"
#include "protocol/messages.h"
#include "volume/volume_driver.h"

namespace berth::agent {

using DatasetErrors = std::map<std::string, std::string>;  // dataset id -> what failed

// Brings the data of a `local` dataset moving to this node from the node that holds it
// (kCopyAndAttach) and installs it here, detached, replacing any older copy. The agent's
// implementation fetches it over HTTP (dataset_transfer.h). An error says what failed; the
// dataset loop reports it and tries again on its next pass.
class DatasetReceiver {
 public:
  virtual ~DatasetReceiver() = default;
  virtual Status receive(const DatasetChange& change) = 0;
};

class DatasetManager {
 public:
  // `drivers` by name ("shared", "loop", "local"); a driver that is not available here stays
  // out, and datasets assigned with it report the reason. `receiver` (not owned; may be null,
  // then local datasets cannot move here) fetches moving local datasets.
  explicit DatasetManager(std::map<std::string, std::unique_ptr<VolumeDriver>> drivers,
                          DatasetReceiver* receiver = nullptr);

  void set_node_id(const std::string& node_id);
  // Called (outside the manager's lock) whenever a dataset gains its first user or loses its
  // last one, so the agent can report it at once.
  void set_on_use_change(std::function<void()> callback);
  // One convergence pass towards `desired`.
  void converge(const std::vector<protocol::DatasetAssignment>& desired);
  // What to report with the next heartbeat: datasets attached here, and detached copies of
  // `local` datasets stored here (attached=false, local_copy=true).
  std::vector<protocol::DatasetReport> report() const;

  // The mounted path of a dataset attached here at its current epoch, or an error saying why
  // it is not usable here (not attached yet, fenced by a newer epoch, ...).
  Result<std::string> usable_path(const std::string& dataset_id) const;
  // Users (task ids, Docker mount ids) keep a dataset from being detached.
  void acquire(const std::string& dataset_id, const std::string& user);
  void release(const std::string& dataset_id, const std::string& user);
  bool in_use(const std::string& dataset_id) const;

  // Self-fencing (docs/fencing.md §3): the lease ran out. Every user is dropped (their tasks are
  // being killed) and every dataset attached here is unmounted and detached; converge() does
  // nothing until unfence() (a new lease; the master hands out new epochs from there).
  void fence();
  void unfence();

 private:
  std::vector<LocalDataset> discover();
  uint64_t fences() const;
  // Fetches a moving local dataset's copy, without `converging` held meanwhile, and attaches it.
  // False when a fence ran during the download: the pass ends there.
  bool copy_and_attach(VolumeDriver& driver, const DatasetChange& change, const std::string& node,
                       std::unique_lock<std::mutex>& converging, DatasetErrors& errors);
  // What the drivers say now, with the pass's `errors`, becomes the next report.
  void publish_reports(const std::string& node, DatasetErrors errors);

  std::map<std::string, std::unique_ptr<VolumeDriver>> drivers_;
  DatasetReceiver* receiver_;
  mutable std::mutex mu_;
  std::string node_id_;
  std::map<std::string, protocol::DatasetReport> reports_;  // by dataset id
  std::map<std::string, std::set<std::string>> users_;
  DatasetErrors errors_;  // the last pass's failures
  std::function<void()> on_use_change_;
  bool fenced_ = false;
  uint64_t fences_ = 0;  // how many times fence() ran
  // Held for a whole converge() or fence(): a fence never runs in the middle of a converge
  // that could attach again what it detaches. converge() lets go of it only while it
  // downloads a local dataset's copy, and ends the pass if a fence ran meanwhile.
  std::mutex converge_mu_;
};

}  // namespace berth::agent
