// Marathon's label selector (GET /v2/apps?label=..., docs/compatibility.md §2.1): selectors
// separated by commas must all hold. Forms: `key` (the label exists), `key==value`,
// `key!=value`, `key in (a, b)`, `key notin (a, b)`. Keys and values are [-A-Za-z0-9_.];
// other characters are written with a backslash before them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::api {

class LabelSelector {
 public:
  // kInvalidArgument naming the selector that cannot be read.
  static Result<LabelSelector> parse(const std::string& text);
  bool matches(const std::map<std::string, std::string>& labels) const;

 private:
  struct Term {
    enum class Op { kExists, kEquals, kNotEquals, kIn, kNotIn } op = Op::kExists;
    std::string key;
    std::vector<std::string> values;
  };
  std::vector<Term> terms_;
};

}  // namespace berth::api
