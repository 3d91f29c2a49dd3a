// Moving a `local` dataset to another node over the network (docs/fencing.md §5: "moves only by
// copying while both nodes are up"). The node that holds the data archives the dataset's
// directory once it is detached there (archive_local_dataset); the new node installs that
// archive in its own node directory (install_local_dataset) and only then attaches it. The
// agent's dataset transfer (agent/dataset_transfer.h) carries the archive over HTTP.
//
// Both work on the local driver's layout (make_local_driver): data in `<node_dir>/<id>`,
// the epoch record in `<node_dir>/.berth/<id>.json`, under the dataset's record lock.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace berth {

struct LocalDatasetArchive {
  std::string tar;          // the dataset's directory as a tar stream (tree_archive.h)
  uint64_t size_bytes = 0;  // the dataset's size, from its record
  uint64_t epoch = 0;       // the highest epoch its record has seen
  uint64_t entries = 0;     // entries in `tar`, the root directory included
};

// Archives dataset `dataset_id` of the node directory `node_dir`, holding the dataset's lock
// so that nothing attaches it meanwhile. kNotFound when the directory holds no such dataset;
// kConflict while it is attached (naming the holder and the epoch): a copy is only taken of
// data nobody writes; kInvalidArgument for a malformed id or when the archive would exceed
// `max_bytes`; kUnavailable when a file changed while it was read.
Result<LocalDatasetArchive> archive_local_dataset(const std::string& node_dir,
                                                  const std::string& dataset_id,
                                                  uint64_t max_bytes);

// Installs `archive` as dataset `dataset_id` of `node_dir`: extracts it into a staging
// directory on the same filesystem (`<node_dir>/.berth/received-<id>`), checks that it holds
// archive.entries entries, then, under the dataset's lock, renames it into place (replacing
// an earlier copy) and writes the record: archive.size_bytes, unattached, and the higher of
// archive.epoch and the epoch recorded here before, so older epochs stay refused. kConflict
// when the dataset is attached on this node; kInvalidArgument for a malformed, truncated or
// incomplete archive. Nothing changes on failure except the staging directory, which the next
// call replaces.
Status install_local_dataset(const std::string& node_dir, const std::string& dataset_id,
                             const LocalDatasetArchive& archive);

}  // namespace berth
