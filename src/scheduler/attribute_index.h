// AttributeIndex: lookup tables over node hostnames and attributes for one place() call. It
// interns every value of a field so constraints compare small integers instead of strings,
// and keeps the nodes of each value in a list so a search can go straight to one rack or zone.
// Internal to scheduler/; fields are indexed lazily, only those that requests name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/node_pool.h"
#include "scheduler/placement.h"

namespace berth::scheduler {

// Nodes in snapshot order and a cursor that rotates through them: each search starts where
// the previous one stopped, which spreads instances and skips nodes that were just filled.
struct NodeList {
  std::vector<uint32_t> nodes;
  size_t cursor = 0;
};

// The value id of a node that lacks the attribute.
inline constexpr int32_t kNoValue = -1;

class AttributeIndex {
 public:
  // `nodes` and `pool` must outlive the index.
  AttributeIndex(const std::vector<NodeView>& nodes, const NodePool& pool);

  // The id of a field, indexing it on first use. "hostname" and "@hostname" name the node's
  // hostname; any other name is looked up in the node's attributes. References returned by
  // the methods below stay valid only until the next call to field().
  uint32_t field(const std::string& name);
  bool is_hostname(uint32_t field) const { return fields_[field].hostname; }

  // The value id of `field` on `node`, or kNoValue when the node lacks the attribute.
  int32_t value(uint32_t field, uint32_t node) const { return fields_[field].column[node]; }
  // The id of `text` in `field`, or kNoValue when no node has it.
  int32_t find(uint32_t field, std::string_view text) const;
  std::string_view text(uint32_t field, int32_t value) const { return fields_[field].texts[value]; }
  uint32_t value_count(uint32_t field) const {
    return static_cast<uint32_t>(fields_[field].texts.size());
  }

  // The nodes with this value that were alive when the lists were built. Callers skip the ones
  // that have died since.
  NodeList& nodes_with(uint32_t field, int32_t value);
  // How many nodes with this value are alive.
  uint32_t alive_nodes(uint32_t field, int32_t value);
  // Tells the index that NodePool::take() just killed `node`.
  void node_died(uint32_t node);

  // Where the next search over this field's values starts, shared by all requests so that
  // different apps spread over different racks.
  size_t& value_cursor(uint32_t field) { return fields_[field].value_cursor; }

 private:
  struct Field {
    std::string name;  // "hostname" for either spelling
    bool hostname = false;
    std::vector<int32_t> column;  // node -> value id
    // Texts point into the snapshot, which outlives the call, so interning copies nothing.
    std::vector<std::string_view> texts;
    // Open addressing, value ids by hash of their text; -1 marks an empty slot. A node-based
    // map would allocate once per distinct hostname on every call.
    std::vector<int32_t> slots;
    std::vector<NodeList> lists;  // value -> nodes; empty until first asked for
    std::vector<uint32_t> alive;  // value -> alive nodes; empty until first asked for
    bool lists_built = false;
    bool alive_built = false;
    size_t value_cursor = 0;
  };

  static size_t slot_of(const Field& f, std::string_view text);
  int32_t intern(Field& f, std::string_view text);

  const std::vector<NodeView>& nodes_;
  const NodePool& pool_;
  std::vector<Field> fields_;  // a request names few fields, so they are found by a linear scan
};

}  // namespace berth::scheduler
