// RegexCache: the LIKE and UNLIKE patterns of one place() call. std::regex is slow to build
// and to run, so each distinct pattern is compiled once per call and matched against each
// value of a field at most once. Internal to scheduler/.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/attribute_index.h"

namespace berth::scheduler {

class RegexCache {
 public:
  // `index` must outlive the cache.
  explicit RegexCache(const AttributeIndex& index) : index_(index) {}

  // A table of match results of `pattern` over the values of `field`.
  uint32_t table(const std::string& pattern, uint32_t field);
  // False when the pattern is not a valid regular expression; it then matches nothing.
  bool valid(uint32_t table) const { return patterns_[tables_[table].pattern].has_value(); }
  // Whether the pattern matches the whole text of `value` (which is not kNoValue).
  bool matches(uint32_t table, int32_t value);

 private:
  struct Table {
    uint32_t pattern = 0;
    uint32_t field = 0;
    std::vector<int8_t> results;  // value -> -1 not tried yet, 0 no match, 1 match
  };

  const AttributeIndex& index_;
  std::unordered_map<std::string, uint32_t> pattern_ids_;
  std::vector<std::optional<std::regex>> patterns_;
  std::unordered_map<uint64_t, uint32_t> table_ids_;  // (pattern << 32 | field) -> table
  std::vector<Table> tables_;
};

}  // namespace berth::scheduler
