// The one JSON reader of berth: every parser of bytes that came from outside the process (API
// bodies, agent messages, plugin requests, Docker's answers, what is read back from the store)
// goes through parse(), which bounds depth and size before nlohmann/json sees the text, so no
// input can overflow the stack of a recursive walk (dump, get<>, a visitor) or take unbounded
// memory. See docs/security.md.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::json {

struct Limits {
  size_t max_depth = 64;               // nesting of arrays and objects
  size_t max_bytes = size_t{8} << 20;  // the text's length
};

// Parses `text` as one JSON document. kInvalidArgument, with a message a user can act on, when
// the text is larger than limits.max_bytes, nests deeper than limits.max_depth, is not valid
// UTF-8, holds a number too large for a double, or is not JSON.
Result<nlohmann::json> parse(std::string_view text, const Limits& limits = {});

// parse(), for call sites that test is_discarded(): a discarded value on any failure.
nlohmann::json parse_or_discarded(std::string_view text, const Limits& limits = {});

// Serialises `value`; invalid UTF-8 in strings (which parse() never produces, but a path or a
// header can carry) is replaced by U+FFFD instead of throwing.
std::string dump(const nlohmann::json& value, int indent = -1);

// The depth of the deepest array or object in `text`, scanning no further than `stop_after`
// levels (strings are skipped, so brackets inside them do not count). Text that is not JSON
// still gets a number.
size_t nesting_depth(std::string_view text, size_t stop_after);

}  // namespace berth::json
