// ClientEnvironment: what the `berth` client commands need from the process besides the
// master — the time, a way to wait between polls, stdin and environment variables. main()
// passes the real process; tests pass a fake that advances a ManualClock instead of sleeping.
#pragma once

#include <chrono>
#include <istream>
#include <optional>
#include <string>

#include "base/clock.h"

namespace berth::cli {

class ClientEnvironment {
 public:
  virtual ~ClientEnvironment() = default;
  virtual MonoTime now() const = 0;
  // Blocks for `duration`; a fake advances its clock instead.
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;
  // Where `berth app deploy -` reads the app definition from. Owned by the environment.
  virtual std::istream& input() = 0;
  // The value of an environment variable, or nullopt when it is unset.
  virtual std::optional<std::string> variable(const std::string& name) const = 0;
};

}  // namespace berth::cli
