// RecordDir: the epoch records of one pool, as files every node sees (docs/fencing.md §2).
//
//   <dir>/<dataset id>.json   {"dataset_id", "size_bytes", "epoch", "attached_to"}
//   <dir>/<dataset id>.lock   flock()ed while one operation on the dataset runs
//
// `<dir>` is `<pool>/.berth` for the shared and loop drivers and `<node_dir>/.berth` for the
// local driver. A record is replaced atomically (write a temporary file, fsync, rename,
// fsync the directory), so readers never see a torn record and may read without the lock.
// Writers hold the dataset's lock: two nodes attaching at once serialise on it. flock() works
// across NFS clients on Linux (the client maps it to a whole-file POSIX lock).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "volume/epoch_rules.h"
#include "volume/unique_fd.h"
#include "volume/volume_driver.h"

namespace berth {

class RecordDir {
 public:
  // Holds one dataset's lock until destroyed.
  class Lock {
   public:
    Lock() = default;
    Lock(UniqueFd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
    // Removes the lock file while still holding the lock (destroy). Waiters notice that the
    // file they locked is no longer the one at the path and lock the new one.
    void unlink_file();

   private:
    UniqueFd fd_;
    std::filesystem::path path_;
  };

  // `create_parent`: whether the directory holding `dir` may be created (true for a node's
  // own directory; false for a shared pool, where a missing directory means the shared
  // filesystem is not mounted and writing to the local disk instead would lose data).
  RecordDir(std::filesystem::path dir, bool create_parent,
            std::chrono::milliseconds lock_timeout = std::chrono::seconds(30));

  const std::filesystem::path& dir() const { return dir_; }

  // Takes the dataset's exclusive lock, waiting at most the lock timeout (kUnavailable then).
  Result<Lock> lock(const std::string& dataset_id) const;
  // The record, or nullopt when there is none. kInternal for an unreadable or corrupt file.
  Result<std::optional<EpochRecord>> read(const std::string& dataset_id) const;
  // Replaces the record atomically and durably. Call with the dataset's lock held.
  Status write(const std::string& dataset_id, const EpochRecord& record) const;
  // Removes the record; ok when there is none. Call with the dataset's lock held.
  Status remove(const std::string& dataset_id) const;
  // Every record, sorted by dataset id.
  Result<std::vector<VolumeInfo>> list() const;

 private:
  Status ensure_dir() const;
  std::filesystem::path record_path(const std::string& dataset_id) const;

  std::filesystem::path dir_;
  bool create_parent_;
  std::chrono::milliseconds lock_timeout_;
};

// The JSON form of a record (exposed for tests).
std::string encode_record(const std::string& dataset_id, const EpochRecord& record);
// kInternal naming `source` when `text` is not a record of `dataset_id`.
Result<EpochRecord> decode_record(const std::string& dataset_id, const std::string& text,
                                  const std::string& source);

}  // namespace berth
