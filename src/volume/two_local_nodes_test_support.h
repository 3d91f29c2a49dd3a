// Test support: the `local` driver's directories of two nodes, "a" and "b", under a fresh
// temporary directory removed after each test. Shared by the tests of local dataset copies
// (volume's local_transfer_test, agent's dataset_transfer_test).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "volume/volume_driver.h"

namespace berth::testing {

class TwoLocalNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "berth-transfer-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    a_ = make_local_driver(dir("a"));
    b_ = make_local_driver(dir("b"));
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string dir(const char* node) const { return (root_ / node).string(); }

  static std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path root_;
  std::unique_ptr<VolumeDriver> a_, b_;
};

}  // namespace berth::testing
