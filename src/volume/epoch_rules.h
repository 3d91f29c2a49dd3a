// The epoch fence as pure decisions (docs/fencing.md §2): given a dataset's recorded holder and
// epoch, may this node attach it, or use its mount? Every driver, the in-memory fake included,
// applies these functions under its per-dataset lock, so the rules cannot drift between
// drivers. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "volume/volume_driver.h"

namespace berth {

// What a driver records for a dataset, in storage every node sees.
struct EpochRecord {
  uint64_t size_bytes = 0;
  std::optional<std::string> holder;  // node id holding it, if any
  uint64_t epoch = 0;                 // the highest epoch recorded so far

  bool operator==(const EpochRecord&) const = default;
};

VolumeInfo to_volume_info(const std::string& dataset_id, const EpochRecord& record);

// The record after `node_id` attaches at `epoch`: unchanged for a re-attach by the holder at
// the recorded epoch, `node_id` as holder otherwise. kConflict (naming both epochs) when
// `epoch` is older than the recorded one, or when another node holds it at the same epoch.
Result<EpochRecord> decide_attach(const std::string& dataset_id, const EpochRecord& current,
                                  const std::string& node_id, uint64_t epoch);

// The record after `node_id` detaches: the holder is cleared only if it is `node_id`, so a
// fenced node detaching late cannot release the new holder's claim. The epoch never drops.
EpochRecord decide_detach(const EpochRecord& current, const std::string& node_id);

// Ok when `node_id` holds the dataset at exactly `epoch`. kConflict when a newer epoch has
// been recorded (the node is fenced); kNotFound when it is not attached there at `epoch`.
Status check_path(const std::string& dataset_id, const EpochRecord& current,
                  const std::string& node_id, uint64_t epoch);

}  // namespace berth
