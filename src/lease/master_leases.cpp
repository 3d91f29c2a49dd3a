#include "lease/master_leases.h"

#include <algorithm>

#include "base/check.h"

namespace berth::lease {
namespace {

const std::set<std::string> kNone;

void index_erase(std::map<std::string, std::set<std::string>>& index, const std::string& dataset,
                 const std::string& agent) {
  auto it = index.find(dataset);
  if (it == index.end()) return;
  it->second.erase(agent);
  if (it->second.empty()) index.erase(it);
}

}  // namespace

MasterLeases::MasterLeases(LeaseOptions options, MonoTime started_at)
    : options_(options), started_at_(started_at), restart_grace_(options.lost_after()) {
  BERTH_CHECK(options_.lease > std::chrono::milliseconds::zero());
  BERTH_CHECK(options_.margin >= std::chrono::milliseconds::zero());
}

void MasterLeases::on_heartbeat_received(const std::string& agent, MonoTime now) {
  auto [it, inserted] = last_received_.try_emplace(agent, now);
  if (!inserted) it->second = std::max(it->second, now);
  if (inserted) earliest_ = std::min(earliest_, now);
}

MonoTime MasterLeases::heard_at(const std::string& agent) const {
  auto it = last_received_.find(agent);
  return it == last_received_.end() ? started_at_ : std::max(it->second, started_at_);
}

bool MasterLeases::is_lost(const std::string& agent, MonoTime now) const {
  return now - heard_at(agent) > options_.lost_after();
}

MonoTime MasterLeases::lost_at(const std::string& agent) const {
  // is_lost() needs strictly more than lost_after(); one tick past it is the first moment.
  return heard_at(agent) + options_.lost_after() + MonoTime::duration(1);
}

std::vector<std::string> MasterLeases::lost_agents(MonoTime now) const {
  std::vector<std::string> lost;
  for (const auto& [agent, at] : last_received_) {
    if (is_lost(agent, now)) lost.push_back(agent);
  }
  return lost;
}

std::optional<MonoTime> MasterLeases::last_received(const std::string& agent) const {
  auto it = last_received_.find(agent);
  if (it == last_received_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> MasterLeases::declare_lost(MonoTime now) {
  std::vector<std::string> declared;
  // Nobody not declared lost was heard before earliest_: until that is lost_after() ago there
  // is nobody to declare, and the controller's pass costs nothing however large the fleet.
  if (now - std::max(earliest_, started_at_) <= options_.lost_after()) return declared;
  MonoTime earliest = MonoTime::max();
  for (const auto& [agent, at] : last_received_) {
    if (now - std::max(at, started_at_) <= options_.lost_after()) {
      earliest = std::min(earliest, at);
    } else if (declared_lost_.insert(agent).second) {
      declared.push_back(agent);
    }
  }
  earliest_ = earliest;
  return declared;
}

bool MasterLeases::in_restart_grace(MonoTime now) const {
  return now - started_at_ < restart_grace_;
}

void MasterLeases::on_registered(const std::string& agent, uint64_t heartbeat_seq, MonoTime now) {
  BERTH_CHECK(!agent.empty());
  on_heartbeat_received(agent, now);
  declared_lost_.erase(agent);
  earliest_ = std::min(earliest_, last_received_.at(agent));  // counted again
  AgentState& state = agents_[agent];
  state.report_seq = heartbeat_seq;
  for (auto& [dataset, seq] : state.grants) seq = std::min(seq, heartbeat_seq);
}

uint64_t MasterLeases::report_seq(const std::string& agent) const {
  auto it = agents_.find(agent);
  return it == agents_.end() ? 0 : it->second.report_seq;
}

void MasterLeases::restore_dataset(const std::string& dataset, DatasetHolder holder) {
  BERTH_CHECK(!dataset.empty());
  datasets_[dataset] = std::move(holder);
}

std::optional<DatasetHolder> MasterLeases::holder(const std::string& dataset) const {
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) return std::nullopt;
  return it->second;
}

DatasetHolder MasterLeases::moved(const std::string& dataset, const std::string& agent) const {
  DatasetHolder current = holder(dataset).value_or(DatasetHolder{});
  if (current.agent == agent) return current;
  return DatasetHolder{agent, current.epoch + 1};
}

bool MasterLeases::on_report(const std::string& agent, uint64_t seq,
                             const std::set<std::string>& attached, uint64_t applied_seq) {
  BERTH_CHECK(!agent.empty());
  AgentState& state = agents_[agent];
  if (seq <= state.report_seq) return false;
  state.report_seq = seq;
  for (const auto& dataset : state.attached) index_erase(attached_on_, dataset, agent);
  state.attached = attached;
  for (const auto& dataset : state.attached) attached_on_[dataset].insert(agent);
  // A grant ends once a report taken after applying its answer shows the dataset let go.
  for (auto it = state.grants.begin(); it != state.grants.end();) {
    if (applied_seq < it->second || state.attached.count(it->first)) {
      ++it;
      continue;
    }
    index_erase(granted_on_, it->first, agent);
    it = state.grants.erase(it);
  }
  return true;
}

const std::set<std::string>& MasterLeases::attached_by(const std::string& agent) const {
  auto it = agents_.find(agent);
  return it == agents_.end() ? kNone : it->second.attached;
}

bool MasterLeases::held_elsewhere(const std::string& dataset, const std::string& agent) const {
  for (const auto* index : {&attached_on_, &granted_on_}) {
    auto on = index->find(dataset);
    if (on == index->end()) continue;
    for (const auto& holder : on->second) {
      if (holder != agent && !declared_lost(holder)) return true;
    }
  }
  return false;
}

bool MasterLeases::may_attach(const std::string& dataset, const std::string& agent,
                              MonoTime now) const {
  auto assigned = datasets_.find(dataset);
  if (agent.empty() || assigned == datasets_.end() || assigned->second.agent != agent) {
    return false;
  }
  if (held_elsewhere(dataset, agent)) return false;
  // In the grace after a restart, a node that held the dataset before may still have a lease:
  // nothing is attached anew, and what a node reports attached stays attached.
  return !in_restart_grace(now) || attached_by(agent).count(dataset) > 0;
}

void MasterLeases::on_granted(const std::string& dataset, const std::string& agent, uint64_t seq) {
  BERTH_CHECK(!agent.empty() && !dataset.empty());
  uint64_t& granted = agents_[agent].grants[dataset];
  granted = std::max(granted, seq);
  granted_on_[dataset].insert(agent);
}

std::set<std::string> MasterLeases::granted_to(const std::string& dataset) const {
  auto it = granted_on_.find(dataset);
  return it == granted_on_.end() ? std::set<std::string>{} : it->second;
}

}  // namespace berth::lease
