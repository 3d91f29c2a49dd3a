// ConstraintPattern: the value of a Marathon LIKE or UNLIKE constraint, compiled for matching.
// Users write these patterns, so they run on RE2, whose matching time is linear in the text
// whatever the pattern; a backtracking engine (std::regex) never returns on "(((.*)*)*)*x".
// Both app validation (model/) and placement (scheduler/) compile through compile(), so a
// pattern that validates is exactly one the scheduler can run. RE2's headers stay in the .cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/result.h"

namespace re2 {
class RE2;
}

namespace berth::pattern {

// Longer patterns are refused before RE2 sees them.
inline constexpr size_t kMaxPatternLength = 1024;
// What RE2 may use for one pattern: its compiled program and the DFA caches of matching. A
// pattern whose program does not fit (e.g. "\pL{1000}": a thousand copies of a Unicode class)
// is refused; a DFA that fills its share restarts or falls back to RE2's NFA, still linear.
inline constexpr int64_t kMaxMemoryBytes = int64_t{1} << 20;

class ConstraintPattern {
 public:
  // Compiles `pattern` (RE2 syntax, close to Java's and ECMAScript's without backreferences
  // and lookaround). kInvalidArgument when it is empty, longer than kMaxPatternLength, not
  // valid RE2 syntax, or too large to compile within kMaxMemoryBytes; the message quotes the
  // pattern and says why.
  static Result<ConstraintPattern> compile(std::string_view pattern);

  ConstraintPattern(ConstraintPattern&&) noexcept;
  ConstraintPattern& operator=(ConstraintPattern&&) noexcept;
  ~ConstraintPattern();

  // Whether the pattern matches the whole of `text`: Marathon's LIKE is anchored at both ends.
  bool full_match(std::string_view text) const;

 private:
  explicit ConstraintPattern(std::unique_ptr<const re2::RE2> compiled);

  std::unique_ptr<const re2::RE2> compiled_;
};

}  // namespace berth::pattern
