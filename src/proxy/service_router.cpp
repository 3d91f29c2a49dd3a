// The ServiceRouter's Asio side: one io_context thread, async accept, async connect with a
// per-attempt timeout, and a two-way splice. All listener and session state is touched on
// that thread only; apply() and stats() hop onto it and wait.
#include "proxy/service_router.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "base/check.h"

namespace berth::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace {

// How often a held client retries a route whose backends all failed; new tables wake it at once.
constexpr auto kHeldRetryInterval = std::chrono::milliseconds(250);
// Back-off after a failed accept (e.g. out of file descriptors) instead of spinning.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

}  // namespace

class ServiceRouter::Core {
 public:
  explicit Core(Options options);
  ~Core();

  Status start();
  void stop();
  ApplyReport apply(const RoutingTable& table);
  Stats stats();
  std::vector<FirstForward> take_first_forwards();

 private:
  struct Listener;
  class Session;
  enum class Phase { kNew, kRunning, kStopped };

  // Runs fn on the I/O thread and waits; inline when no I/O thread runs. control_mu_ held.
  template <typename Fn>
  void run_on_io(Fn&& fn);

  // I/O thread only.
  void apply_on_io(const RoutingTable& table, ApplyReport* report);
  std::string open_listener(const Route& route);  // "" or why it failed
  void close_listener(Listener& listener);
  void accept_next(const std::shared_ptr<Listener>& listener);
  void on_accepted(const std::shared_ptr<Listener>& listener, tcp::socket socket);
  void close_all();
  Stats stats_on_io() const;

  asio::io_context io_;  // first: destroyed after every socket and timer below
  const Options options_;
  SystemClock system_clock_;
  const Clock* clock_;
  std::optional<asio::ip::address> listen_address_;
  std::string listen_address_error_;

  std::mutex control_mu_;  // serializes start, stop, apply and stats
  Phase phase_ = Phase::kNew;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;

  // I/O-thread state.
  RoutingTable desired_;
  std::map<uint16_t, std::shared_ptr<Listener>> listeners_;
  std::map<uint16_t, std::string> listen_errors_;  // desired ports that could not be bound
  std::set<std::shared_ptr<Session>> sessions_;
  Stats totals_;               // the counters; the rest of Stats is built on demand
  std::set<Backend> reached_;  // backends of the current routes forwarded to at least once

  std::mutex first_mu_;  // first_forwards_, shared with take_first_forwards()
  std::vector<FirstForward> first_forwards_;
  // I/O thread: records `backend`'s first forwarded connection.
  void forwarded_to(const Backend& backend);
};

struct ServiceRouter::Core::Listener {
  Listener(asio::io_context& io, uint16_t port, std::chrono::milliseconds cooldown)
      : service_port(port), acceptor(io), retry_timer(io), picker(cooldown) {}

  uint16_t service_port;
  std::string app_id;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  BackendPicker picker;
  size_t active = 0;                        // sessions accepted here and not finished
  std::set<std::shared_ptr<Session>> held;  // waiting for a backend
  bool closed = false;
};

