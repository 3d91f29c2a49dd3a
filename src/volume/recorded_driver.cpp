#include "volume/recorded_driver.h"

#include "volume/dataset_id.h"

namespace berth {

RecordedDriver::RecordedDriver(std::unique_ptr<VolumeBackend> backend, RecordDir records)
    : backend_(std::move(backend)), records_(std::move(records)) {}

std::string RecordedDriver::name() const { return backend_->name(); }

Status RecordedDriver::available() const { return backend_->available(); }

Error RecordedDriver::not_found(const std::string& dataset_id) const {
  return make_error(ErrorCode::kNotFound, "dataset " + dataset_id + " does not exist in the " +
                                              backend_->name() + " pool (no record in " +
                                              records_.dir().string() + "); create it first");
}

Result<VolumeInfo> RecordedDriver::create(const std::string& dataset_id, uint64_t size_bytes) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
  if (Status s = backend_->check_size(size_bytes); !s) return s.error();
  Result<RecordDir::Lock> lock = records_.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> record = records_.read(dataset_id);
  if (!record) return record.error();
  if (*record) {
    const EpochRecord& existing = **record;
    if (existing.size_bytes != size_bytes) {
      return make_error(ErrorCode::kConflict,
                        "dataset " + dataset_id + " already exists with size " +
                            std::to_string(existing.size_bytes) + " bytes, not " +
                            std::to_string(size_bytes) +
                            "; use another id or destroy the existing dataset first");
    }
    if (!backend_->storage_exists(dataset_id)) {
      return make_error(ErrorCode::kInternal,
                        "dataset " + dataset_id + " has a record in " + records_.dir().string() +
                            " but its storage is gone; destroy it and create it again");
    }
    return to_volume_info(dataset_id, existing);
  }
  // The record is written last: until it exists the dataset does not, and a retry starts over.
  if (Status s = backend_->create_storage(dataset_id, size_bytes); !s) return s.error();
  EpochRecord fresh{size_bytes, std::nullopt, 0};
  if (Status s = records_.write(dataset_id, fresh); !s) return s.error();
  return to_volume_info(dataset_id, fresh);
}

Status RecordedDriver::destroy(const std::string& dataset_id) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s;
  Result<RecordDir::Lock> lock = records_.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> record = records_.read(dataset_id);
  if (!record) return record.error();
  if (!*record) {
    if (!backend_->storage_exists(dataset_id)) return not_found(dataset_id);
    // A half-done create or destroy left storage without a record: finish the job.
  } else if ((*record)->holder) {
    return make_error(ErrorCode::kConflict, "dataset " + dataset_id + " is attached to node \"" +
                                                *(*record)->holder + "\" at epoch " +
                                                std::to_string((*record)->epoch) +
                                                "; detach it before destroying it");
  }
  // The record goes first, so from here on the dataset no longer exists for anyone.
  if (Status s = records_.remove(dataset_id); !s) return s;
  if (Status s = backend_->remove_storage(dataset_id); !s) return s;
  lock->unlink_file();
  return {};
}

Result<std::string> RecordedDriver::attach(const std::string& dataset_id,
                                           const std::string& node_id, uint64_t epoch) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
  if (Status s = validate_node_id(node_id); !s) return s.error();
  Result<RecordDir::Lock> lock = records_.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> record = records_.read(dataset_id);
  if (!record) return record.error();
  if (!*record) return not_found(dataset_id);
  Result<EpochRecord> next = decide_attach(dataset_id, **record, node_id, epoch);
  if (!next) return next.error();
  // Fence first: once the new epoch is recorded the old holder's path() fails, before this
  // node can write a byte.
  if (*next != **record) {
    if (Status s = records_.write(dataset_id, *next); !s) return s.error();
  }
  return backend_->expose(dataset_id);
}

Status RecordedDriver::detach(const std::string& dataset_id, const std::string& node_id) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s;
  if (Status s = validate_node_id(node_id); !s) return s;
  Result<RecordDir::Lock> lock = records_.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> record = records_.read(dataset_id);
  if (!record) return record.error();
  // Unmount here even when the record names another holder: a fenced node cleans up too.
  if (Status s = backend_->conceal(dataset_id); !s) return s;
  if (!*record) return {};
  EpochRecord next = decide_detach(**record, node_id);
  if (next == **record) return {};
  return records_.write(dataset_id, next);
}

Result<std::vector<VolumeInfo>> RecordedDriver::list() { return records_.list(); }

Result<std::string> RecordedDriver::path(const std::string& dataset_id, const std::string& node_id,
                                         uint64_t epoch) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
  if (Status s = validate_node_id(node_id); !s) return s.error();
  // Records are replaced atomically, so reading without the lock sees a whole one.
  Result<std::optional<EpochRecord>> record = records_.read(dataset_id);
  if (!record) return record.error();
  if (!*record) return not_found(dataset_id);
  if (Status s = check_path(dataset_id, **record, node_id, epoch); !s) return s.error();
  Result<std::optional<std::string>> exposed = backend_->exposed_path(dataset_id);
  if (!exposed) return exposed.error();
  if (!*exposed) {
    return make_error(ErrorCode::kNotFound,
                      "dataset " + dataset_id + " is recorded as attached to node \"" + node_id +
                          "\" at epoch " + std::to_string(epoch) +
                          " but is not mounted here (a restart?); attach it again");
  }
  return **exposed;
}

}  // namespace berth
