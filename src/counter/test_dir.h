// A fresh directory under $TMPDIR (or /tmp) for one test, removed afterwards unless
// BERTH_KEEP_TEST_DIRS is set. Shared by the counter tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace berth::counter {

class TestDir {
 public:
  TestDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/berth-counter-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TestDir() {
    std::error_code ec;
    if (!path_.empty() && !std::getenv("BERTH_KEEP_TEST_DIRS")) {
      std::filesystem::remove_all(path_, ec);
    }
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::string& path() const { return path_; }  // empty if mkdtemp failed

 private:
  std::string path_;
};

}  // namespace berth::counter
