#include "base/clock.h"

#include <cstdio>
#include <ctime>

namespace berth {

std::string format_iso8601(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

bool parse_iso8601(const std::string& text, WallTime* out) {
  std::tm tm{};
  int ms = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  const char* rest = text.c_str() + consumed;
  if (*rest == '.') {
    int digits = 0;
    ++rest;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) ms = ms * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0) return false;
    for (int i = digits; i < 3; ++i) ms *= 10;
  }
  if (*rest != 'Z' || rest[1] != '\0') return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return false;
  *out = WallTime(std::chrono::milliseconds(static_cast<int64_t>(secs) * 1000 + ms));
  return true;
}

}  // namespace berth
