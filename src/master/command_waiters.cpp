#include "master/command_waiters.h"

namespace berth::master {

std::optional<CommandWaiter> CommandWaiters::park(const std::string& agent_id, uint64_t after,
                                                  CommandWaiter waiter) {
  std::vector<Parked>& parked = parked_[agent_id];
  size_ -= std::erase_if(parked, [](const Parked& p) { return p.waiter.gone(); });
  std::optional<CommandWaiter> pushed_out;
  if (parked.size() >= kPerAgent) {
    pushed_out = std::move(parked.front().waiter);
    parked.erase(parked.begin());
    --size_;
  }
  parked.push_back(Parked{agent_id, after, std::move(waiter)});
  ++size_;
  return pushed_out;
}

void CommandWaiters::wake(const std::string& agent_id) {
  if (parked_.count(agent_id)) woken_.insert(agent_id);
}

void CommandWaiters::wake_all() {
  for (const auto& [agent_id, parked] : parked_) woken_.insert(agent_id);
}

std::vector<CommandWaiters::Parked> CommandWaiters::take_woken() {
  std::vector<Parked> out;
  for (const auto& agent_id : woken_) {
    auto it = parked_.find(agent_id);
    if (it != parked_.end()) take_entry(it, &out);
  }
  woken_.clear();
  return out;
}

std::vector<CommandWaiters::Parked> CommandWaiters::take(const std::string& agent_id) {
  std::vector<Parked> out;
  auto it = parked_.find(agent_id);
  if (it != parked_.end()) take_entry(it, &out);
  woken_.erase(agent_id);
  return out;
}

void CommandWaiters::take_entry(std::unordered_map<std::string, std::vector<Parked>>::iterator it,
                                std::vector<Parked>* out) {
  size_ -= it->second.size();
  for (auto& p : it->second) {
    if (!p.waiter.gone()) out->push_back(std::move(p));
  }
  parked_.erase(it);
}

void StateMutex::unlock() {
  if (hook_) hook_();
  if (after_.empty()) return mu_.unlock();
  std::vector<std::function<void()>> work;
  work.swap(after_);
  mu_.unlock();
  for (auto& w : work) w();
}

}  // namespace berth::master
