// RequestConstraints: the constraints of the request being placed, compiled against the
// AttributeIndex, together with the number of the app's tasks on each field value that
// UNIQUE, MAX_PER, CLUSTER and GROUP_BY need. It also picks the order in which place()
// searches nodes (its Driver). One instance serves every request of a place() call, so its
// per-field tables are allocated once per call, not once per request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/attribute_index.h"
#include "scheduler/placement.h"
#include "scheduler/regex_cache.h"

namespace berth::scheduler {

enum class Op : uint8_t { kUnique, kCluster, kGroupBy, kLike, kUnlike, kMaxPer, kIs, kInvalid };

struct CompiledConstraint {
  const Constraint* source = nullptr;
  Op op = Op::kInvalid;
  uint32_t field = 0;
  bool has_value = false;     // CLUSTER: a value was given
  int32_t target = kNoValue;  // CLUSTER with a value, IS: the value id (kNoValue: no node has it)
  uint32_t limit = 0;         // MAX_PER: n; GROUP_BY: expected number of values (0: not given)
  uint32_t regex = 0;         // LIKE, UNLIKE: RegexCache table
  std::string problem;        // kInvalid: what is wrong with the constraint
  // GROUP_BY: the fewest tasks of the app on any candidate value, and how many candidate
  // values have exactly that many. A candidate value has an alive node and was not found
  // unable to take this request.
  uint32_t level = 0;
  uint32_t at_level = 0;
};

// Where to look for a node for the next instance.
struct Driver {
  enum class Kind {
    kAllNodes,  // every node, from the shared cursor
    kOneValue,  // only the nodes with `value` of `field` (none if value is kNoValue)
    kValues,    // value by value of `field`, those constraint `constraint` accepts
  };
  Kind kind = Kind::kAllNodes;
  int constraint = -1;
  uint32_t field = 0;
  int32_t value = kNoValue;
};

class RequestConstraints {
 public:
  // `index` and `regexes` must outlive this object.
  RequestConstraints(AttributeIndex& index, RegexCache& regexes)
      : index_(index), regexes_(regexes) {}

  // Compiles `constraints` (which must outlive the request) and counts the app's tasks on
  // `app_nodes`. Ends the previous request if there was one.
  void begin(const std::vector<Constraint>& constraints, const std::vector<uint32_t>& app_nodes);

  // Index of the first constraint `node` does not meet, or -1.
  int first_unmet(uint32_t node);
  // Whether a node that fails constraint `i` keeps failing it for the rest of the request.
  bool monotone(int i) const { return constraints_[i].op != Op::kGroupBy; }
  // Names the constraint and says why `node` does not meet it, e.g.
  // "hostname:UNIQUE: hostname a1 already runs a task of this app".
  std::string describe(int i, uint32_t node);

  Driver driver() const;
  // For a kValues driver: whether the driver's constraint accepts `value` now.
  bool accepts(int i, int32_t value);
  // For a kValues driver: no node of `value` can take the request (for monotone reasons), so
  // stop offering it and stop counting it as a GROUP_BY candidate.
  void prune(int i, int32_t value);

  // Counts a new task of the app on `node`.
  void record(uint32_t node);
  // Tells the constraints that `node` died (after AttributeIndex::node_died()).
  void node_died(uint32_t node);
  // Recomputes every GROUP_BY level from scratch. Levels only grow; the version changes when
  // one does, so a search that failed may be retried.
  void refresh_levels();
  uint64_t levels_version() const { return levels_version_; }

 private:
  void compile(const Constraint& source, CompiledConstraint& c);
  void end();
  uint32_t count(uint32_t field, int32_t value) const { return counts_[field][value]; }
  uint32_t used(uint32_t field) const { return static_cast<uint32_t>(touched_[field].size()); }
  bool candidate(int i, int32_t value);
  bool group_accepts(const CompiledConstraint& c, int32_t value) const;
  void compute_level(int i);
  void left_level(int i, int32_t value);

  AttributeIndex& index_;
  RegexCache& regexes_;
  std::vector<CompiledConstraint> constraints_;
  std::vector<uint32_t> count_fields_;         // distinct fields that need counts
  std::vector<std::vector<uint32_t>> counts_;  // field -> value -> tasks of the app
  std::vector<std::vector<int32_t>> touched_;  // field -> values with tasks, first first
  std::vector<uint8_t> pruned_;                // value of the kValues driver's field -> pruned
  int primary_ = -1;       // GROUP_BY, CLUSTER with a value, IS or an invalid constraint
  int cluster_any_ = -1;   // CLUSTER without a value
  int value_driver_ = -1;  // the constraint whose values a kValues driver walks
  Driver fallback_;
  uint64_t levels_version_ = 0;
};

}  // namespace berth::scheduler