// One client connection: held until a backend is known, then connecting (trying backends in
// the picker's order), then splicing until both directions are done.
class ServiceRouter::Core::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Core& core, std::shared_ptr<Listener> listener, tcp::socket client)
      : core_(core),
        listener_(std::move(listener)),
        client_(std::move(client)),
        backend_(core.io_),
        timer_(core.io_) {}

  void begin() {
    hold_deadline_ = SteadyClock::now() + core_.options_.hold_when_empty;
    connect_round();
  }

  // The route's backends changed: a held session tries them now.
  void wake() {
    if (state_ != State::kHeld) return;
    listener_->held.erase(shared_from_this());
    ++generation_;
    timer_.cancel();
    connect_round();
  }

  // Closes both sides and forgets the session. Idempotent.
  void finish() {
    if (state_ == State::kDone) return;
    auto self = shared_from_this();
    state_ = State::kDone;
    ++generation_;
    error_code ignored;
    timer_.cancel();
    if (resolver_) resolver_->cancel();
    client_.close(ignored);
    backend_.close(ignored);
    listener_->held.erase(self);
    --listener_->active;
    core_.sessions_.erase(self);
  }

 private:
  enum class State { kConnecting, kHeld, kSplicing, kDone };

  void connect_round() {
    state_ = State::kConnecting;
    attempts_ = listener_->picker.attempt_order(core_.clock_->mono_now(),
                                                core_.options_.max_connect_attempts);
    next_attempt_ = 0;
    try_next();
  }

  void try_next() {
    if (next_attempt_ >= attempts_.size()) {
      hold();
      return;
    }
    current_ = attempts_[next_attempt_++];
    const uint64_t generation = ++generation_;
    auto self = shared_from_this();
    timer_.expires_after(core_.options_.connect_timeout);
    timer_.async_wait([self, generation](error_code ec) {
      if (!ec && generation == self->generation_) self->attempt_failed();
    });
    error_code ec;
    auto address = asio::ip::make_address(current_.host, ec);
    if (!ec) {
      backend_.async_connect(tcp::endpoint(address, current_.port),
                             [self, generation](error_code connect_ec) {
                               self->attempt_done(generation, connect_ec);
                             });
      return;
    }
    if (!resolver_) resolver_.emplace(core_.io_);
    resolver_->async_resolve(
        current_.host, std::to_string(current_.port),
        [self, generation](error_code resolve_ec, tcp::resolver::results_type results) {
          if (generation != self->generation_) return;
          if (resolve_ec) {
            self->attempt_failed();
            return;
          }
          asio::async_connect(self->backend_, results,
                              [self, generation](error_code connect_ec, const tcp::endpoint&) {
                                self->attempt_done(generation, connect_ec);
                              });
        });
  }

  void attempt_done(uint64_t generation, error_code ec) {
    if (generation != generation_ || state_ != State::kConnecting) return;
    if (ec) {
      attempt_failed();
      return;
    }
    ++generation_;
    timer_.cancel();
    listener_->picker.mark_connected(current_);
    ++core_.totals_.forwarded;
    core_.forwarded_to(current_);
    error_code ignored;
    backend_.set_option(tcp::no_delay(true), ignored);
    start_splice();
  }

  // The current attempt was refused, failed to resolve or timed out: cool the backend down
  // and try the next one.
  void attempt_failed() {
    ++generation_;  // the timer or the connect still pending is now stale
    error_code ignored;
    timer_.cancel();
    if (resolver_) resolver_->cancel();
    backend_.close(ignored);
    ++core_.totals_.connect_failures;
    listener_->picker.mark_failed(current_, core_.clock_->mono_now());
    try_next();
  }

  // No backend could be reached: wait for a table with backends (wake()), retry now and then
  // while the route has backends, and give up at the hold deadline.
  void hold() {
    const auto now = SteadyClock::now();
    if (listener_->closed) {
      finish();
      return;
    }
    if (now >= hold_deadline_) {
      ++core_.totals_.held_expired;
      finish();
      return;
    }
    state_ = State::kHeld;
    auto self = shared_from_this();
    listener_->held.insert(self);
    auto wake_at = hold_deadline_;
    if (!listener_->picker.backends().empty())
      wake_at = std::min(wake_at, now + kHeldRetryInterval);
    const uint64_t generation = ++generation_;
    timer_.expires_at(wake_at);
    timer_.async_wait([self, generation](error_code ec) {
      if (ec || generation != self->generation_) return;
      self->listener_->held.erase(self);
      if (SteadyClock::now() >= self->hold_deadline_) {
        ++self->core_.totals_.held_expired;
        self->finish();
      } else {
        self->connect_round();
      }
    });
  }

  void start_splice() {
    state_ = State::kSplicing;
    up_buffer_ = std::make_unique<char[]>(core_.options_.buffer_bytes);
    down_buffer_ = std::make_unique<char[]>(core_.options_.buffer_bytes);
    pump(/*up=*/true);
    pump(/*up=*/false);
  }

  // Up: client to backend. Down: backend to client.
  void pump(bool up) {
    tcp::socket& from = up ? client_ : backend_;
    char* buffer = up ? up_buffer_.get() : down_buffer_.get();
    from.async_read_some(
        asio::buffer(buffer, core_.options_.buffer_bytes),
        [self = shared_from_this(), up](error_code ec, size_t n) { self->on_read(up, ec, n); });
  }

  void on_read(bool up, error_code ec, size_t n) {
    if (state_ == State::kDone) return;
    if (ec == asio::error::eof) {
      end_direction(up);
      return;
    }
    if (ec) {
      finish();
      return;
    }
    tcp::socket& to = up ? backend_ : client_;
    char* buffer = up ? up_buffer_.get() : down_buffer_.get();
    asio::async_write(to, asio::buffer(buffer, n),
                      [self = shared_from_this(), up](error_code write_ec, size_t written) {
                        if (self->state_ == State::kDone) return;
                        if (write_ec) {
                          self->finish();
                          return;
                        }
                        Stats& totals = self->core_.totals_;
                        (up ? totals.bytes_to_backends : totals.bytes_to_clients) += written;
                        self->pump(up);
                      });
  }

  // One side finished sending: pass the half-close on and keep the other direction going,
  // so request/response protocols that close their write side still get their answer.
  void end_direction(bool up) {
    tcp::socket& to = up ? backend_ : client_;
    error_code ec;
    to.shutdown(tcp::socket::shutdown_send, ec);
    (up ? up_done_ : down_done_) = true;
    if (ec || (up_done_ && down_done_)) finish();
  }

  Core& core_;
  std::shared_ptr<Listener> listener_;
  tcp::socket client_;
  tcp::socket backend_;
  asio::steady_timer timer_;               // the connect timeout, or the hold deadline
  std::optional<tcp::resolver> resolver_;  // only for backends given by host name
  State state_ = State::kConnecting;
  SteadyClock::time_point hold_deadline_;
  std::vector<Backend> attempts_;
  size_t next_attempt_ = 0;
  Backend current_;
  uint64_t generation_ = 0;  // bumped to make handlers of an abandoned wait or attempt no-ops
  std::unique_ptr<char[]> up_buffer_;
  std::unique_ptr<char[]> down_buffer_;
  bool up_done_ = false;
  bool down_done_ = false;
};

