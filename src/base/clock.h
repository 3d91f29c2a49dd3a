// Clock: the only source of time for berth's shells. Pure code takes time as a parameter;
// shells take a Clock& so tests and simulations can drive a virtual clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace berth {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime wall_now() const = 0;
  virtual MonoTime mono_now() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  MonoTime mono_now() const override { return std::chrono::steady_clock::now(); }
};

// A clock advanced by hand, for tests.
class ManualClock final : public Clock {
 public:
  WallTime wall_now() const override { return wall_; }
  MonoTime mono_now() const override { return mono_; }
  void advance(std::chrono::nanoseconds d) {
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
    mono_ += std::chrono::duration_cast<MonoTime::duration>(d);
  }
  void set_wall(WallTime t) { wall_ = t; }

 private:
  WallTime wall_{std::chrono::seconds(1700000000)};
  MonoTime mono_{};
};

// Formats as ISO-8601 UTC with milliseconds, as Marathon does: 2015-09-29T15:59:51.164Z.
std::string format_iso8601(WallTime t);
// Parses the format above (milliseconds optional). Returns false on anything else.
bool parse_iso8601(const std::string& text, WallTime* out);

}  // namespace berth
