#include "scheduler/regex_cache.h"

namespace berth::scheduler {

uint32_t RegexCache::table(const std::string& pattern, uint32_t field) {
  auto [pattern_it, new_pattern] =
      pattern_ids_.try_emplace(pattern, static_cast<uint32_t>(patterns_.size()));
  if (new_pattern) patterns_.push_back(pattern::ConstraintPattern::compile(pattern));
  uint32_t pattern_id = pattern_it->second;
  uint64_t key = (uint64_t{pattern_id} << 32) | field;
  auto [table_it, new_table] = table_ids_.try_emplace(key, static_cast<uint32_t>(tables_.size()));
  if (new_table) {
    tables_.push_back(Table{pattern_id, field, std::vector<int8_t>(index_.value_count(field), -1)});
  }
  return table_it->second;
}

const std::string* RegexCache::problem(uint32_t table) const {
  const Result<pattern::ConstraintPattern>& compiled = patterns_[tables_[table].pattern];
  return compiled.ok() ? nullptr : &compiled.error().message;
}

bool RegexCache::matches(uint32_t table, int32_t value) {
  Table& t = tables_[table];
  int8_t& result = t.results[value];
  if (result < 0) {
    const Result<pattern::ConstraintPattern>& compiled = patterns_[t.pattern];
    result = compiled.ok() && compiled->full_match(index_.text(t.field, value)) ? 1 : 0;
  }
  return result == 1;
}

}  // namespace berth::scheduler
