#include "scheduler/request_constraints.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace berth::scheduler {
namespace {

bool parse_count(const std::string& text, uint32_t* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Whether the constraint needs the number of the app's tasks per value of its field.
bool counts_tasks(const CompiledConstraint& c) {
  return c.op == Op::kUnique || c.op == Op::kMaxPer || c.op == Op::kGroupBy ||
         (c.op == Op::kCluster && !c.has_value);
}

}  // namespace

void RequestConstraints::compile(const Constraint& source, CompiledConstraint& c) {
  c = CompiledConstraint{};
  c.source = &source;
  c.field = index_.field(source.field);
  bool has_value = source.value.has_value() && !source.value->empty();
  const std::string& op = source.op;
  if (op == "UNIQUE") {
    c.op = Op::kUnique;
  } else if (op == "CLUSTER") {
    // Marathon treats an empty value like no value.
    c.op = Op::kCluster;
    c.has_value = has_value;
    if (has_value) c.target = index_.find(c.field, *source.value);
  } else if (op == "GROUP_BY") {
    c.op = Op::kGroupBy;
    if (has_value && !parse_count(*source.value, &c.limit)) {
      c.op = Op::kInvalid;
      c.problem = "GROUP_BY must define an integer value or else no value at all";
    }
  } else if (op == "LIKE" || op == "UNLIKE") {
    c.op = op == "LIKE" ? Op::kLike : Op::kUnlike;
    if (!has_value) {
      c.op = Op::kInvalid;
      c.problem = "LIKE and UNLIKE require a non-empty, regular expression value";
    } else {
      c.regex = regexes_.table(*source.value, c.field);
      if (const std::string* problem = regexes_.problem(c.regex)) {
        c.op = Op::kInvalid;
        c.problem = *problem;
      }
    }
  } else if (op == "MAX_PER") {
    c.op = Op::kMaxPer;
    if (!has_value || !parse_count(*source.value, &c.limit)) {
      c.op = Op::kInvalid;
      c.problem = "MAX_PER requires an integer value";
    }
  } else if (op == "IS") {
    c.op = Op::kIs;
    if (!source.value.has_value()) {
      c.op = Op::kInvalid;
      c.problem = "IS requires a value";
    } else {
      c.target = index_.find(c.field, *source.value);
    }
  } else {
    c.op = Op::kInvalid;
    c.problem =
        "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or "
        "IS";
  }
}

void RequestConstraints::begin(const std::vector<Constraint>& constraints,
                               const std::vector<uint32_t>& app_nodes) {
  end();
  constraints_.resize(constraints.size());
  for (size_t i = 0; i < constraints.size(); ++i) compile(constraints[i], constraints_[i]);

  for (const CompiledConstraint& c : constraints_) {
    if (!counts_tasks(c)) continue;
    if (std::find(count_fields_.begin(), count_fields_.end(), c.field) == count_fields_.end()) {
      count_fields_.push_back(c.field);
    }
  }
  for (uint32_t f : count_fields_) {
    if (counts_.size() <= f) {
      counts_.resize(f + 1);
      touched_.resize(f + 1);
    }
    // Counts are left all zero by end(), so each field's table is allocated once per call.
    if (counts_[f].size() != index_.value_count(f)) counts_[f].assign(index_.value_count(f), 0);
  }
  for (uint32_t node : app_nodes) {
    for (uint32_t f : count_fields_) {
      int32_t v = index_.value(f, node);
      if (v != kNoValue && counts_[f][v]++ == 0) touched_[f].push_back(v);
    }
  }

  // Search order: an invalid constraint fails at once; GROUP_BY walks its values so it can
  // tell which are candidates; CLUSTER/IS go straight to their value's nodes; LIKE, UNIQUE and
  // MAX_PER on an attribute walk its values; everything else walks all nodes.
  int invalid = -1, group = -1, fixed = -1, like = -1, counted = -1;
  primary_ = cluster_any_ = value_driver_ = -1;
  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    const CompiledConstraint& c = constraints_[i];
    bool hostname = index_.is_hostname(c.field);
    switch (c.op) {
      case Op::kInvalid:
        if (invalid < 0) invalid = i;
        break;
      case Op::kGroupBy:
        if (group < 0) group = i;
        break;
      case Op::kIs:
        if (fixed < 0) fixed = i;
        break;
      case Op::kCluster:
        if (c.has_value && fixed < 0) fixed = i;
        if (!c.has_value && cluster_any_ < 0) cluster_any_ = i;
        break;
      case Op::kLike:
        if (!hostname && like < 0) like = i;
        break;
      case Op::kUnique:
      case Op::kMaxPer:
        if (!hostname && counted < 0) counted = i;
        break;
      case Op::kUnlike:
        break;
    }
  }
  primary_ = invalid >= 0 ? invalid : group >= 0 ? group : fixed;
  fallback_ = Driver{};
  int walked = like >= 0 ? like : counted;
  if (walked >= 0)
    fallback_ = Driver{Driver::Kind::kValues, walked, constraints_[walked].field, kNoValue};
  if (primary_ >= 0 && primary_ == group) {
    value_driver_ = group;
  } else if (primary_ < 0) {
    value_driver_ = walked;
  }
  if (value_driver_ >= 0) pruned_.assign(index_.value_count(constraints_[value_driver_].field), 0);

  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    if (constraints_[i].op == Op::kGroupBy) compute_level(i);
  }
}

