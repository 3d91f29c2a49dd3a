// The one use of std::regex in model/: whether a LIKE/UNLIKE constraint value compiles as the
// scheduler will compile it (std::regex, ECMAScript grammar).
//
// GCC 12 reports a false -Wmaybe-uninitialized inside <regex>'s std::function when building
// with sanitizers; it is silenced for this file only, which contains nothing else.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <regex>

#include "model/parse_support.h"

namespace berth::model::detail {

bool compiles_as_regex(const std::string& pattern) {
  try {
    std::regex compiled(pattern);
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

}  // namespace berth::model::detail
