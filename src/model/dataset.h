// Dataset: Flocker's dataset configuration (docs/compatibility.md §3.1) as berth stores it, plus
// the epoch of docs/fencing.md §2. Parsing follows Flocker's JSON schema for the v1 API;
// serialising gives Flocker's shapes. Pure: ids are passed in. Used by the master's dataset API and
// controller, and by the app model for external volumes.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "base/result.h"

namespace berth::model {

inline constexpr uint64_t kMinimumDatasetSize = 67108864;    // 64 MiB, Flocker's minimum
inline constexpr uint64_t kDefaultDatasetSize = 1073741824;  // 1 GiB when none is given

struct Dataset {
  std::string dataset_id;
  std::string primary;  // the node (agent id) that should hold it; empty: nobody yet
  std::optional<uint64_t> maximum_size;
  std::map<std::string, std::string> metadata;  // "name" is the volume name
  bool deleted = false;
  std::string driver = "shared";  // shared | loop | local (berth extension)
  uint64_t epoch = 0;             // grows with every change of primary
  // A `local` dataset being copied to `primary`: the node whose copy is the data until
  // `primary` reports it attached at `epoch`. Empty when no copy is pending.
  std::string moving_from;

  bool operator==(const Dataset&) const = default;
};

// A POST /v1/configuration/datasets body, validated. `generated_id` is used when the body
// has no dataset_id. Errors are Flocker-style descriptions naming the field and value.
Result<Dataset> parse_dataset_create(const nlohmann::json& body, const std::string& generated_id,
                                     const std::string& default_driver);
// A POST /v1/configuration/datasets/{id} body: only "primary" (and maximum_size) may change.
struct DatasetUpdate {
  std::optional<std::string> primary;
  std::optional<uint64_t> maximum_size;
};
Result<DatasetUpdate> parse_dataset_update(const nlohmann::json& body);

bool is_uuid(const std::string& text);
Status validate_maximum_size(uint64_t size);

// Flocker's dataset_config JSON: {dataset_id, primary, deleted, metadata, maximum_size?}
// plus berth's "driver", "epoch" and, during a copy, "moving_from".
nlohmann::json dataset_to_json(const Dataset& dataset);
// The store's copy (dataset_to_json output) back into a Dataset.
Result<Dataset> dataset_from_json(const nlohmann::json& stored);

}  // namespace berth::model
