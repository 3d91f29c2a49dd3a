// Helpers shared by the model's app tests.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/app.h"

namespace berth::model::app_testing {

using nlohmann::json;

inline constexpr const char* kVersion = "2024-01-02T03:04:05.678Z";
inline constexpr const char* kLaterVersion = "2024-02-03T04:05:06.789Z";

inline ParseOutcome parse(const json& body, const std::string& base_group = "/") {
  ParseOptions options;
  options.base_group = base_group;
  options.version = kVersion;
  return parse_app(body, options);
}

// Parses a body that must be valid; the failure message shows Marathon's error body.
inline App parse_valid(const json& body) {
  ParseOutcome outcome = parse(body);
  EXPECT_TRUE(outcome.app.has_value()) << validation_error_body(outcome.errors).dump();
  EXPECT_TRUE(outcome.errors.empty());
  return outcome.app.value_or(App{});
}

// {"id":"x","cmd":"sleep 1"} plus `fields`. Constraints are built with json::array: nlohmann
// reads a braced list of [string, value] pairs as an object.
inline json minimal(const json& fields = json::object()) {
  json body = {{"id", "x"}, {"cmd", "sleep 1"}};
  body.update(fields);
  return body;
}

inline std::vector<std::string> errors_at(const ParseOutcome& outcome, const std::string& path) {
  for (const FieldError& error : outcome.errors) {
    if (error.path == path) return error.errors;
  }
  return {};
}

// The single error message at `path` of parsing `body`, failing the test if the body parsed.
inline std::string error_for(const json& body, const std::string& path) {
  ParseOutcome outcome = parse(body);
  EXPECT_FALSE(outcome.app.has_value()) << "expected an error at " << path;
  std::vector<std::string> errors = errors_at(outcome, path);
  EXPECT_EQ(errors.size(), 1u) << validation_error_body(outcome.errors).dump();
  return errors.empty() ? "" : errors[0];
}

inline const json& extra(const App& app) { return app.extra.get(); }

}  // namespace berth::model::app_testing
