#include "scheduler/regex_cache.h"

namespace berth::scheduler {

uint32_t RegexCache::table(const std::string& pattern, uint32_t field) {
  auto [pattern_it, new_pattern] = pattern_ids_.try_emplace(pattern, static_cast<uint32_t>(patterns_.size()));
  if (new_pattern) {
    // std::regex reports a bad pattern by throwing; this is the edge where we catch it. model/
    // validates patterns, so this only guards against dialect differences.
    try {
      patterns_.emplace_back(std::regex(pattern, std::regex::ECMAScript | std::regex::optimize));
    } catch (const std::regex_error&) {
      patterns_.emplace_back(std::nullopt);
    }
  }
  uint32_t pattern_id = pattern_it->second;
  uint64_t key = (uint64_t{pattern_id} << 32) | field;
  auto [table_it, new_table] = table_ids_.try_emplace(key, static_cast<uint32_t>(tables_.size()));
  if (new_table) {
    tables_.push_back(Table{pattern_id, field, std::vector<int8_t>(index_.value_count(field), -1)});
  }
  return table_it->second;
}

bool RegexCache::matches(uint32_t table, int32_t value) {
  Table& t = tables_[table];
  int8_t& result = t.results[value];
  if (result < 0) {
    const std::optional<std::regex>& regex = patterns_[t.pattern];
    std::string_view text = index_.text(t.field, value);
    result = 0;
    try {
      if (regex.has_value() && std::regex_match(text.begin(), text.end(), *regex)) result = 1;
    } catch (const std::regex_error&) {
      // A pattern too complex to run on this value does not match it.
    }
  }
  return result == 1;
}

}  // namespace berth::scheduler
