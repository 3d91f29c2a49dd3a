#include "agent/dataset_changes.h"

#include <map>

namespace berth::agent {

std::vector<DatasetChange> compute_dataset_changes(const std::vector<protocol::DatasetAssignment>& desired,
                                                   const std::vector<LocalDataset>& local) {
  std::map<std::string, const protocol::DatasetAssignment*> wanted;
  for (const auto& d : desired) wanted[d.dataset_id] = &d;
  std::map<std::string, const LocalDataset*> have;
  for (const auto& l : local) have[l.dataset_id] = &l;

  std::vector<DatasetChange> detaches, attaches, destroys;
  for (const auto& l : local) {
    if (!l.attached || l.in_use) continue;
    auto it = wanted.find(l.dataset_id);
    bool keep = it != wanted.end() && it->second->attach && it->second->epoch == l.epoch;
    // A newer epoch for this node is a re-attach, which the driver does in place.
    if (it != wanted.end() && it->second->attach && it->second->epoch > l.epoch) keep = true;
    if (!keep) detaches.push_back({DatasetChange::Kind::kDetach, l.dataset_id, l.driver, l.epoch, 0});
  }
  for (const auto& d : desired) {
    auto it = have.find(d.dataset_id);
    bool attached_now = it != have.end() && it->second->attached;
    if (d.attach && (!attached_now || it->second->epoch < d.epoch)) {
      attaches.push_back({DatasetChange::Kind::kCreateAndAttach, d.dataset_id, d.driver, d.epoch, d.size_bytes});
    }
    // An attached dataset was detached by the loop above (it is not assigned for attaching).
    if (d.destroy && !(attached_now && it->second->in_use)) {
      destroys.push_back({DatasetChange::Kind::kDestroy, d.dataset_id, d.driver, d.epoch, 0});
    }
  }
  std::vector<DatasetChange> out = detaches;
  out.insert(out.end(), attaches.begin(), attaches.end());
  out.insert(out.end(), destroys.begin(), destroys.end());
  return out;
}

}  // namespace berth::agent
