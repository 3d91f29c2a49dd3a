#include "store/etcd_election.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "json/bounded.h"

namespace berth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long a best-effort revoke of an abandoned lease may take.
constexpr int kRevokeTimeoutMs = 1000;

Error failed(std::string_view what, const Error& error) {
  return make_error(error.code, std::string(what) + ": " + error.message);
}

}  // namespace

Result<std::unique_ptr<LeaderElection>> LeaderElection::create(LeaderElectionOptions options,
                                                               const Clock& clock) {
  if (options.endpoints.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "leader election needs an etcd endpoint");
  }
  for (const std::string& endpoint : options.endpoints) {
    if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "etcd endpoint '" + endpoint +
                            "' is not a URL: expected http://host:port or https://host:port");
    }
  }
  if (options.prefix.empty() || !options.prefix.ends_with('/')) {
    return make_error(ErrorCode::kInvalidArgument,
                      "etcd key prefix '" + options.prefix + "' must end with '/'");
  }
  if (options.identity.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a candidate needs an identity: the master's advertised host:port");
  }
  if (options.ttl_seconds < 1) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "the leader lease's TTL must be at least 1 s, not " + std::to_string(options.ttl_seconds));
  }
  return std::unique_ptr<LeaderElection>(new LeaderElection(std::move(options), clock));
}

