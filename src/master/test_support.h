// What the master's unit tests share: ids counted up, and apps parsed as the API parses them.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/ids.h"
#include "model/app.h"

namespace berth::master::testing {

// UUID-shaped ids 00000000-0000-4000-8000-000000000001, ...2, ...; secrets "secret-N".
class CountingIds final : public IdSource {
 public:
  std::string uuid() override {
    char buf[37];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", ++n_);
    return buf;
  }
  std::string secret() override { return "secret-" + std::to_string(++n_); }

 private:
  int n_ = 0;
};

inline model::App parsed_app(const std::string& body) {
  model::ParseOptions options;
  options.version = "2026-12-04T10:00:00.000Z";
  auto outcome = model::parse_app(nlohmann::json::parse(body), options);
  EXPECT_TRUE(outcome.app.has_value()) << body;
  return *outcome.app;
}

}  // namespace berth::master::testing
