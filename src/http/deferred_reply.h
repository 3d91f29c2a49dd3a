// Internal to src/http: what other threads use to reach a connection that waits on the engine's
// I/O thread without a thread of its own: the Reply (http.h) handed to a deferred request's
// Response::defer, with the state it shares with the connection, and the wake of a streamed
// answer's producer (Response::notify). Any thread calls them; the connection hears of it on
// the I/O thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <optional>

#include "http/http.h"

namespace berth::http::internal {

// The waiting connection, as a ReplyLink sees it.
class ReplyTarget {
 public:
  virtual ~ReplyTarget() = default;
  // On the I/O thread: the answer to send (the fallback when the Reply was dropped unanswered).
  // It may come before the connection has seen that its request is deferred.
  virtual void deliver(Response response) = 0;
  // On the I/O thread: a streamed answer's producer has more (see StreamWaker).
  virtual void stream_woken() = 0;
};

// One deferred request's fate. It starts pending; the first of answer() (any thread), expire()
// and abandon() (the I/O thread) decides it, and the others then do nothing. Once it is decided
// nothing touches the I/O context: the connection abandons its link when it closes, before the
// engine can finish stopping, so an answer after the server stopped is safe.
class ReplyLink {
 public:
  // `fallback` is sent at the deadline, or when the Reply is dropped unanswered.
  ReplyLink(boost::asio::io_context& io, std::weak_ptr<ReplyTarget> target, Response fallback);

  // Any thread: posts `answer` (nullopt: the fallback) to the connection. False, and nothing is
  // posted, unless the request was pending.
  bool answer(std::optional<Response> answer);
  // True when expire() or abandon() decided it.
  bool abandoned() const;

  // I/O thread: the deadline passed. The fallback to send, or nullopt when the request was
  // decided already (an answer is then on its way to the connection, or it was abandoned).
  std::optional<Response> expire();
  // I/O thread: the connection closed or is closing (its client went away, the server stops).
  void abandon();

 private:
  enum class State { kPending, kAnswered, kAbandoned };

  mutable std::mutex mu_;
  State state_ = State::kPending;
  boost::asio::io_context& io_;
  const std::weak_ptr<ReplyTarget> target_;
  Response fallback_;
};

// The wake a streamed answer's producer is given (Response::notify). A wake sets a flag and,
// unless the flag was set already, posts stream_woken() to the connection; the connection takes
// the flag before each call of the producer, so a wake during a call or a write is not lost,
// and a burst of wakes costs one post. The connection detaches it when it ends, before the
// engine can finish stopping, so a wake after that touches nothing.
class StreamWaker {
 public:
  StreamWaker(boost::asio::io_context& io, std::weak_ptr<ReplyTarget> target)
      : io_(&io), target_(std::move(target)) {}
  void wake();  // any thread
  // I/O thread: whether a wake came since the last take(); clears it.
  bool take() { return woken_.exchange(false); }
  void detach();  // I/O thread

 private:
  std::atomic<bool> woken_{false};
  std::mutex mu_;
  boost::asio::io_context* io_;  // null once detached, guarded by mu_
  const std::weak_ptr<ReplyTarget> target_;
};

// The Reply a `defer` hook receives. Dropping its last copy unanswered sends the fallback.
std::shared_ptr<Reply> make_reply(std::shared_ptr<ReplyLink> link);

}  // namespace berth::http::internal
