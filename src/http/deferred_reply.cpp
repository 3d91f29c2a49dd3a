#include "http/deferred_reply.h"

#include <boost/asio/post.hpp>
#include <utility>

namespace berth::http::internal {

namespace {

class LinkedReply final : public Reply {
 public:
  explicit LinkedReply(std::shared_ptr<ReplyLink> link) : link_(std::move(link)) {}
  ~LinkedReply() override { link_->answer(std::nullopt); }

  bool complete(Response response) override {
    response.stream = nullptr;
    response.finish = nullptr;
    response.notify = nullptr;
    response.defer = nullptr;
    return link_->answer(std::move(response));
  }
  bool abandoned() const override { return link_->abandoned(); }

 private:
  const std::shared_ptr<ReplyLink> link_;
};

}  // namespace

ReplyLink::ReplyLink(boost::asio::io_context& io, std::weak_ptr<ReplyTarget> target,
                     Response fallback)
    : io_(io), target_(std::move(target)), fallback_(std::move(fallback)) {}

bool ReplyLink::answer(std::optional<Response> answer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kPending) return false;
  state_ = State::kAnswered;
  Response response = answer ? std::move(*answer) : std::move(fallback_);
  // Posted under the lock: abandon() cannot have run yet, so the connection, and with it the
  // engine's I/O context, are still alive.
  boost::asio::post(io_, [target = target_, response = std::move(response)]() mutable {
    if (auto connection = target.lock()) connection->deliver(std::move(response));
  });
  return true;
}

bool ReplyLink::abandoned() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ == State::kAbandoned;
}

std::optional<Response> ReplyLink::expire() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kPending) return std::nullopt;
  state_ = State::kAbandoned;
  return std::move(fallback_);
}

void ReplyLink::abandon() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kPending) state_ = State::kAbandoned;
}

std::shared_ptr<Reply> make_reply(std::shared_ptr<ReplyLink> link) {
  return std::make_shared<LinkedReply>(std::move(link));
}

void StreamWaker::wake() {
  if (woken_.exchange(true)) return;  // a post is on its way, or the flag is yet to be taken
  std::lock_guard<std::mutex> lock(mu_);
  if (io_ == nullptr) return;
  boost::asio::post(*io_, [target = target_] {
    if (auto connection = target.lock()) connection->stream_woken();
  });
}

void StreamWaker::detach() {
  std::lock_guard<std::mutex> lock(mu_);
  io_ = nullptr;
}

}  // namespace berth::http::internal
