// `berth master --store etcd://...`: one of several masters sharing an etcd cluster
// (docs/architecture.md §5, "Leader election"). Every master campaigns; the leader runs a
// MasterCore for as long as its term lasts; the others stand by and pass the API on to it.
//
// A term. Each time this master is elected it builds everything that acts anew: an EtcdStore
// fenced by that term (so every write it makes commits only while the term lasts), a
// MasterCore loaded from the store (observed state comes back from the agents, which
// re-register; load() gives them the grace a restarted master gives), the API tokens, and the
// controller thread. When the term ends the controller stops and the core wakes its long polls;
// the term's store keeps its fence, so a write still in flight fails instead of landing. A later
// term never reuses an earlier one's memory: another master may have led in between.
//
// Acting only while leading. The controller runs a pass only while the election says this term
// is current (LeaderElection::is_leader() reads the clock against the lease's local deadline),
// and every answer to an agent is checked again after it was computed: an agent never takes a
// command, a lease or an assignment from a master whose term has ended, even one that was paused
// in the middle of computing it. A command poll's answer is deferred (it waits holding no
// thread) and computed later, when a command is queued: it is checked as it is given
// (TermReply), and one computed after the term ended becomes a 503 that names no leader.
//
// Standing by. The API (Marathon's, the Flocker API, berth's own) is proxied to the leader as
// Marathon's standbys do; the leader authenticates. An event stream is redirected there (307).
// The agent protocol is not proxied: a standby answers 503 naming the leader in X-Berth-Leader,
// and the agent goes there (agent/master_endpoints.h).
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "api/event_callbacks.h"
#include "api/marathon_api.h"
#include "base/thread_priority.h"
#include "cmd/master_parts.h"
#include "cmd/service_notify.h"
#include "store/etcd_election.h"
#include "store/etcd_store.h"
#include "ui/ui_files.h"

namespace berth::cmd {
namespace {

// Marks a request a standby passed on, so that a master which is no leader either answers it
// instead of passing it on again.
constexpr const char* kProxiedBy = "x-berth-proxied-by";
// A standby's answer to an agent names the leader in this header.
constexpr const char* kLeaderHeader = "X-Berth-Leader";
constexpr int kProxyTimeoutMs = 60000;
// The leader lease's TTL asked for. etcd grants no less than its floor, 1.5 election timeouts
// rounded up to whole seconds (store/etcd_election.h): 2 s with etcd's default
// --election-timeout=1000, 1 s with 500 or less (berth up --masters 3 runs its etcd so). A dead
// leader is replaced within about the TTL granted; agents' leases (2.5 s by default) outlast that,
// so a leader's death costs no task (docs/architecture.md §5).
constexpr int64_t kLeaderTtlSeconds = 1;

// One term as leader.
struct Term {
  Term(std::unique_ptr<EtcdStore> fenced, Fence won, const master::MasterOptions& options,
       Clock& clock, IdSource& ids)
      : store(std::move(fenced)),
        fence(std::move(won)),
        core(options, *store, clock, ids),
        auth(*store, clock, ids) {}

  std::unique_ptr<EtcdStore> store;
  const Fence fence;
  master::MasterCore core;
  api::Authenticator auth;
  std::atomic<bool> stopping{false};
  std::thread controller;
  std::unique_ptr<api::EventCallbacks> callbacks;  // gone before the core
};

http::Response json_answer(int status, const nlohmann::json& body) {
  http::Response response;
  response.status = status;
  response.body = body.dump();
  return response;
}

// The Reply a deferred agent answer (the command long poll, api/marathon_api.cpp) is given
// through while a term lasts: an answer given once `current` no longer holds is replaced by
// `ended`. The poll's fallback, an empty batch at the end of its wait, carries nothing and
// needs no check.
class TermReply final : public http::Reply {
 public:
  TermReply(std::shared_ptr<http::Reply> reply, std::function<bool()> current, http::Response ended)
      : reply_(std::move(reply)), current_(std::move(current)), ended_(std::move(ended)) {}

  bool complete(http::Response response) override {
    return reply_->complete(current_() ? std::move(response) : ended_);
  }
  bool abandoned() const override { return reply_->abandoned(); }

 private:
  const std::shared_ptr<http::Reply> reply_;
  const std::function<bool()> current_;
  const http::Response ended_;
};

class ElectedMaster {
 public:
  ElectedMaster(const MasterFlags& flags, bool tls, const StoreUrl& store,
                const master::MasterOptions& options, Clock& clock, IdSource& ids)
      : flags_(flags), tls_(tls), store_(store), options_(options), clock_(clock), ids_(ids) {
    info_.http_address = options.leader;
    info_.store_url = flags.store;
    info_.abdicate = [this] { return abdicate(); };
  }

  int run();

 private:
  http::Response handle(const http::Request& request);
  // Makes a deferred answer of `term` go through the same check as the others (TermReply).
  void check_deferred(http::Response& response, const std::shared_ptr<Term>& term);
  http::Response standby(const http::Request& request);
  http::Response proxy(const std::string& leader, const http::Request& request);
  http::Response not_leader(const std::string& why, const std::string& leader);
  // The leader's identity from etcd, "" when nobody leads or etcd cannot say (then *why says so).
  std::string current_leader(std::string* why) const;
  bool current(const Term& term) const;
  std::shared_ptr<Term> term() const;
  Status abdicate();

