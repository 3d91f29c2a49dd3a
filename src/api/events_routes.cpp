#include "api/events_routes.h"

#include <nlohmann/json.hpp>

#include "api/responses.h"

namespace berth::api {
namespace {

std::string client_ip(const std::string& remote_address) {
  size_t colon = remote_address.rfind(':');
  return colon == std::string::npos ? remote_address : remote_address.substr(0, colon);
}

// Marathon's RAML answers 405 to a client that cannot take an event stream. A missing
// Accept header takes anything.
bool accepts_event_stream(const std::string& accept) {
  return accept.empty() || accept.find("text/event-stream") != std::string::npos ||
         accept.find("*/*") != std::string::npos || accept.find("text/*") != std::string::npos;
}

// One open stream. The HTTP server calls next() when the subscription says it has events, and
// every second otherwise (for the keep-alive); next() never waits. Its destruction (the server
// is done with the response) detaches it.
class EventStream {
 public:
  EventStream(master::MasterCore& core, Clock& clock,
              std::shared_ptr<master::EventSubscription> sub, std::string remote)
      : core_(core),
        clock_(clock),
        sub_(std::move(sub)),
        remote_(std::move(remote)),
        last_write_(clock.mono_now()) {}
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  ~EventStream() {
    core_.events().unsubscribe(sub_);
    core_.publish_event("event_stream_detached", {{"remoteAddress", remote_}});
  }

  const std::shared_ptr<master::EventSubscription>& subscription() const { return sub_; }

  bool next(std::string* chunk) {
    auto events = sub_->take(std::chrono::milliseconds(0));
    if (events.empty() && sub_->closed()) return false;
    for (const auto& event : events) {
      chunk->append("event: ")
          .append(event->type)
          .append("\ndata: ")
          .append(event->data)
          .append("\n\n");
    }
    MonoTime now = clock_.mono_now();
    if (chunk->empty() && now - last_write_ >= kEventKeepAlive) *chunk = ":\n\n";
    if (!chunk->empty()) last_write_ = now;
    return true;
  }

 private:
  master::MasterCore& core_;
  Clock& clock_;
  std::shared_ptr<master::EventSubscription> sub_;
  std::string remote_;
  MonoTime last_write_;
};

}  // namespace

http::Response handle_events(master::MasterCore& core, Clock& clock, const http::Request& request) {
  if (request.method != "GET") return message_response(405, "Method not allowed");
  if (!accepts_event_stream(request.header("accept"))) {
    return message_response(
        405, "GET /v2/events answers text/event-stream only; send 'Accept: text/event-stream'");
  }
  std::set<std::string> types;
  for (auto [it, end] = request.query.equal_range("event_type"); it != end; ++it)
    types.insert(it->second);
  auto sub = core.events().subscribe(types);
  if (!sub) {
    return message_response(503, "Too many event stream subscribers (at most " +
                                     std::to_string(master::EventBus::kDefaultMaxSubscribers) +
                                     "); close one or try again later");
  }
  std::string remote = client_ip(request.remote_address);
  core.publish_event("event_stream_attached", {{"remoteAddress", remote}});
  auto stream = std::make_shared<EventStream>(core, clock, std::move(sub), remote);
  http::Response response;
  response.content_type = "text/event-stream";
  response.headers.push_back({"Cache-Control", "no-cache"});
  response.stream = [stream](std::string* chunk) { return stream->next(chunk); };
  // The subscription keeps the wake, not the stream: no cycle keeps either alive.
  response.notify = [sub = stream->subscription()](std::function<void()> wake) {
    sub->on_ready(std::move(wake));
  };
  return response;
}

}  // namespace berth::api
