// Moving a `local` dataset to another node over the network (docs/fencing.md §5: "moves only by
// copying while both nodes are up"). The node that holds the data streams an archive of the
// dataset's directory once it is detached there (archive_local_dataset); the new node extracts
// that stream as it arrives into a staging directory and installs it in its own node directory
// (install_local_dataset) before it attaches it. The agent's dataset transfer
// (agent/dataset_transfer.h) carries the stream over HTTP; neither side holds more than a piece
// of it in memory, so a dataset may be as large as the disks hold.
//
// Both work on the local driver's layout (make_local_driver): data in `<node_dir>/<id>`,
// the epoch record in `<node_dir>/.berth/<id>.json`, under the dataset's record lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "volume/epoch_record.h"
#include "volume/tree_archiver.h"
#include "volume/tree_extractor.h"

namespace berth {

// What the record of a dataset says, travelling with its data.
struct LocalDatasetCopy {
  uint64_t size_bytes = 0;  // the dataset's size
  uint64_t epoch = 0;       // the highest epoch its record has seen
};

// A detached dataset's directory being archived. It holds the dataset's lock until destroyed,
// so that nothing attaches the dataset here while its copy is being taken; an attach meanwhile
// waits for the lock (and fails after the lock timeout, to be retried).
class LocalDatasetArchive {
 public:
  LocalDatasetArchive(RecordDir::Lock lock, LocalDatasetCopy copy,
                      std::unique_ptr<TreeArchiver> archiver)
      : lock_(std::move(lock)), copy_(copy), archiver_(std::move(archiver)) {}

  const LocalDatasetCopy& copy() const { return copy_; }
  // The next part of the tar stream, as TreeArchiver::next.
  Result<bool> next(std::string* out) { return archiver_->next(out); }
  const ArchiveStats& stats() const { return archiver_->stats(); }

 private:
  RecordDir::Lock lock_;
  LocalDatasetCopy copy_;
  std::unique_ptr<TreeArchiver> archiver_;
};

// Starts archiving dataset `dataset_id` of the node directory `node_dir`, taking the dataset's
// lock. kNotFound when the directory holds no such dataset; kConflict while it is attached
// (naming the holder and the epoch): a copy is only taken of data nobody writes;
// kInvalidArgument for a malformed id; kUnavailable when the lock stays taken.
Result<std::unique_ptr<LocalDatasetArchive>> archive_local_dataset(const std::string& node_dir,
                                                                   const std::string& dataset_id);

// Installs the archive that `source` streams as dataset `dataset_id` of `node_dir`: extracts
// it as it arrives into a staging directory on the same filesystem
// (`<node_dir>/.berth/received-<id>`, extract_tree's checks); once the stream has ended, calls
// `verify` with what it held (the caller's checks of the stream as a whole: its digest, its
// entry count); only when that succeeds, under the dataset's lock, renames it into place
// (replacing an earlier copy) and writes the record: copy.size_bytes, unattached, and the
// higher of copy.epoch and the epoch recorded here before, so older epochs stay refused.
// kConflict when the dataset is attached on this node; kInvalidArgument for a malformed or
// truncated stream; the source's or verify's error. Nothing changes on failure: the staging
// directory is removed.
Status install_local_dataset(const std::string& node_dir, const std::string& dataset_id,
                             const LocalDatasetCopy& copy, ArchiveSource& source,
                             const std::function<Status(const ArchiveStats&)>& verify);

}  // namespace berth
