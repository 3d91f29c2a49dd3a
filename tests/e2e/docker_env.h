// Helpers of the end-to-end tests that drive the real Docker CLI: running a command with a
// time limit, and requiring Docker and the test image (a skip elsewhere, a failure under
// CI=true: CI must not pass by running nothing).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace berth::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command (the tests' own fixed strings only) with a time limit.
inline CommandResult run(const std::string& command, int timeout_seconds = 150) {
  std::string full = "timeout " + std::to_string(timeout_seconds) + " " + command + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0)
    result.output.append(chunk.data(), n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// What is missing for the Docker tests, or "".
inline std::string docker_missing() {
  if (run("docker info", 30).exit_code != 0) {
    return "Docker is not available (`docker info` failed); run scripts/ensure-docker";
  }
  if (run("docker image inspect berth/busybox", 30).exit_code != 0) {
    return "the berth/busybox image is missing; run scripts/build-test-images";
  }
  return "";
}

inline bool in_ci() { return std::getenv("CI") && std::string(std::getenv("CI")) == "true"; }

}  // namespace berth::e2e

// In a test body: skips (or fails under CI=true) when Docker or the test image is missing.
#define BERTH_REQUIRE_DOCKER()                                                                   \
  do {                                                                                           \
    std::string berth_missing = ::berth::e2e::docker_missing();                                  \
    if (!berth_missing.empty()) {                                                                \
      if (::berth::e2e::in_ci()) FAIL() << berth_missing << " (CI=true: a failure, not a skip)"; \
      GTEST_SKIP() << berth_missing;                                                             \
    }                                                                                            \
  } while (0)
