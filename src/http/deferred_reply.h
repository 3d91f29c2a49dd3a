// Internal to src/http: the Reply (http.h) that the connection engine hands to a deferred
// request's Response::defer, and the state that Reply shares with the waiting connection. Any
// thread answers through it; the answer reaches the connection on the engine's I/O thread.
#pragma once

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

// The Reply a `defer` hook receives. Dropping its last copy unanswered sends the fallback.
std::shared_ptr<Reply> make_reply(std::shared_ptr<ReplyLink> link);

}  // namespace berth::http::internal
