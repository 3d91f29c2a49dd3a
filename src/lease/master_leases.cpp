#include "lease/master_leases.h"

#include <algorithm>
#include <set>

#include "base/check.h"

namespace berth::lease {

MasterLeases::MasterLeases(LeaseOptions options, MonoTime started_at)
    : options_(options), started_at_(started_at) {
  BERTH_CHECK(options_.lease > std::chrono::milliseconds::zero());
  BERTH_CHECK(options_.margin >= std::chrono::milliseconds::zero());
}

void MasterLeases::restore_dataset(const std::string& dataset, DatasetHolder holder) {
  BERTH_CHECK(!dataset.empty());
  datasets_[dataset] = std::move(holder);
}

void MasterLeases::on_heartbeat_received(const std::string& agent, MonoTime now) {
  auto [it, inserted] = last_received_.try_emplace(agent, now);
  if (!inserted) it->second = std::max(it->second, now);
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
  std::set<std::string> known;
  for (const auto& [agent, at] : last_received_) known.insert(agent);
  for (const auto& [dataset, holder] : datasets_) {
    if (!holder.agent.empty()) known.insert(holder.agent);
  }
  std::vector<std::string> lost;
  for (const auto& agent : known) {
    if (is_lost(agent, now)) lost.push_back(agent);
  }
  return lost;
}

std::optional<MonoTime> MasterLeases::last_received(const std::string& agent) const {
  auto it = last_received_.find(agent);
  if (it == last_received_.end()) return std::nullopt;
  return it->second;
}

Result<uint64_t> MasterLeases::assign(const std::string& dataset, const std::string& agent,
                                      MonoTime now) {
  if (dataset.empty() || agent.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "assign needs a dataset and an agent; got dataset \"" + dataset +
                          "\" and agent \"" + agent + "\"");
  }
  DatasetHolder& holder = datasets_[dataset];
  if (holder.agent == agent) return holder.epoch;
  if (!holder.agent.empty() && !is_lost(holder.agent, now)) {
    auto silent_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - heard_at(holder.agent));
    return make_error(ErrorCode::kConflict,
                      "dataset " + dataset + " cannot move to agent \"" + agent + "\": agent \"" +
                          holder.agent + "\" holds it at epoch " + std::to_string(holder.epoch) +
                          " and was heard " + std::to_string(silent_ms.count()) +
                          " ms ago; it can move once that agent releases it or stays silent for " +
                          std::to_string(options_.lost_after().count()) + " ms");
  }
  holder.agent = agent;
  ++holder.epoch;
  return holder.epoch;
}

bool MasterLeases::release(const std::string& dataset, const std::string& agent, uint64_t epoch) {
  auto it = datasets_.find(dataset);
  if (it == datasets_.end() || agent.empty() || it->second.agent != agent ||
      it->second.epoch != epoch) {
    return false;
  }
  it->second.agent.clear();
  return true;
}

std::optional<DatasetHolder> MasterLeases::holder(const std::string& dataset) const {
  auto it = datasets_.find(dataset);
  if (it == datasets_.end()) return std::nullopt;
  return it->second;
}

std::vector<Assignment> MasterLeases::assignments_of(const std::string& agent) const {
  std::vector<Assignment> out;
  if (agent.empty()) return out;
  for (const auto& [dataset, holder] : datasets_) {
    if (holder.agent == agent) out.push_back(Assignment{dataset, holder.epoch});
  }
  return out;
}

}  // namespace berth::lease