ServiceRouter::Core::Core(Options options)
    : options_(std::move(options)), clock_(options_.clock ? options_.clock : &system_clock_) {
  BERTH_CHECK(options_.max_connect_attempts > 0);
  BERTH_CHECK(options_.buffer_bytes > 0);
  error_code ec;
  auto address = asio::ip::make_address(options_.listen_host, ec);
  if (ec) {
    listen_address_error_ = "listen_host '" + options_.listen_host +
                            "' is not an IP address; give one such as 0.0.0.0 or 127.0.0.1";
  } else {
    listen_address_ = address;
  }
}

ServiceRouter::Core::~Core() { stop(); }

Status ServiceRouter::Core::start() {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (phase_ != Phase::kNew) {
    return make_error(ErrorCode::kNotAllowed, "the service router was already started");
  }
  if (!listen_address_) return make_error(ErrorCode::kInvalidArgument, listen_address_error_);
  work_.emplace(asio::make_work_guard(io_));
  thread_ = std::thread([this] { io_.run(); });
  phase_ = Phase::kRunning;
  return {};
}

void ServiceRouter::Core::stop() {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (phase_ == Phase::kStopped) return;
  if (phase_ == Phase::kRunning) {
    asio::post(io_, [this] { close_all(); });
    // Once everything is closed the aborted handlers drain and run() returns.
    work_.reset();
    thread_.join();
  } else {
    close_all();
    io_.run();
  }
  phase_ = Phase::kStopped;
}

