// An app definition as POST /v2/apps and PATCH /v2/apps/{id} receive it: berth::json::parse,
// then parse_app (or merge_app onto an existing app) with its validation, as the API does for
// a JSON object. A valid app must serialise to the store's JSON and restore to the same app,
// and every refusal must serialise as Marathon's 422 body.
#include "fuzz_input.h"
#include "json/bounded.h"
#include "model/app.h"

namespace {

using namespace berth;

constexpr const char* kVersion = "2024-01-02T03:04:05.678Z";
constexpr const char* kLaterVersion = "2024-02-03T04:05:06.789Z";

void check_outcome(const model::ParseOutcome& outcome) {
  if (!outcome.app) {
    fuzz::require(!outcome.errors.empty(), "a refused definition has errors");
    json::dump(model::validation_error_body(outcome.errors));
    return;
  }
  nlohmann::json stored = model::app_to_json(*outcome.app);
  fuzz::require(json::parse(json::dump(stored)).ok(), "the stored JSON of an app parses");
  model::ParseOutcome restored = model::restore_app(stored);
  fuzz::require(restored.app.has_value(), "the store's copy of a valid app restores");
  fuzz::require(restored.app && *restored.app == *outcome.app,
                "restore_app(app_to_json(app)) == app");
}

const model::App& existing_app() {
  static const model::App app = [] {
    nlohmann::json body = {
        {"id", "/prod/web"},
        {"cmd", "sleep 100"},
        {"instances", 2},
        {"constraints", nlohmann::json::array({nlohmann::json::array({"hostname", "UNIQUE"})})}};
    model::ParseOptions options;
    options.version = kVersion;
    return model::parse_app(body, options).app.value();
  }();
  return app;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<nlohmann::json> body = json::parse(fuzz::as_text(data, size));
  if (!body.ok() || !body->is_object()) return 0;  // the API answers these itself
  model::is_rollback_request(*body);

  model::ParseOptions options;
  options.base_group = "/prod";
  options.version = kVersion;
  check_outcome(model::parse_app(*body, options));

  options.path_id = "/prod/web";
  check_outcome(model::parse_app(*body, options));

  check_outcome(model::merge_app(existing_app(), *body, kLaterVersion));
  return 0;
}
