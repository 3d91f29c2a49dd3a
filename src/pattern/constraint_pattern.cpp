#include "pattern/constraint_pattern.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>

namespace berth::pattern {
namespace {

// The pattern as a message shows it: quoted, cut to about 64 bytes at a UTF-8 character
// boundary (the message ends up in JSON). Appending, unlike "'" + std::string(...), does not
// trip GCC 12's false -Wrestrict.
std::string quote(std::string_view pattern) {
  constexpr size_t kShown = 64;
  size_t cut = std::min(pattern.size(), kShown);
  while (cut < pattern.size() && cut > 0 &&
         (static_cast<unsigned char>(pattern[cut]) & 0xC0) == 0x80)
    --cut;
  std::string quoted = "'";
  quoted.append(pattern.substr(0, cut));
  quoted.append(cut < pattern.size() ? "...'" : "'");
  return quoted;
}

// Why RE2 refused a pattern, with what to do where RE2's own words do not say it.
std::string reason(const RE2& refused) {
  switch (refused.error_code()) {
    case RE2::ErrorPatternTooLarge:
      return "it compiles to more than " + std::to_string(kMaxMemoryBytes >> 10) +
             " KiB; use fewer or smaller counted repetitions";
    case RE2::ErrorBadEscape:
    case RE2::ErrorBadPerlOp:
      return refused.error() + " (backreferences and lookaround are not supported)";
    default:
      return refused.error();
  }
}

}  // namespace

Result<ConstraintPattern> ConstraintPattern::compile(std::string_view pattern) {
  if (pattern.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "LIKE and UNLIKE require a non-empty, regular expression value");
  }
  if (pattern.size() > kMaxPatternLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      "is " + std::to_string(pattern.size()) +
                          " characters long; LIKE and UNLIKE patterns may have at most " +
                          std::to_string(kMaxPatternLength));
  }
  RE2::Options options;
  options.set_log_errors(false);  // the error goes back to the user, not to stderr
  options.set_max_mem(kMaxMemoryBytes);
  options.set_never_capture(true);  // only whether it matches counts
  auto compiled =
      std::make_unique<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!compiled->ok()) {
    return make_error(ErrorCode::kInvalidArgument,
                      quote(pattern) + " is not a valid regular expression: " + reason(*compiled));
  }
  return ConstraintPattern(std::move(compiled));
}

ConstraintPattern::ConstraintPattern(std::unique_ptr<const RE2> compiled)
    : compiled_(std::move(compiled)) {}
ConstraintPattern::ConstraintPattern(ConstraintPattern&&) noexcept = default;
ConstraintPattern& ConstraintPattern::operator=(ConstraintPattern&&) noexcept = default;
ConstraintPattern::~ConstraintPattern() = default;

bool ConstraintPattern::full_match(std::string_view text) const {
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *compiled_);
}

}  // namespace berth::pattern
