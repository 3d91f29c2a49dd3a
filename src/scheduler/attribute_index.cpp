#include "scheduler/attribute_index.h"

#include <functional>

namespace berth::scheduler {

AttributeIndex::AttributeIndex(const std::vector<NodeView>& nodes, const NodePool& pool)
    : nodes_(nodes), pool_(pool) {}

uint32_t AttributeIndex::field(const std::string& name) {
  bool hostname = name == "hostname" || name == "@hostname";
  std::string_view key = hostname ? std::string_view("hostname") : std::string_view(name);
  for (uint32_t id = 0; id < fields_.size(); ++id) {
    if (fields_[id].name == key) return id;
  }

  Field f;
  f.name = key;
  f.hostname = hostname;
  f.column.resize(nodes_.size(), kNoValue);
  size_t slots = 16;
  while (slots < 2 * nodes_.size()) slots *= 2;
  f.slots.assign(slots, -1);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (hostname) {
      f.column[i] = intern(f, nodes_[i].hostname);
      continue;
    }
    auto attribute = nodes_[i].attributes.find(f.name);
    if (attribute != nodes_[i].attributes.end()) f.column[i] = intern(f, attribute->second);
  }
  fields_.push_back(std::move(f));
  return static_cast<uint32_t>(fields_.size() - 1);
}

// The slot holding `text`, or the empty slot where it would go. The table is at most half
// full, so probing ends.
size_t AttributeIndex::slot_of(const Field& f, std::string_view text) {
  const size_t mask = f.slots.size() - 1;
  size_t slot = std::hash<std::string_view>{}(text)&mask;
  while (f.slots[slot] >= 0 && f.texts[f.slots[slot]] != text) slot = (slot + 1) & mask;
  return slot;
}

int32_t AttributeIndex::intern(Field& f, std::string_view text) {
  size_t slot = slot_of(f, text);
  if (f.slots[slot] < 0) {
    f.slots[slot] = static_cast<int32_t>(f.texts.size());
    f.texts.push_back(text);
  }
  return f.slots[slot];
}

int32_t AttributeIndex::find(uint32_t field, std::string_view text) const {
  const Field& f = fields_[field];
  return f.slots[slot_of(f, text)];
}

NodeList& AttributeIndex::nodes_with(uint32_t field, int32_t value) {
  Field& f = fields_[field];
  if (!f.lists_built) {
    f.lists.resize(f.texts.size());
    for (uint32_t node = 0; node < f.column.size(); ++node) {
      if (f.column[node] != kNoValue && pool_.alive(node))
        f.lists[f.column[node]].nodes.push_back(node);
    }
    f.lists_built = true;
  }
  return f.lists[value];
}

uint32_t AttributeIndex::alive_nodes(uint32_t field, int32_t value) {
  Field& f = fields_[field];
  if (!f.alive_built) {
    f.alive.assign(f.texts.size(), 0);
    for (uint32_t node = 0; node < f.column.size(); ++node) {
      if (f.column[node] != kNoValue && pool_.alive(node)) ++f.alive[f.column[node]];
    }
    f.alive_built = true;
  }
  return f.alive[value];
}

void AttributeIndex::node_died(uint32_t node) {
  for (Field& f : fields_) {
    if (f.alive_built && f.column[node] != kNoValue) --f.alive[f.column[node]];
  }
}

}  // namespace berth::scheduler
