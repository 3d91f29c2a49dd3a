// VolumeDriver: where a dataset's data lives and how a node gets at it (docs/architecture.md §6),
// after Flocker's block-device contract (docs/compatibility.md §3.3): create, destroy, attach with
// an epoch, detach, list, path. The agent's dataset loop calls it; every implementation and the
// in-memory fake pass tests/contract/volume_contract_test.cpp.
//
// Epochs (docs/fencing.md §2): each assignment of a dataset to a node carries an epoch that only
// grows. The driver records the epoch on attach, in storage every node sees, and refuses an attach
// (or a path lookup, i.e. a mount) with an older epoch than the recorded one, so a node coming
// back from a partition cannot take its old dataset back. An attach with a *newer* epoch takes
// the dataset over from whichever node held it (that node has been fenced).
//
// Methods are idempotent and tolerate half-done earlier calls (a retry finishes the job).
// Thread-safe for different datasets; calls for one dataset are serialised by the caller.
//
// The file-based drivers keep each dataset's record in `<pool>/.berth/<id>.json` (local:
// `<node_dir>/.berth/`), replaced atomically under an flock on `<id>.lock`, so attaches by two
// nodes at once serialise (recorded_driver.h, epoch_record.h). The rules themselves are pure
// functions shared by every driver (epoch_rules.h). Every dataset id is checked to be a
// lowercase UUID (kInvalidArgument otherwise) before it becomes part of a path.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth {

struct VolumeInfo {
  std::string dataset_id;
  uint64_t size_bytes = 0;
  std::optional<std::string> attached_to;  // node id holding it, if any
  uint64_t epoch = 0;                      // the highest epoch recorded so far
};

class VolumeDriver {
 public:
  virtual ~VolumeDriver() = default;

  // "shared", "loop", "local" or "memory".
  virtual std::string name() const = 0;
  // Ok when the driver can work on this node; otherwise an error saying what is missing
  // (e.g. "the loop driver needs root to attach loop devices").
  virtual Status available() const = 0;

  // Creates the dataset's storage. Idempotent for the same id and size; kConflict when the id
  // exists with another size; kInvalidArgument for a malformed id (not a UUID) or a size the
  // driver cannot provide.
  virtual Result<VolumeInfo> create(const std::string& dataset_id, uint64_t size_bytes) = 0;
  // Destroys it and its data. kNotFound when absent; kConflict while attached.
  virtual Status destroy(const std::string& dataset_id) = 0;

  // Attaches the dataset to `node_id` at `epoch` and makes its filesystem usable at the path
  // returned. kConflict (naming both epochs) when epoch < the recorded epoch, or when another
  // node holds it at the same epoch. kNotFound when the dataset does not exist.
  virtual Result<std::string> attach(const std::string& dataset_id, const std::string& node_id,
                                     uint64_t epoch) = 0;
  // Unmounts and detaches from `node_id`. Idempotent: ok when not attached there (or the dataset
  // does not exist). Only the recorded holder's detach releases the record, so a fenced node
  // cleaning up late leaves the new holder's claim alone. loop: kUnavailable while a process
  // still has files open in the mount (the dataset stays attached).
  virtual Status detach(const std::string& dataset_id, const std::string& node_id) = 0;
  // Every dataset of this driver's pool (all nodes for shared storage).
  virtual Result<std::vector<VolumeInfo>> list() = 0;
  // The mounted path on `node_id` if it holds the dataset at `epoch` (the epoch still current);
  // kConflict when a newer epoch was recorded since; kNotFound when not attached there, or when
  // the record says it is but the mount is gone (e.g. after a reboot): attach again to remount.
  virtual Result<std::string> path(const std::string& dataset_id, const std::string& node_id,
                                   uint64_t epoch) = 0;
};

// `shared`: a directory per dataset under `pool_dir`, which every node mounts at the same
// path (NFS, CephFS, GlusterFS; a local directory in `berth up`).
std::unique_ptr<VolumeDriver> make_shared_driver(const std::string& pool_dir);
// `loop`: an ext4 image file per dataset in `pool_dir`, attached with a loop device and
// mounted under `mount_dir` (per node). Needs root.
std::unique_ptr<VolumeDriver> make_loop_driver(const std::string& pool_dir,
                                               const std::string& mount_dir);
// `local`: a directory per dataset under `node_dir` (this node only). Data moves between
// nodes only by copying (copy_local_dataset) while both are up. Its epoch records live in the
// node directory, so they fence callers on this node only.
std::unique_ptr<VolumeDriver> make_local_driver(const std::string& node_dir);
// The in-memory fake (unit tests): same semantics, no I/O; path() returns "/memory/<id>".
// memory_driver.h has an overload that shares one pool between several drivers ("nodes").
std::unique_ptr<VolumeDriver> make_memory_driver();

// Copies a local dataset's files from one node's directory to another's (both reachable as
// paths here); used when a `local` dataset moves. Overwrites the destination (the copy is made
// beside it and renamed into place). Keeps modes, symlinks, times and, as root, owners. The
// destination's record gets the source's size and the higher of the two epochs, unattached
// unless the destination already had a holder. kNotFound when the source has no such dataset;
// kInvalidArgument for a bad id or the same directory twice.
Status copy_local_dataset(const std::string& from_node_dir, const std::string& to_node_dir,
                          const std::string& dataset_id);

}  // namespace berth