template <typename Fn>
void ServiceRouter::Core::run_on_io(Fn&& fn) {
  if (phase_ != Phase::kRunning) {
    fn();
    return;
  }
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  asio::post(io_, [&fn, &done] {
    fn();
    done.set_value();
  });
  finished.wait();
}

ApplyReport ServiceRouter::Core::apply(const RoutingTable& table) {
  std::lock_guard<std::mutex> lock(control_mu_);
  ApplyReport report;
  if (phase_ == Phase::kStopped) {
    report.status =
        make_error(ErrorCode::kNotAllowed, "the service router is stopped; routing table version " +
                                               std::to_string(table.version) + " was not applied");
    return report;
  }
  Status valid = validate(table);
  if (!valid) {
    report.status =
        make_error(valid.error().code, "routing table version " + std::to_string(table.version) +
                                           " rejected: " + valid.error().message);
    return report;
  }
  run_on_io([&] { apply_on_io(table, &report); });
  return report;
}

ServiceRouter::Stats ServiceRouter::Core::stats() {
  std::lock_guard<std::mutex> lock(control_mu_);
  Stats result;
  run_on_io([&] { result = stats_on_io(); });
  return result;
}

void ServiceRouter::Core::apply_on_io(const RoutingTable& table, ApplyReport* report) {
  // Diff against what is actually served, so ports that failed to bind are opened again.
  RoutingTable serving;
  for (const auto& [port, listener] : listeners_) {
    serving.routes.push_back(Route{port, listener->app_id, listener->picker.backends()});
  }
  RoutingDiff diff = diff_routes(serving, table);
  for (uint16_t port : diff.close) {
    close_listener(*listeners_.at(port));
    listeners_.erase(port);
  }
  for (uint16_t port : diff.changed) {
    Listener& listener = *listeners_.at(port);
    const Route& route = *find_route(table, port);
    listener.app_id = route.app_id;
    listener.picker.set_backends(route.backends);
    if (route.backends.empty()) continue;
    auto held = std::move(listener.held);
    listener.held.clear();
    for (const auto& session : held) session->wake();
  }
  listen_errors_.clear();
  for (uint16_t port : diff.open) {
    std::string error = open_listener(*find_route(table, port));
    if (error.empty()) continue;
    listen_errors_[port] = error;
    report->listen_failures.push_back(ListenFailure{port, error});
  }
  desired_ = table;
  totals_.table_version = table.version;
  // A backend that left every route is new again when it comes back.
  std::set<Backend> routed;
  for (const auto& route : table.routes)
    routed.insert(route.backends.begin(), route.backends.end());
  std::erase_if(reached_, [&](const Backend& b) { return !routed.count(b); });
}

void ServiceRouter::Core::forwarded_to(const Backend& backend) {
  if (!reached_.insert(backend).second) return;
  std::lock_guard<std::mutex> lock(first_mu_);
  first_forwards_.push_back(FirstForward{backend, clock_->mono_now()});
}

std::vector<FirstForward> ServiceRouter::Core::take_first_forwards() {
  std::lock_guard<std::mutex> lock(first_mu_);
  return std::exchange(first_forwards_, {});
}

