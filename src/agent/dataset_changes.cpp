#include "agent/dataset_changes.h"

#include <map>

namespace berth::agent {
namespace {

DatasetChange change(DatasetChange::Kind kind, const std::string& dataset_id,
                     const std::string& driver, uint64_t epoch, uint64_t size_bytes = 0) {
  DatasetChange c;
  c.kind = kind;
  c.dataset_id = dataset_id;
  c.driver = driver;
  c.epoch = epoch;
  c.size_bytes = size_bytes;
  return c;
}

}  // namespace

std::vector<DatasetChange> compute_dataset_changes(
    const std::vector<protocol::DatasetAssignment>& desired,
    const std::vector<LocalDataset>& local) {
  std::map<std::string, const protocol::DatasetAssignment*> wanted;
  for (const auto& d : desired) wanted[d.dataset_id] = &d;
  std::map<std::string, const LocalDataset*> have;
  for (const auto& l : local) have[l.dataset_id] = &l;

  std::vector<DatasetChange> detaches, attaches, destroys;
  for (const auto& l : local) {
    if (!l.attached || l.in_use) continue;
    auto it = wanted.find(l.dataset_id);
    const protocol::DatasetAssignment* w = it != wanted.end() ? it->second : nullptr;
    bool keep = w && w->attach && w->epoch == l.epoch;
    // A newer epoch for this node is a re-attach, which the driver does in place; unless the
    // data is to be copied in, which replaces what is here.
    if (w && w->attach && w->epoch > l.epoch && w->copy_from.empty()) keep = true;
    if (!keep)
      detaches.push_back(change(DatasetChange::Kind::kDetach, l.dataset_id, l.driver, l.epoch));
  }
  for (const auto& d : desired) {
    auto it = have.find(d.dataset_id);
    bool attached_now = it != have.end() && it->second->attached;
    if (d.attach && (!attached_now || it->second->epoch < d.epoch)) {
      if (d.copy_from.empty()) {
        attaches.push_back(change(DatasetChange::Kind::kCreateAndAttach, d.dataset_id, d.driver,
                                  d.epoch, d.size_bytes));
      } else if (!(attached_now && it->second->in_use)) {
        DatasetChange copy = change(DatasetChange::Kind::kCopyAndAttach, d.dataset_id, d.driver,
                                    d.epoch, d.size_bytes);
        copy.copy_from = d.copy_from;
        copy.copy_from_node = d.copy_from_node;
        attaches.push_back(copy);
      }
    }
    // An attached dataset was detached by the loop above (it is not assigned for attaching).
    if (d.destroy && !(attached_now && it->second->in_use)) {
      destroys.push_back(change(DatasetChange::Kind::kDestroy, d.dataset_id, d.driver, d.epoch));
    }
  }
  std::vector<DatasetChange> out = detaches;
  out.insert(out.end(), attaches.begin(), attaches.end());
  out.insert(out.end(), destroys.begin(), destroys.end());
  return out;
}

std::vector<protocol::DatasetAssignment> with_grants_kept(
    const std::vector<protocol::DatasetAssignment>& in_force,
    std::vector<protocol::DatasetAssignment> command) {
  std::map<std::string, const protocol::DatasetAssignment*> granted;
  for (const auto& a : in_force) {
    if (a.attach) granted[a.dataset_id] = &a;
  }
  for (auto& c : command) {
    auto it = granted.find(c.dataset_id);
    if (it == granted.end() || c.destroy || c.epoch != it->second->epoch) continue;
    c.attach = true;
    if (c.copy_from.empty()) {
      c.copy_from = it->second->copy_from;
      c.copy_from_node = it->second->copy_from_node;
    }
  }
  return command;
}

}  // namespace berth::agent
