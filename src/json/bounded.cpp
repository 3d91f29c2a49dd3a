#include "json/bounded.h"

namespace berth::json {

size_t nesting_depth(std::string_view text, size_t stop_after) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_after) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Result<nlohmann::json> parse(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "JSON document of " +
                                                       std::to_string(text.size()) +
                                                       " bytes is larger than the limit of " +
                                                       std::to_string(limits.max_bytes) + " bytes");
  }
  if (nesting_depth(text, limits.max_depth) > limits.max_depth) {
    return make_error(ErrorCode::kInvalidArgument,
                      "JSON nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    // nlohmann's messages start with "[json.exception.parse_error.101] "; keep the useful part.
    size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    if (what.find("UTF-8") != std::string::npos ||
        what.find("invalid string") != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument, "invalid JSON (text must be UTF-8): " + what);
    }
    return make_error(ErrorCode::kInvalidArgument, "invalid JSON: " + what);
  }
}

nlohmann::json parse_or_discarded(std::string_view text, const Limits& limits) {
  auto parsed = parse(text, limits);
  if (!parsed) return nlohmann::json(nlohmann::json::value_t::discarded);
  return std::move(*parsed);
}

std::string dump(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace berth::json
