// Flocker dataset bodies: POST /v1/configuration/datasets (create) and .../datasets/{id}
// (update), after berth::json::parse, and the store's copy read back. A created dataset must
// round-trip through dataset_to_json and dataset_from_json.
#include "fuzz_input.h"
#include "json/bounded.h"
#include "model/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth;
  Result<nlohmann::json> body = json::parse(fuzz::as_text(data, size));
  if (!body.ok()) return 0;

  Result<model::Dataset> created =
      model::parse_dataset_create(*body, "11111111-2222-3333-4444-555555555555", "shared");
  if (created.ok()) {
    nlohmann::json stored = model::dataset_to_json(*created);
    fuzz::require(json::parse(json::dump(stored)).ok(), "the stored JSON of a dataset parses");
    Result<model::Dataset> restored = model::dataset_from_json(stored);
    fuzz::require(restored.ok(), "the store's copy of a created dataset reads back");
    fuzz::require(restored.ok() && *restored == *created,
                  "dataset_from_json(dataset_to_json(d)) == d");
  } else {
    fuzz::require(!created.error().message.empty(), "a refusal says why");
  }

  Result<model::DatasetUpdate> update = model::parse_dataset_update(*body);
  if (update.ok() && update->maximum_size)
    (void)model::validate_maximum_size(*update->maximum_size);

  Result<model::Dataset> stored = model::dataset_from_json(*body);
  if (stored.ok()) json::dump(model::dataset_to_json(*stored));
  return 0;
}