void RequestConstraints::end() {
  for (uint32_t f : count_fields_) {
    for (int32_t v : touched_[f]) counts_[f][v] = 0;
    touched_[f].clear();
  }
  count_fields_.clear();
}

Driver RequestConstraints::driver() const {
  if (primary_ >= 0) {
    const CompiledConstraint& c = constraints_[primary_];
    if (c.op == Op::kInvalid) return Driver{Driver::Kind::kOneValue, primary_, c.field, kNoValue};
    if (c.op == Op::kGroupBy) return Driver{Driver::Kind::kValues, primary_, c.field, kNoValue};
    return Driver{Driver::Kind::kOneValue, primary_, c.field, c.target};
  }
  if (cluster_any_ >= 0) {
    uint32_t f = constraints_[cluster_any_].field;
    uint32_t u = used(f);
    if (u == 1) return Driver{Driver::Kind::kOneValue, cluster_any_, f, touched_[f][0]};
    if (u > 1) return Driver{Driver::Kind::kOneValue, cluster_any_, f, kNoValue};
  }
  return fallback_;
}

bool RequestConstraints::candidate(int i, int32_t value) {
  if (i == value_driver_ && pruned_[value]) return false;
  return index_.alive_nodes(constraints_[i].field, value) > 0;
}

bool RequestConstraints::group_accepts(const CompiledConstraint& c, int32_t value) const {
  // With an expected number of values, Marathon fills that many distinct values before it
  // puts a second task on any of them.
  if (c.limit > 0 && used(c.field) < c.limit) return count(c.field, value) == 0;
  return count(c.field, value) <= c.level;
}

bool RequestConstraints::accepts(int i, int32_t value) {
  if (!candidate(i, value)) return false;
  const CompiledConstraint& c = constraints_[i];
  switch (c.op) {
    case Op::kGroupBy:
      return group_accepts(c, value);
    case Op::kLike:
      return regexes_.matches(c.regex, value);
    case Op::kUnique:
      return count(c.field, value) == 0;
    case Op::kMaxPer:
      return count(c.field, value) < c.limit;
    default:
      return true;
  }
}

void RequestConstraints::prune(int i, int32_t value) {
  if (pruned_[value]) return;
  bool was_candidate = candidate(i, value);
  pruned_[value] = 1;
  if (was_candidate && constraints_[i].op == Op::kGroupBy) left_level(i, value);
}

void RequestConstraints::compute_level(int i) {
  CompiledConstraint& c = constraints_[i];
  uint32_t level = std::numeric_limits<uint32_t>::max();
  uint32_t at_level = 0;
  uint32_t values = index_.value_count(c.field);
  for (int32_t v = 0; v < static_cast<int32_t>(values); ++v) {
    if (!candidate(i, v)) continue;
    uint32_t n = count(c.field, v);
    if (n < level) {
      level = n;
      at_level = 1;
    } else if (n == level) {
      ++at_level;
    }
  }
  if (level != c.level) ++levels_version_;
  c.level = level;
  c.at_level = at_level;
}

// `value`, which had c.level tasks if it was at the level, stopped being a candidate at the
// level (it got a task, died or was pruned).
void RequestConstraints::left_level(int i, int32_t value) {
  CompiledConstraint& c = constraints_[i];
  if (count(c.field, value) != c.level || c.at_level == 0) return;
  if (--c.at_level == 0) compute_level(i);
}

