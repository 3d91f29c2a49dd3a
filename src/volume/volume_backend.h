// VolumeBackend: how one file-based driver keeps a dataset's bytes and exposes them on this
// node. RecordedDriver owns the epoch record and the locking and calls these with the
// dataset's lock held, so a backend only moves bytes and mounts; it never decides who may.
// Implementations: DirectoryBackend (shared, local) and LoopBackend (loop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace berth {

class VolumeBackend {
 public:
  virtual ~VolumeBackend() = default;

  virtual std::string name() const = 0;
  virtual Status available() const = 0;
  // kInvalidArgument when this backend cannot provide `size_bytes`.
  virtual Status check_size(uint64_t size_bytes) const = 0;

  // Makes fresh, empty storage, replacing whatever a half-done create or destroy left.
  virtual Status create_storage(const std::string& dataset_id, uint64_t size_bytes) = 0;
  // Whether storage (or a leftover of it) exists.
  virtual bool storage_exists(const std::string& dataset_id) const = 0;
  // Deletes the storage; ok when there is none.
  virtual Status remove_storage(const std::string& dataset_id) = 0;

  // Makes the dataset usable on this node and returns its path. Idempotent; finishes a
  // half-done earlier call.
  virtual Result<std::string> expose(const std::string& dataset_id) = 0;
  // Undoes expose on this node. Idempotent: ok when nothing is exposed.
  virtual Status conceal(const std::string& dataset_id) = 0;
  // The path when the dataset is exposed on this node right now, else nullopt.
  virtual Result<std::optional<std::string>> exposed_path(const std::string& dataset_id) = 0;
};

}  // namespace berth
