// The HTTP face of berth-counter, the Moby Counter demo app (docs/compatibility.md §3.5): a page
// where every click lands as a whale, and the JSON API the page uses. main.cpp serves handle() with
// berth::http::serve; tests call it directly.
//
//   GET  /           the page, which names the node and task that served it
//   GET  /v1/ping    200 {"pong":true,"node":...,"task":...,"clicks":N}
//   GET  /v1/clicks  200 [{"id","ts","x","y"}, ...] in id order
//   POST /v1/clicks  {"x":int,"y":int} -> 201 the stored click, sent only once it is on disk;
//                    400 {"message"} for a bad body; 503 when the disk fails; 507 when full
#pragma once

#include <string>

#include "base/clock.h"
#include "counter/click_log.h"
#include "http/http.h"

namespace berth::counter {

// Who is serving: Marathon's HOST and MESOS_TASK_ID, as the agent sets them.
struct CounterIdentity {
  std::string node;
  std::string task;
};

class CounterApp {
 public:
  static constexpr int64_t kMaxCoordinate = 1'000'000;  // pixels; x and y lie in [0, this]

  // `log` and `clock` must outlive the app. The clock stamps each click's ts.
  CounterApp(ClickLog& log, const Clock& clock, CounterIdentity identity);

  // Thread-safe: the server calls it from one thread per connection.
  http::Response handle(const http::Request& request);

 private:
  http::Response route(const http::Request& request);
  http::Response ping() const;
  http::Response list_clicks() const;
  http::Response add_click(const http::Request& request);
  http::Response page() const;

  ClickLog& log_;
  const Clock& clock_;
  const CounterIdentity identity_;
};

}  // namespace berth::counter