LeaderElection::LeaderElection(LeaderElectionOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      client_(options_.endpoints, options_.request_timeout_ms),
      key_(options_.prefix + "leader") {}

LeaderElection::~LeaderElection() { stop(); }

void LeaderElection::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LeaderElection::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void LeaderElection::run() {
  while (true) {
    (void)step();  // a failed round is retried by the next
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    const int64_t ttl = granted_ttl_ > 0 ? granted_ttl_ : options_.ttl_seconds;
    auto wait = std::chrono::duration_cast<milliseconds>(seconds(ttl)) / 3;
    const MonoTime now = clock_.mono_now();
    if (lease_id_ != 0 && deadline_ <= now) continue;  // depose at once, and start again
    if (lease_id_ != 0) {
      // Wake at the deadline at the latest, to depose this candidate the moment it passes.
      wait = std::min(wait,
                      std::chrono::duration_cast<milliseconds>(deadline_ - now) + milliseconds(1));
    }
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

Status LeaderElection::step() {
  std::lock_guard round(round_mutex_);
  int64_t expired = 0;
  bool deposed = false;
  {
    std::lock_guard lock(mutex_);
    if (lease_id_ != 0 && clock_.mono_now() >= deadline_) {
      expired = std::exchange(lease_id_, 0);
      deposed = leading_.has_value();
      leading_.reset();
    }
  }
  if (deposed && options_.on_deposed) options_.on_deposed();
  if (expired != 0) {
    // Best effort: if etcd still has the lease, the key on it goes now rather than at expiry.
    (void)client_.call("lease/revoke", json::dump(etcd::lease_request(expired)), true,
                       std::min(kRevokeTimeoutMs, options_.request_timeout_ms));
  }
  if (Status s = ensure_lease(); !s.ok()) return s;
  return campaign_or_check();
}

int LeaderElection::request_budget_ms() const {
  std::lock_guard lock(mutex_);
  if (lease_id_ == 0) return options_.request_timeout_ms;
  const auto left = std::chrono::duration_cast<milliseconds>(deadline_ - clock_.mono_now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 1, options_.request_timeout_ms));
}

Status LeaderElection::ensure_lease() {
  int64_t lease = 0;
  {
    std::lock_guard lock(mutex_);
    lease = lease_id_;
  }
  if (lease != 0) {
    // The deadline counts from the send, not from the answer (the safety rule, above).
    const MonoTime sent = clock_.mono_now();
    Result<std::string> answer = client_.call(
        "lease/keepalive", json::dump(etcd::lease_request(lease)), true, request_budget_ms());
    if (!answer.ok()) return failed("cannot keep the leader lease alive", answer.error());
    Result<int64_t> ttl = etcd::read_keepalive_answer(*answer);
    if (!ttl.ok()) return ttl.error();
    bool deposed = false;
    {
      std::lock_guard lock(mutex_);
      if (clock_.mono_now() >= deadline_) {
        // Too late: the next round gives the lease up and campaigns on a new one.
        return make_error(ErrorCode::kUnavailable, "the leader lease's deadline passed");
      }
      if (*ttl > 0) {
        deadline_ = sent + seconds(*ttl);
        return Status();
      }
      // etcd no longer has the lease, and so no longer our key either.
      lease_id_ = 0;
      deposed = leading_.has_value();
      leading_.reset();
    }
    if (deposed && options_.on_deposed) options_.on_deposed();
  }
  const MonoTime sent = clock_.mono_now();
  Result<std::string> answer = client_.call(
      "lease/grant", json::dump(etcd::lease_grant_request(options_.ttl_seconds)), true);
  if (!answer.ok()) return failed("cannot grant the leader lease", answer.error());
  Result<etcd::LeaseGrant> grant = etcd::read_lease_grant_answer(*answer);
  if (!grant.ok()) return grant.error();
  std::lock_guard lock(mutex_);
  lease_id_ = grant->id;
  granted_ttl_ = grant->ttl_seconds;
  deadline_ = sent + seconds(grant->ttl_seconds);
  return Status();
}

Status LeaderElection::campaign_or_check() {
  std::optional<Fence> leading;
  int64_t lease = 0;
  {
    std::lock_guard lock(mutex_);
    leading = leading_;
    lease = lease_id_;
    if (!leading && clock_.mono_now() < hold_off_until_) return Status();
  }
  if (leading) {
    Result<std::string> answer =
        client_.call("kv/range", json::dump(etcd::range_request(key_)), true, request_budget_ms());
    if (!answer.ok()) return failed("cannot read the leader key", answer.error());
    Result<std::optional<etcd::LeaderRecord>> record = etcd::read_leader_answer(*answer);
    if (!record.ok()) return record.error();
    if (record->has_value() && (*record)->create_revision == leading->create_revision) {
      return Status();
    }
    if (depose() && options_.on_deposed) options_.on_deposed();
    return Status();
  }
  // Sending it twice is harmless: the second finds the key on our lease and reports it ours.
  Result<std::string> answer =
      client_.call("kv/txn", json::dump(etcd::campaign_request(key_, options_.identity, lease)),
                   true, request_budget_ms());
  if (!answer.ok()) return failed("cannot campaign for the leadership", answer.error());
  Result<etcd::CampaignOutcome> outcome =
      etcd::read_campaign_answer(*answer, options_.identity, lease);
  if (!outcome.ok()) return outcome.error();
  if (!outcome->won) return Status();
  Fence fence{key_, outcome->leader.create_revision};
  {
    std::lock_guard lock(mutex_);
    // Won on a lease whose deadline has passed meanwhile: the next round gives it up.
    if (lease_id_ != lease || clock_.mono_now() >= deadline_) return Status();
    leading_ = fence;
  }
  if (options_.on_elected) options_.on_elected(fence);
  return Status();
}

bool LeaderElection::depose() {
  std::lock_guard lock(mutex_);
  const bool was = leading_.has_value();
  leading_.reset();
  return was;
}

bool LeaderElection::is_leader() const {
  std::lock_guard lock(mutex_);
  return leading_.has_value() && clock_.mono_now() < deadline_;
}

std::optional<Fence> LeaderElection::fence() const {
  std::lock_guard lock(mutex_);
  if (clock_.mono_now() >= deadline_) return std::nullopt;
  return leading_;
}

int64_t LeaderElection::granted_ttl_seconds() const {
  std::lock_guard lock(mutex_);
  return granted_ttl_;
}

MonoTime LeaderElection::lease_deadline() const {
  std::lock_guard lock(mutex_);
  return lease_id_ != 0 ? deadline_ : MonoTime{};
}

Result<std::optional<std::string>> LeaderElection::leader() const {
  Result<std::string> answer =
      client_.call("kv/range", json::dump(etcd::range_request(key_)), true);
  if (!answer.ok()) return failed("cannot read the leader key", answer.error());
  Result<std::optional<etcd::LeaderRecord>> record = etcd::read_leader_answer(*answer);
  if (!record.ok()) return record.error();
  if (!record->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move((*record)->identity));
}

Status LeaderElection::resign() {
  std::lock_guard round(round_mutex_);
  std::optional<Fence> fence;
  {
    std::lock_guard lock(mutex_);
    fence = std::exchange(leading_, std::nullopt);
    if (!fence) return Status();
    const int64_t ttl = granted_ttl_ > 0 ? granted_ttl_ : options_.ttl_seconds;
    hold_off_until_ = clock_.mono_now() + seconds(ttl);
  }
  // Stop leading first: another candidate may lead as soon as the key is gone.
  if (options_.on_deposed) options_.on_deposed();
  Result<std::string> answer =
      client_.call("kv/txn", json::dump(etcd::resign_request(*fence)), true);
  if (!answer.ok()) return failed("cannot delete the leader key", answer.error());
  return Status();
}

}  // namespace berth