  void on_elected(const Fence& fence);
  void on_deposed();
  // Runs the main thread's side of the election: terms begin and end here.
  void follow_election();
  void begin_term(const Fence& fence);
  void end_term();

  const MasterFlags& flags_;
  const bool tls_;
  const StoreUrl& store_;
  const master::MasterOptions& options_;
  Clock& clock_;
  IdSource& ids_;
  api::ApiInfo info_;
  std::unique_ptr<LeaderElection> election_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::optional<Fence> elected_;  // a term won and not yet begun
  bool deposed_ = false;          // the term ended and is not yet torn down
  bool stopping_ = false;
  std::shared_ptr<Term> term_;
};

std::shared_ptr<Term> ElectedMaster::term() const {
  std::lock_guard lock(mu_);
  return term_;
}

bool ElectedMaster::current(const Term& term) const {
  std::optional<Fence> fence = election_->fence();
  return fence && fence->create_revision == term.fence.create_revision && election_->is_leader() &&
         !term.stopping;
}

Status ElectedMaster::abdicate() {
  spdlog::info("stepping down on request (DELETE /v2/leader)");
  return election_->resign();
}

void ElectedMaster::on_elected(const Fence& fence) {
  std::lock_guard lock(mu_);
  elected_ = fence;
  changed_.notify_all();
}

void ElectedMaster::on_deposed() {
  std::lock_guard lock(mu_);
  deposed_ = true;
  elected_.reset();
  changed_.notify_all();
}

void ElectedMaster::begin_term(const Fence& fence) {
  auto store = EtcdStore::open(EtcdStoreOptions{store_.endpoints, store_.prefix});
  if (!store) {
    spdlog::error("elected, but cannot open the store: {}; stepping down", store.error().message);
    (void)election_->resign();
    return;
  }
  (*store)->set_fence(fence);
  auto term = std::make_shared<Term>(std::move(*store), fence, options_, clock_, ids_);
  Status loaded = term->core.load();
  if (!loaded || set_up_auth(term->auth, term->core, flags_, ids_) != 0) {
    spdlog::error("elected, but cannot load the state{}; stepping down",
                  loaded ? "" : ": " + loaded.error().message);
    (void)election_->resign();
    return;
  }
  term->callbacks = std::make_unique<api::EventCallbacks>(term->core);
  term->controller = std::thread([this, t = term.get()] {
    spdlog::info("controller thread priority: {}", favour_thread(kControllerNice));
    while (!t->stopping) {
      if (current(*t)) t->core.reconcile();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  spdlog::info("leading the cluster as {} (term {}): serving the API and the agents",
               options_.leader, fence.create_revision);
  std::lock_guard lock(mu_);
  term_ = std::move(term);
}

void ElectedMaster::end_term() {
  std::shared_ptr<Term> term;
  {
    std::lock_guard lock(mu_);
    term.swap(term_);
  }
  if (!term) return;
  term->stopping = true;
  term->core.shutdown();
  term->controller.join();
  term->callbacks.reset();
  spdlog::info("no longer leading (term {} ended): standing by, passing the API to the leader",
               term->fence.create_revision);
}

void ElectedMaster::follow_election() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    changed_.wait(lock, [this] { return stopping_ || deposed_ || elected_; });
    if (deposed_) {
      deposed_ = false;
      lock.unlock();
      end_term();
      lock.lock();
    }
    if (elected_ && !stopping_) {
      Fence fence = *elected_;
      elected_.reset();
      lock.unlock();
      end_term();
      if (election_->is_leader()) begin_term(fence);
      lock.lock();
    }
  }
}

std::string ElectedMaster::current_leader(std::string* why) const {
  Result<std::optional<std::string>> leader = election_->leader();
  if (!leader) {
    *why = "cannot read the leader from etcd: " + leader.error().message;
    return "";
  }
  if (!*leader) {
    *why = "no master leads right now (an election is under way); retry in a second";
    return "";
  }
  return **leader;
}

http::Response ElectedMaster::not_leader(const std::string& why, const std::string& leader) {
  http::Response response = json_answer(503, {{"message", why}, {"leader", leader}});
  response.headers.push_back({"Retry-After", "1"});
  if (!leader.empty()) response.headers.push_back({kLeaderHeader, leader});
  return response;
}

http::Response ElectedMaster::handle(const http::Request& request) {
  if (request.path == "/ping") {
    http::Response pong;
    pong.content_type = "text/plain";
    pong.body = "pong";
    return pong;
  }
  // A standby serves the web UI's files too; the page then shows which master leads.
  if (auto page = ui::serve(request)) return std::move(*page);
  std::shared_ptr<Term> term = this->term();
  if (!term || !current(*term)) return standby(request);
  http::Response response = api::handle_request(term->core, clock_, info_, term->auth, request);
  // An agent takes no answer computed while the term ended (the master was paused, say). An API
  // answer stands: its writes committed under the term's fence, or failed.
  if (request.path.starts_with("/berth/v1/agents/") && !current(*term)) return standby(request);
  if (response.defer) check_deferred(response, term);
  return response;
}

void ElectedMaster::check_deferred(http::Response& response, const std::shared_ptr<Term>& term) {
  http::Response ended =
      not_leader(options_.leader + " is no longer the leader (its term ended); retry", "");
  // The term lives until its core took the Reply; the core, which keeps it, lives in the term.
  response.defer = [this, term, ended = std::move(ended),
                    defer = std::move(response.defer)](std::shared_ptr<http::Reply> reply) {
    std::weak_ptr<Term> weak = term;
    auto current = [this, weak] {
      std::shared_ptr<Term> t = weak.lock();
      return t && this->current(*t);
    };
    defer(std::make_shared<TermReply>(std::move(reply), current, ended));
  };
}

http::Response ElectedMaster::standby(const http::Request& request) {
  std::string why;
  std::string leader = current_leader(&why);
  if (!leader.empty() && leader == options_.leader) {
    leader.clear();
    why = "this master was just elected and is not serving yet; retry in a second";
  }
  if (request.path.starts_with("/berth/v1/agents/")) {
    return not_leader(
        leader.empty() ? why : options_.leader + " is not the leader; the leader is " + leader,
        leader);
  }
  if (!request.header(kProxiedBy).empty()) {
    return not_leader(options_.leader + " is not the leader either (leadership is changing); " +
                          "retry in a second",
                      "");
  }
  if (leader.empty()) return not_leader(why, "");
  if (request.path == "/v2/events") {
    http::Response redirect = json_answer(307, {{"message", "the leader is " + leader}});
    redirect.headers.push_back(
        {"Location", std::string(tls_ ? "https://" : "http://") + leader + request.target});
    return redirect;
  }
  return proxy(leader, request);
}

bool hop_by_hop(const std::string& name) {
  return name == "host" || name == "connection" || name == "content-length" ||
         name == "transfer-encoding" || name == "keep-alive" || name == "upgrade" || name == "te" ||
         name == "trailer" || name == "content-type";
}

http::Response ElectedMaster::proxy(const std::string& leader, const http::Request& request) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    if (!hop_by_hop(name) && name != kProxiedBy) headers.emplace_back(name, value);
  }
  if (!request.header("content-type").empty())
    headers.emplace_back("Content-Type", request.header("content-type"));
  headers.emplace_back(kProxiedBy, options_.leader);
  headers.emplace_back("X-Forwarded-For", request.remote_address);
  const std::string url = std::string(tls_ ? "https://" : "http://") + leader;
  auto answer =
      http::request(url, request.method, request.target, request.body, kProxyTimeoutMs, headers);
  if (!answer) {
    return not_leader("the leader " + leader + " does not answer: " + answer.error().message +
                          "; retry in a second",
                      "");
  }
  http::Response response;
  response.status = answer->status;
  response.body = std::move(answer->body);
  for (const auto& [name, value] : answer->headers) {
    if (name == "content-type") {
      response.content_type = value;
    } else if (!hop_by_hop(name)) {
      response.headers.emplace_back(name, value);
    }
  }
  return response;
}

int ElectedMaster::run() {
  LeaderElectionOptions election;
  election.endpoints = store_.endpoints;
  election.prefix = store_.prefix;
  election.identity = options_.leader;
  election.ttl_seconds = kLeaderTtlSeconds;
  election.on_elected = [this](const Fence& fence) { on_elected(fence); };
  election.on_deposed = [this] { on_deposed(); };
  auto created = LeaderElection::create(std::move(election), clock_);
  if (!created) {
    spdlog::error("{}", created.error().message);
    return 2;
  }
  election_ = std::move(*created);
  auto server = http::serve(server_options(flags_),
                            [this](const http::Request& request) { return handle(request); });
  if (!server) {
    spdlog::error("{}", server.error().message);
    return 1;
  }
  spdlog::info("berth master {} serving on {}://{}:{}, campaigning for the leadership in {}",
               options_.leader, tls_ ? "https" : "http", advertised_host(flags_), (*server)->port(),
               store_.prefix);
  notify_service_ready();  // serving: a follower answers too, and redirects to the leader
  election_->start();
  std::thread signals([this] {
    int sig = wait_for_stop_signal();
    spdlog::info("master stopping on signal {}", sig);
    std::lock_guard lock(mu_);
    stopping_ = true;
    changed_.notify_all();
  });
  follow_election();
  signals.join();
  // Hand over at once rather than after the lease's TTL.
  if (election_->is_leader()) (void)election_->resign();
  election_->stop();
  end_term();
  (*server)->stop();
  return 0;
}

}  // namespace

int serve_elected(const MasterFlags& flags, bool tls, const StoreUrl& store,
                  const master::MasterOptions& options, Clock& clock, IdSource& ids) {
  ElectedMaster master(flags, tls, store, options, clock, ids);
  return master.run();
}

}  // namespace berth::cmd
