// GET /v2/events: Marathon's event stream as Server-Sent Events (docs/compatibility.md §2.6).
#pragma once

#include "base/clock.h"
#include "http/http.h"
#include "master/master_core.h"

namespace berth::api {

// A comment line is sent after this long without an event, so proxies keep the stream open.
inline constexpr std::chrono::seconds kEventKeepAlive{15};

// Subscribes to `core`'s event bus with the request's `event_type` filter (repeatable; none
// means every type) and answers with a stream of `event: <type>\ndata: <json>\n\n` messages.
// The stream ends when the client leaves, the bus drops the subscriber for falling behind,
// or the master shuts down. `clock` times the keep-alive and must outlive the stream.
http::Response handle_events(master::MasterCore& core, Clock& clock, const http::Request& request);

}  // namespace berth::api
