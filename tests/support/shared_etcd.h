// One etcd for a whole test process (tests/support/etcd_process.h), started by the first test
// that needs it and killed when the tests end; each test uses its own key prefix. A test binary
// registers it once:
//   ::testing::Environment* const kSharedEtcd = ::testing::AddGlobalTestEnvironment(new
//   SharedEtcd);
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/etcd_process.h"

namespace berth::testing {

class SharedEtcd : public ::testing::Environment {
 public:
  // The etcd, or nullptr with the reason in *error (the same reason for every later caller).
  static EtcdProcess* get(std::string* error) {
    if (!process_ && error_.empty()) process_ = EtcdProcess::start(&error_);
    *error = error_;
    return process_.get();
  }
  void TearDown() override { process_.reset(); }

 private:
  static inline std::unique_ptr<EtcdProcess> process_;
  static inline std::string error_;
};

}  // namespace berth::testing
