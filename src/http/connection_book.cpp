#include "http/connection_book.h"

namespace berth::http::internal {

ConnectionBook::Room ConnectionBook::make_room(const std::string& client) const {
  auto it = clients_.find(client);
  size_t client_idle = it == clients_.end() ? 0 : it->second.idle.size();
  if (client_idle >= limits_.max_idle_per_client) {
    if (client_idle == 0) return {Room::kRefuse, 0};
    return {Room::kEvict, it->second.idle.front()};
  }
  if (idle_.size() >= limits_.max_idle || entries_.size() >= limits_.max_open) {
    if (idle_.empty()) return {Room::kRefuse, 0};
    return {Room::kEvict, idle_.front()};
  }
  return {Room::kAdmit, 0};
}

void ConnectionBook::add(uint64_t id, const std::string& client) {
  auto [it, inserted] = entries_.try_emplace(id);
  if (!inserted) return;
  it->second.client = client;
  Client& c = clients_[client];
  ++c.open;
  enter_idle(id, it->second, c);
}

bool ConnectionBook::try_busy(uint64_t id, bool may_reserve) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  Entry& entry = it->second;
  Client& client = clients_[entry.client];
  if (entry.state == State::kBusy || entry.state == State::kReservedBusy) return true;
  leave_current_state(entry, client);
  if (busy_ >= limits_.max_busy || client.busy >= limits_.max_busy_per_client) {
    if (may_reserve && reserved_busy_ < limits_.max_reserved_busy) {
      entry.state = State::kReservedBusy;
      ++reserved_busy_;
      return true;
    }
    entry.state = State::kClosing;
    return false;
  }
  entry.state = State::kBusy;
  ++busy_;
  ++client.busy;
  return true;
}

void ConnectionBook::defer(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  leave_current_state(it->second, clients_[it->second.client]);
  it->second.state = State::kDeferred;
  ++deferred_;
}

void ConnectionBook::closing(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  leave_current_state(it->second, clients_[it->second.client]);
  it->second.state = State::kClosing;
}

void ConnectionBook::idle(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Client& client = clients_[it->second.client];
  leave_current_state(it->second, client);
  enter_idle(id, it->second, client);
}

void ConnectionBook::remove(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto client_it = clients_.find(it->second.client);
  leave_current_state(it->second, client_it->second);
  if (--client_it->second.open == 0) clients_.erase(client_it);
  entries_.erase(it);
}

size_t ConnectionBook::idle_count(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? 0 : it->second.idle.size();
}

size_t ConnectionBook::busy_count(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? 0 : it->second.busy;
}

void ConnectionBook::leave_current_state(Entry& entry, Client& client) {
  switch (entry.state) {
    case State::kIdle:
      idle_.erase(entry.in_all);
      client.idle.erase(entry.in_client);
      break;
    case State::kBusy:
      --busy_;
      --client.busy;
      break;
    case State::kReservedBusy:
      --reserved_busy_;
      break;
    case State::kDeferred:
      --deferred_;
      break;
    case State::kClosing:
      break;
  }
  entry.state = State::kClosing;
}

void ConnectionBook::enter_idle(uint64_t id, Entry& entry, Client& client) {
  entry.state = State::kIdle;
  entry.in_all = idle_.insert(idle_.end(), id);
  entry.in_client = client.idle.insert(client.idle.end(), id);
}

}  // namespace berth::http::internal