void RequestConstraints::refresh_levels() {
  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    if (constraints_[i].op == Op::kGroupBy) compute_level(i);
  }
}

void RequestConstraints::record(uint32_t node) {
  for (uint32_t f : count_fields_) {
    int32_t v = index_.value(f, node);
    if (v != kNoValue && counts_[f][v]++ == 0) touched_[f].push_back(v);
  }
  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    CompiledConstraint& c = constraints_[i];
    if (c.op != Op::kGroupBy) continue;
    int32_t v = index_.value(c.field, node);
    if (v == kNoValue || !candidate(i, v)) continue;
    if (count(c.field, v) == c.level + 1 && c.at_level > 0 && --c.at_level == 0) compute_level(i);
  }
}

void RequestConstraints::node_died(uint32_t node) {
  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    CompiledConstraint& c = constraints_[i];
    if (c.op != Op::kGroupBy) continue;
    int32_t v = index_.value(c.field, node);
    if (v == kNoValue || index_.alive_nodes(c.field, v) > 0) continue;
    if (i == value_driver_ && pruned_[v]) continue;
    left_level(i, v);
  }
}

int RequestConstraints::first_unmet(uint32_t node) {
  for (int i = 0; i < static_cast<int>(constraints_.size()); ++i) {
    const CompiledConstraint& c = constraints_[i];
    if (c.op == Op::kInvalid) return i;
    int32_t v = index_.value(c.field, node);
    if (v == kNoValue) {
      if (c.op == Op::kUnlike) continue;
      return i;
    }
    bool met = true;
    switch (c.op) {
      case Op::kUnique:
        met = count(c.field, v) == 0;
        break;
      case Op::kMaxPer:
        met = count(c.field, v) < c.limit;
        break;
      case Op::kCluster:
        if (c.has_value) {
          met = v == c.target;
        } else {
          uint32_t u = used(c.field);
          met = u == 0 || (u == 1 && touched_[c.field][0] == v);
        }
        break;
      case Op::kIs:
        met = v == c.target;
        break;
      case Op::kLike:
        met = regexes_.matches(c.regex, v);
        break;
      case Op::kUnlike:
        met = !regexes_.matches(c.regex, v);
        break;
      case Op::kGroupBy:
        met = group_accepts(c, v);
        break;
      case Op::kInvalid:
        met = false;
        break;
    }
    if (!met) return i;
  }
  return -1;
}

std::string RequestConstraints::describe(int i, uint32_t node) {
  const CompiledConstraint& c = constraints_[i];
  const Constraint& source = *c.source;
  std::string name = source.field + ":" + source.op;
  if (source.value.has_value()) name += ":" + *source.value;
  if (c.op == Op::kInvalid) return name + ": " + c.problem;
  int32_t v = index_.value(c.field, node);
  if (v == kNoValue) return name + ": node has no attribute " + source.field;
  const std::string& field = source.field;
  std::string text(index_.text(c.field, v));
  switch (c.op) {
    case Op::kUnique:
      return name + ": " + field + " " + text + " already runs a task of this app";
    case Op::kMaxPer:
      return name + ": " + field + " " + text + " already runs " +
             std::to_string(count(c.field, v)) + " tasks of this app";
    case Op::kCluster:
      if (c.has_value) return name + ": " + field + " is " + text;
      if (used(c.field) > 1)
        return name + ": tasks of this app already run on several values of " + field;
      return name + ": tasks of this app run on " + field + " " +
             std::string(index_.text(c.field, touched_[c.field][0])) + ", this node's is " + text;
    case Op::kIs:
    case Op::kLike:
      return name + ": " + field + " is " + text;
    case Op::kUnlike:
      return name + ": " + field + " is " + text + ", which matches";
    case Op::kGroupBy:
      if (c.limit > 0 && used(c.field) < c.limit) {
        return name + ": " + field + " " + text + " already runs a task of this app and only " +
               std::to_string(used(c.field)) + " of " + std::to_string(c.limit) +
               " expected values are in use";
      }
      return name + ": " + field + " " + text + " runs " + std::to_string(count(c.field, v)) +
             " tasks of this app, the fewest on a usable " + field + " is " +
             std::to_string(c.level);
    case Op::kInvalid:
      break;
  }
  return name;
}

}  // namespace berth::scheduler
