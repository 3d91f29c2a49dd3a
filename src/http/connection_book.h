// Internal to src/http: which connections a server keeps open. It holds the idle set (the
// connections that hold no thread, oldest first, overall and per client), counts the busy and
// the deferred ones (waiting for a later answer: no thread, never displaced), and decides whom a
// new connection displaces. Pure bookkeeping: no sockets, no clock.
// The connection engine (connection_engine.cpp) calls it from its one I/O thread and closes
// what it is told to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace berth::http::internal {

class ConnectionBook {
 public:
  struct Limits {
    size_t max_open = 4096;
    size_t max_idle = 1024;
    size_t max_idle_per_client = 256;
    size_t max_busy = 512;
    size_t max_busy_per_client = 256;
    size_t max_reserved_busy = 0;  // for try_busy(id, true) past the two limits above
  };

  // What a new connection from some client needs first.
  struct Room {
    enum Kind { kAdmit, kEvict, kRefuse };
    Kind kind = kAdmit;
    uint64_t victim = 0;  // for kEvict: the connection to close before asking again
  };

  explicit ConnectionBook(Limits limits) : limits_(limits) {}

  // kAdmit when `client` may open one more connection; kEvict naming the oldest idle
  // connection of `client` when that client is at its idle limit, else the oldest idle
  // connection overall when the idle set or the open count is full; kRefuse when it is full
  // and nothing is idle. The caller closes the victim (remove()) and asks again.
  Room make_room(const std::string& client) const;

  // A new open connection `id` (unique, not yet known) enters the idle set as its newest.
  void add(uint64_t id, const std::string& client);
  // `id` leaves the idle set for the busy count; false when that would pass a busy limit,
  // and `id` is then closing (open, neither idle nor busy). With `may_reserve`, a request
  // the busy limits refuse takes one of the reserved slots while any is free.
  bool try_busy(uint64_t id, bool may_reserve = false);
  // `id` (busy) waits for a deferred answer: it leaves the busy count and stays open, neither
  // idle nor busy, until idle(), closing() or remove().
  void defer(uint64_t id);
  // `id` (idle, busy or deferred) is closing: it still counts as open until remove().
  void closing(uint64_t id);
  // `id` (busy, deferred or closing) enters the idle set again as its newest (keep-alive).
  void idle(uint64_t id);
  // `id` is closed; unknown ids are ignored.
  void remove(uint64_t id);

  size_t open_count() const { return entries_.size(); }
  size_t idle_count() const { return idle_.size(); }
  size_t busy_count() const { return busy_; }
  size_t reserved_busy_count() const { return reserved_busy_; }
  size_t deferred_count() const { return deferred_; }
  size_t idle_count(const std::string& client) const;
  size_t busy_count(const std::string& client) const;

 private:
  enum class State { kIdle, kBusy, kReservedBusy, kDeferred, kClosing };
  struct Client {
    std::list<uint64_t> idle;  // oldest first
    size_t busy = 0;
    size_t open = 0;
  };
  struct Entry {
    std::string client;
    State state = State::kIdle;
    std::list<uint64_t>::iterator in_all;     // valid while idle
    std::list<uint64_t>::iterator in_client;  // valid while idle
  };

  void leave_current_state(Entry& entry, Client& client);
  void enter_idle(uint64_t id, Entry& entry, Client& client);

  Limits limits_;
  std::unordered_map<std::string, Client> clients_;
  std::unordered_map<uint64_t, Entry> entries_;
  std::list<uint64_t> idle_;  // oldest first
  size_t busy_ = 0;
  size_t reserved_busy_ = 0;
  size_t deferred_ = 0;
};

}  // namespace berth::http::internal