std::string ServiceRouter::Core::open_listener(const Route& route) {
  const std::string where = options_.listen_host + ":" + std::to_string(route.service_port);
  if (!listen_address_) return "cannot listen on " + where + ": " + listen_address_error_;
  auto listener = std::make_shared<Listener>(io_, route.service_port, options_.cooldown);
  tcp::endpoint endpoint(*listen_address_, route.service_port);
  error_code ec;
  listener->acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a port freed a moment ago (TIME_WAIT) be bound again; it does not let
  // two listeners share a port on Linux.
  if (!ec) listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // With share_ports, several routers of one host (the agents of `berth up`) listen on the same
  // service port and the kernel spreads connections over them; when one dies the others carry on.
  if (!ec && options_.share_ports) {
    listener->acceptor.set_option(
        asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true), ec);
  }
  if (!ec) listener->acceptor.bind(endpoint, ec);
  if (!ec) listener->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return "cannot listen on " + where + " for app '" + route.app_id + "': " + ec.message() +
           "; free the port or change the app's service port (retried on the next routing update)";
  }
  listener->app_id = route.app_id;
  listener->picker.set_backends(route.backends);
  listeners_[route.service_port] = listener;
  accept_next(listener);
  return "";
}

void ServiceRouter::Core::close_listener(Listener& listener) {
  listener.closed = true;
  error_code ignored;
  listener.acceptor.close(ignored);
  listener.retry_timer.cancel();
  // Held clients have no route left; established connections keep going.
  auto held = std::move(listener.held);
  listener.held.clear();
  for (const auto& session : held) session->finish();
}

void ServiceRouter::Core::accept_next(const std::shared_ptr<Listener>& listener) {
  listener->acceptor.async_accept([this, listener](error_code ec, tcp::socket socket) {
    if (listener->closed) return;
    if (ec) {
      listener->retry_timer.expires_after(kAcceptRetryDelay);
      listener->retry_timer.async_wait([this, listener](error_code wait_ec) {
        if (!wait_ec && !listener->closed) accept_next(listener);
      });
      return;
    }
    on_accepted(listener, std::move(socket));
    accept_next(listener);
  });
}

void ServiceRouter::Core::on_accepted(const std::shared_ptr<Listener>& listener,
                                      tcp::socket socket) {
  ++totals_.accepted;
  error_code ignored;
  if (listener->active >= options_.max_connections_per_listener) {
    ++totals_.refused_over_limit;
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<Session>(*this, listener, std::move(socket));
  sessions_.insert(session);
  ++listener->active;
  session->begin();
}

void ServiceRouter::Core::close_all() {
  for (auto& [port, listener] : listeners_) close_listener(*listener);
  listeners_.clear();
  auto sessions = sessions_;  // finish() erases from sessions_
  for (const auto& session : sessions) session->finish();
}

ServiceRouter::Stats ServiceRouter::Core::stats_on_io() const {
  Stats stats = totals_;
  stats.listeners.clear();
  stats.active_connections = sessions_.size();
  for (const Route& route : desired_.routes) {
    ListenerStats entry;
    entry.service_port = route.service_port;
    entry.app_id = route.app_id;
    entry.backends = route.backends.size();
    auto it = listeners_.find(route.service_port);
    if (it != listeners_.end()) {
      entry.listening = true;
      entry.active_connections = it->second->active;
      entry.held_connections = it->second->held.size();
    } else if (auto error = listen_errors_.find(route.service_port);
               error != listen_errors_.end()) {
      entry.error = error->second;
    }
    stats.listeners.push_back(std::move(entry));
  }
  std::sort(stats.listeners.begin(), stats.listeners.end(),
            [](const ListenerStats& a, const ListenerStats& b) {
              return a.service_port < b.service_port;
            });
  return stats;
}

ServiceRouter::ServiceRouter(Options options) : core_(std::make_unique<Core>(std::move(options))) {}
ServiceRouter::~ServiceRouter() = default;
Status ServiceRouter::start() { return core_->start(); }
void ServiceRouter::stop() { core_->stop(); }
ApplyReport ServiceRouter::apply(const RoutingTable& table) { return core_->apply(table); }
ServiceRouter::Stats ServiceRouter::stats() { return core_->stats(); }
std::vector<FirstForward> ServiceRouter::take_first_forwards() {
  return core_->take_first_forwards();
}

}  // namespace berth::proxy
