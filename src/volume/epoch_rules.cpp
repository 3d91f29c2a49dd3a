#include "volume/epoch_rules.h"

namespace berth {
namespace {

std::string held_by(const EpochRecord& record) {
  return record.holder ? "held by node \"" + *record.holder + "\"" : "not attached";
}

}  // namespace

VolumeInfo to_volume_info(const std::string& dataset_id, const EpochRecord& record) {
  return VolumeInfo{dataset_id, record.size_bytes, record.holder, record.epoch};
}

Result<EpochRecord> decide_attach(const std::string& dataset_id, const EpochRecord& current,
                                  const std::string& node_id, uint64_t epoch) {
  if (epoch < current.epoch) {
    return make_error(ErrorCode::kConflict,
                      "dataset " + dataset_id + ": attach by node \"" + node_id + "\" at epoch " +
                          std::to_string(epoch) + " refused: epoch " +
                          std::to_string(current.epoch) + " is already recorded (" +
                          held_by(current) + "); an older assignment cannot take the dataset back");
  }
  if (epoch == current.epoch && current.holder && *current.holder != node_id) {
    return make_error(ErrorCode::kConflict,
                      "dataset " + dataset_id + ": attach by node \"" + node_id + "\" at epoch " +
                          std::to_string(epoch) + " refused: node \"" + *current.holder +
                          "\" holds it at epoch " + std::to_string(current.epoch) +
                          "; a takeover needs a newer epoch");
  }
  EpochRecord next = current;
  next.holder = node_id;
  next.epoch = epoch;
  return next;
}

EpochRecord decide_detach(const EpochRecord& current, const std::string& node_id) {
  EpochRecord next = current;
  if (next.holder == node_id) next.holder.reset();
  return next;
}

Status check_path(const std::string& dataset_id, const EpochRecord& current,
                  const std::string& node_id, uint64_t epoch) {
  if (epoch < current.epoch) {
    return make_error(ErrorCode::kConflict,
                      "dataset " + dataset_id + ": node \"" + node_id + "\" asked at epoch " +
                          std::to_string(epoch) + " but epoch " + std::to_string(current.epoch) +
                          " has been recorded since (" + held_by(current) +
                          "); this node is fenced and must stop using the dataset");
  }
  if (current.holder != node_id || epoch != current.epoch) {
    return make_error(ErrorCode::kNotFound,
                      "dataset " + dataset_id + " is not attached to node \"" + node_id +
                          "\" at epoch " + std::to_string(epoch) + " (" + held_by(current) +
                          " at epoch " + std::to_string(current.epoch) + "); attach it first");
  }
  return {};
}

}  // namespace berth
