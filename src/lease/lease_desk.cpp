#include "lease/lease_desk.h"

#include <algorithm>

#include "base/secret.h"

namespace berth::lease {

void LeaseDesk::admit(const std::string& agent, const std::string& secret, MonoTime now) {
  std::lock_guard lock(mu_);
  Entry& entry = entries_[agent];
  entry.secret = secret;
  entry.stamp = std::max(entry.stamp, now);
  entry.open = true;
  entry.fresh = false;  // the registration itself is the master's stamp
}

void LeaseDesk::close(const std::string& agent) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(agent);
  if (it != entries_.end()) it->second.open = false;
}

LeaseDesk::Renewal LeaseDesk::check_locked(const std::string& agent,
                                           const std::string& secret) const {
  auto it = entries_.find(agent);
  if (it == entries_.end() || !it->second.open) return Renewal::kUnknown;
  if (it->second.secret.empty() || !same_secret(it->second.secret, secret)) return Renewal::kDenied;
  return Renewal::kRenewed;
}

LeaseDesk::Renewal LeaseDesk::check(const std::string& agent, const std::string& secret) const {
  std::lock_guard lock(mu_);
  return check_locked(agent, secret);
}

LeaseDesk::Renewal LeaseDesk::renew(const std::string& agent, const std::string& secret,
                                    MonoTime now) {
  std::lock_guard lock(mu_);
  Renewal verdict = check_locked(agent, secret);
  if (verdict != Renewal::kRenewed) return verdict;
  auto it = entries_.find(agent);
  it->second.stamp = std::max(it->second.stamp, now);
  if (!it->second.fresh) {
    it->second.fresh = true;
    fresh_.push_back(it);
  }
  return Renewal::kRenewed;
}

std::vector<std::string> LeaseDesk::settle(
    const std::function<void(const std::string&, MonoTime)>& take,
    const std::function<std::vector<std::string>()>& decide) {
  std::lock_guard lock(mu_);
  // The stamped entries alone: a pass costs the heartbeats since the last, not the fleet.
  for (auto it : fresh_) {
    if (!it->second.fresh) continue;  // admitted again since: the registration stamped it
    it->second.fresh = false;
    take(it->first, it->second.stamp);
  }
  fresh_.clear();
  std::vector<std::string> lost = decide();
  for (const auto& agent : lost) {
    auto it = entries_.find(agent);
    if (it != entries_.end()) it->second.open = false;
  }
  return lost;
}

MonoTime LeaseDesk::last_stamp(const std::string& agent) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(agent);
  return it == entries_.end() ? MonoTime{} : it->second.stamp;
}

}  // namespace berth::lease
