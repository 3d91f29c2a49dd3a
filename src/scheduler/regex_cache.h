// RegexCache: the LIKE and UNLIKE patterns of one place() call. Compiling a pattern costs far
// more than matching it, so each distinct pattern is compiled once per call and matched against
// each value of a field at most once. Patterns run on RE2 (pattern/constraint_pattern.h), in
// time linear in the value. Internal to scheduler/.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "pattern/constraint_pattern.h"
#include "scheduler/attribute_index.h"

namespace berth::scheduler {

class RegexCache {
 public:
  // `index` must outlive the cache.
  explicit RegexCache(const AttributeIndex& index) : index_(index) {}

  // A table of match results of `pattern` over the values of `field`.
  uint32_t table(const std::string& pattern, uint32_t field);
  // Why the pattern of `table` cannot be compiled, or nullptr when it can. A pattern that
  // cannot be compiled matches nothing.
  const std::string* problem(uint32_t table) const;
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
  std::vector<Result<pattern::ConstraintPattern>> patterns_;
  std::unordered_map<uint64_t, uint32_t> table_ids_;  // (pattern << 32 | field) -> table
  std::vector<Table> tables_;
};

}  // namespace berth::scheduler
