// What the master's unit tests share: ids counted up, agents' registrations, and apps parsed as
// the API parses them.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/ids.h"
#include "model/app.h"
#include "protocol/messages.h"

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

// A registration of agent `id` (hostname "node-<id>") with the join token `token`, with room
// for many small tasks: 4 cpus, 4 GiB, 10 GB, ports 31000-31099.
inline protocol::RegisterRequest registration(const std::string& id, const std::string& token) {
  protocol::RegisterRequest r;
  r.token = token;
  r.agent_id = id;
  r.hostname = "node-" + id;
  r.resources.cpus = 4;
  r.resources.mem = 4096;
  r.resources.disk = 10000;
  r.resources.ports = {{31000, 31099}};
  return r;
}

inline model::App parsed_app(const std::string& body) {
  model::ParseOptions options;
  options.version = "2026-12-04T10:00:00.000Z";
  auto outcome = model::parse_app(nlohmann::json::parse(body), options);
  EXPECT_TRUE(outcome.app.has_value()) << body;
  return *outcome.app;
}

}  // namespace berth::master::testing
