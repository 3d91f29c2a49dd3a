#include "store/etcd_wire.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <utility>

#include "json/bounded.h"

namespace berth::etcd {
namespace {

using Json = nlohmann::json;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// An answer holds at most a range of values of kMaxValueBytes each, a third larger as base64;
// the HTTP client bounds the bytes, this only has to let them through.
constexpr json::Limits kAnswerLimits{16, size_t{256} << 20};

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Error malformed(std::string_view what) {
  return make_error(ErrorCode::kInternal, "etcd's answer is not what etcd v3.4 sends (" +
                                              std::string(what) +
                                              "); is every --store endpoint an etcd client URL?");
}

Result<Json> parse_object(std::string_view answer) {
  Result<Json> parsed = json::parse(answer, kAnswerLimits);
  if (!parsed.ok()) return malformed(parsed.error().message);
  if (!parsed->is_object()) return malformed("not a JSON object");
  return parsed;
}

// An int64 field, which etcd writes as a string and leaves out when it is 0.
Result<int64_t> int64_field(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (!it->is_string()) return malformed(std::string(name) + " is not a number");
  const std::string& text = it->get_ref<const std::string&>();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return malformed(std::string(name) + " is \"" + text + "\"");
  }
  return value;
}

// A base64 field, left out by etcd when empty.
Result<std::string> bytes_field(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return malformed(std::string(name) + " is not a string");
  std::optional<std::string> bytes = base64_decode(it->get_ref<const std::string&>());
  if (!bytes) return malformed(std::string(name) + " is not base64");
  return std::move(*bytes);
}

// The member `name` of object if it is an object or array, else null (also when absent).
const Json& member(const Json& object, const char* name) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(name);
  return it == object.end() ? kNull : *it;
}

Result<KeyValue> read_key_value(const Json& kv, std::string_view prefix) {
  if (!kv.is_object()) return malformed("a key-value is not an object");
  KeyValue out;
  Result<std::string> key = bytes_field(kv, "key");
  if (!key.ok()) return key.error();
  if (!key->starts_with(prefix)) return malformed("a key outside the prefix asked for");
  out.key = key->substr(prefix.size());
  Result<std::string> value = bytes_field(kv, "value");
  if (!value.ok()) return value.error();
  out.value = std::move(*value);
  for (auto [name, field] :
       {std::pair{"create_revision", &out.create_revision},
        std::pair{"mod_revision", &out.mod_revision}, std::pair{"version", &out.version}}) {
    Result<int64_t> number = int64_field(kv, name);
    if (!number.ok()) return number.error();
    *field = *number;
  }
  return out;
}

// The key's state from a key-value etcd sent back (prev_kv, or a range's first entry); nullopt
// when etcd sent none, which it does for an absent key.
Result<std::optional<KeyMeta>> read_meta(const Json& kv) {
  if (kv.is_null()) return std::optional<KeyMeta>();
  Result<KeyValue> read = read_key_value(kv, "");
  if (!read.ok()) return read.error();
  return std::optional<KeyMeta>(KeyMeta{read->create_revision, read->mod_revision, read->version});
}

// array[i], or null when array is not an array that long.
const Json& element(const Json& array, size_t i) {
  static const Json kNull;
  return array.is_array() && i < array.size() ? array[i] : kNull;
}

// The first element of an array member, or null.
const Json& first_of(const Json& object, const char* name) {
  return element(member(object, name), 0);
}

Result<CommitPlan> read_committed(const std::vector<StoreOp>& ops, const Json& responses,
                                  int64_t revision) {
  std::vector<std::optional<KeyMeta>> current(ops.size());
  bool changed = false;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Json& response = element(responses, i);
    const bool put = ops[i].kind == StoreOp::Kind::kPut;
    const Json& result = member(response, put ? "response_put" : "response_delete_range");
    if (!result.is_object()) return malformed("a transaction response is missing");
    Result<std::optional<KeyMeta>> meta =
        read_meta(put ? member(result, "prev_kv") : first_of(result, "prev_kvs"));
    if (!meta.ok()) return meta.error();
    current[i] = *meta;
    changed = changed || put || current[i].has_value();
  }
  if (!changed) return CommitPlan{revision, {}};
  // A transaction that changes something takes etcd's next revision, so the one before it is
  // revision - 1 and plan_commit() gives every change etcd's create and mod revisions.
  Result<CommitPlan> plan = plan_commit(ops, current, revision - 1);
  if (!plan.ok() || plan->revision != revision) {
    return malformed("etcd committed a transaction whose compares did not hold");
  }
  return plan;
}

Error not_the_leader(const Fence& fence, int64_t now) {
  return make_error(
      ErrorCode::kPreconditionFailed,
      "not the leader: the write was fenced on the leadership that created " +
          quote_key(fence.key) + " at revision " + std::to_string(fence.create_revision) +
          ", and " +
          (now == 0 ? std::string("that key no longer exists")
                    : "that key was created again at revision " + std::to_string(now)) +
          "; nothing was written");
}

Result<CommitPlan> read_refused(const std::vector<StoreOp>& ops, const Json& responses,
                                int64_t revision, const std::optional<Fence>& fence) {
  std::vector<std::optional<KeyMeta>> current(ops.size());
  size_t next = 0;
  if (fence) {
    const Json& result = member(element(responses, next++), "response_range");
    if (!result.is_object()) return malformed("the fence's range response is missing");
    Result<std::optional<KeyMeta>> meta = read_meta(first_of(result, "kvs"));
    if (!meta.ok()) return meta.error();
    const int64_t now = meta->has_value() ? (*meta)->create_revision : 0;
    if (now != fence->create_revision) return not_the_leader(*fence, now);
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!ops[i].expected_mod_revision) continue;
    const Json& response = element(responses, next++);
    const Json& result = member(response, "response_range");
    if (!result.is_object()) return malformed("a range response is missing");
    Result<std::optional<KeyMeta>> meta = read_meta(first_of(result, "kvs"));
    if (!meta.ok()) return meta.error();
    current[i] = *meta;
  }
  Result<CommitPlan> plan = plan_commit(ops, current, revision);
  if (plan.ok()) return malformed("etcd refused a transaction whose compares held");
  return plan.error();
}

// The leader record a key-value of the leader key holds; nullopt for none.
Result<std::optional<LeaderRecord>> read_leader_record(const Json& kv) {
  if (kv.is_null()) return std::optional<LeaderRecord>();
  Result<KeyValue> read = read_key_value(kv, "");
  if (!read.ok()) return read.error();
  Result<int64_t> lease = int64_field(kv, "lease");
  if (!lease.ok()) return lease.error();
  return std::optional<LeaderRecord>(
      LeaderRecord{std::move(read->value), read->create_revision, *lease});
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])); };
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = byte(i) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    for (int shift : {18, 12, 6}) out += kAlphabet[(n >> shift) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t padding = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (padding == 1 && text[i + 2] == '=') return std::nullopt;
    uint32_t n = 0;
    for (size_t j = 0; j < 4; ++j) {
      const int digit = j >= 4 - padding ? 0 : base64_digit(text[i + j]);
      if (digit < 0) return std::nullopt;
      n = n << 6 | static_cast<uint32_t>(digit);
    }
    out += static_cast<char>(n >> 16);
    if (padding < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

nlohmann::json txn_request(const std::vector<StoreOp>& ops, std::string_view prefix,
                           const std::optional<Fence>& fence) {
  Json compare = Json::array();
  Json success = Json::array();
  Json failure = Json::array();
  if (fence) {
    const std::string key = base64_encode(fence->key);
    compare.push_back({{"target", "CREATE"},
                       {"key", key},
                       {"result", "EQUAL"},
                       {"create_revision", std::to_string(fence->create_revision)}});
    failure.push_back({{"request_range", {{"key", key}, {"keys_only", true}}}});
  }
  for (const StoreOp& op : ops) {
    const std::string key = base64_encode(std::string(prefix) + op.key);
    if (op.expected_mod_revision) {
      compare.push_back({{"target", "MOD"},
                         {"key", key},
                         {"result", "EQUAL"},
                         {"mod_revision", std::to_string(*op.expected_mod_revision)}});
      failure.push_back({{"request_range", {{"key", key}, {"keys_only", true}}}});
    }
    if (op.kind == StoreOp::Kind::kPut) {
      success.push_back(
          {{"request_put", {{"key", key}, {"value", base64_encode(op.value)}, {"prev_kv", true}}}});
    } else {
      success.push_back({{"request_delete_range", {{"key", key}, {"prev_kv", true}}}});
    }
  }
  return {{"compare", compare}, {"success", success}, {"failure", failure}};
}

nlohmann::json range_request(std::string_view key, std::optional<std::string> range_end) {
  Json request = {{"key", base64_encode(key)}};
  if (range_end) request["range_end"] = base64_encode(*range_end);
  return request;
}

Result<CommitPlan> read_txn_answer(const std::vector<StoreOp>& ops, std::string_view answer,
                                   const std::optional<Fence>& fence) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  Result<int64_t> revision = int64_field(member(*parsed, "header"), "revision");
  if (!revision.ok()) return revision.error();
  const Json& succeeded = member(*parsed, "succeeded");
  if (!succeeded.is_null() && !succeeded.is_boolean())
    return malformed("succeeded is not a boolean");
  const Json& responses = member(*parsed, "responses");
  if (succeeded.is_boolean() && succeeded.get<bool>()) {
    return read_committed(ops, responses, *revision);
  }
  return read_refused(ops, responses, *revision, fence);
}

Result<std::vector<KeyValue>> read_range_answer(std::string_view answer, std::string_view prefix) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  const Json& kvs = member(*parsed, "kvs");
  if (!kvs.is_null() && !kvs.is_array()) return malformed("kvs is not an array");
  std::vector<KeyValue> out;
  if (kvs.is_null()) return out;
  out.reserve(kvs.size());
  for (const Json& kv : kvs) {
    Result<KeyValue> read = read_key_value(kv, prefix);
    if (!read.ok()) return read.error();
    out.push_back(std::move(*read));
  }
  return out;
}

Result<int64_t> read_header_revision(std::string_view answer) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  const Json& header = member(*parsed, "header");
  if (!header.is_object()) return malformed("no header");
  return int64_field(header, "revision");
}

nlohmann::json lease_grant_request(int64_t ttl_seconds) {
  return {{"TTL", std::to_string(ttl_seconds)}};
}

Result<LeaseGrant> read_lease_grant_answer(std::string_view answer) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  if (const Json& error = member(*parsed, "error"); !error.is_null()) {
    return make_error(ErrorCode::kUnavailable, "etcd granted no lease: " + error.dump());
  }
  Result<int64_t> id = int64_field(*parsed, "ID");
  if (!id.ok()) return id.error();
  Result<int64_t> ttl = int64_field(*parsed, "TTL");
  if (!ttl.ok()) return ttl.error();
  if (*id == 0 || *ttl <= 0) return malformed("a lease grant without an ID or a TTL");
  return LeaseGrant{*id, *ttl};
}

nlohmann::json lease_request(int64_t lease_id) { return {{"ID", std::to_string(lease_id)}}; }

Result<int64_t> read_keepalive_answer(std::string_view answer) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  if (const Json& error = member(*parsed, "error"); !error.is_null()) {
    return make_error(ErrorCode::kUnavailable, "etcd's keepalive stream failed: " + error.dump());
  }
  const Json& result = member(*parsed, "result");
  if (!result.is_object()) return malformed("a keepalive answer without a result");
  Result<int64_t> ttl = int64_field(result, "TTL");
  if (!ttl.ok()) return ttl.error();
  return std::max<int64_t>(*ttl, 0);
}

nlohmann::json campaign_request(std::string_view key, std::string_view identity, int64_t lease_id) {
  const std::string encoded = base64_encode(key);
  return {
      {"compare",
       {{{"target", "CREATE"}, {"key", encoded}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
      {"success",
       {{{"request_put",
          {{"key", encoded},
           {"value", base64_encode(identity)},
           {"lease", std::to_string(lease_id)}}}}}},
      {"failure", {{{"request_range", {{"key", encoded}}}}}}};
}

Result<CampaignOutcome> read_campaign_answer(std::string_view answer, std::string_view identity,
                                             int64_t lease_id) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  const Json& succeeded = member(*parsed, "succeeded");
  if (succeeded.is_boolean() && succeeded.get<bool>()) {
    // The put created the key, so its create_revision is the transaction's revision.
    Result<int64_t> revision = int64_field(member(*parsed, "header"), "revision");
    if (!revision.ok()) return revision.error();
    return CampaignOutcome{true, LeaderRecord{std::string(identity), *revision, lease_id}};
  }
  const Json& result = member(element(member(*parsed, "responses"), 0), "response_range");
  if (!result.is_object()) return malformed("the campaign's range response is missing");
  Result<std::optional<LeaderRecord>> leader = read_leader_record(first_of(result, "kvs"));
  if (!leader.ok()) return leader.error();
  // The compare failed only because the key exists, and the range read it in the same
  // transaction.
  if (!leader->has_value()) return malformed("a campaign refused with no leader key");
  const bool ours = (*leader)->lease_id == lease_id;
  return CampaignOutcome{ours, std::move(**leader)};
}

nlohmann::json resign_request(const Fence& fence) {
  const std::string key = base64_encode(fence.key);
  return {{"compare",
           {{{"target", "CREATE"},
             {"key", key},
             {"result", "EQUAL"},
             {"create_revision", std::to_string(fence.create_revision)}}}},
          {"success", {{{"request_delete_range", {{"key", key}}}}}},
          {"failure", Json::array()}};
}

Result<std::optional<LeaderRecord>> read_leader_answer(std::string_view answer) {
  Result<Json> parsed = parse_object(answer);
  if (!parsed.ok()) return parsed.error();
  return read_leader_record(first_of(*parsed, "kvs"));
}

Error read_error_answer(std::string_view endpoint, std::string_view method, int status,
                        std::string_view body) {
  const Json parsed = json::parse_or_discarded(body);
  std::string message = "etcd at " + std::string(endpoint) + " answered " + std::string(method) +
                        " with HTTP " + std::to_string(status);
  const Json& text = member(parsed, "message");
  if (text.is_string()) message += ": " + text.get<std::string>();
  int64_t code = -1;
  if (const Json& number = member(parsed, "code"); number.is_number_integer()) {
    code = number.get<int64_t>();
  }
  // etcd's gRPC codes: 3 invalid argument, 4 deadline exceeded, 7 permission denied, 14
  // unavailable, 16 unauthenticated.
  ErrorCode error_code = ErrorCode::kInternal;
  if (code == 3) error_code = ErrorCode::kInvalidArgument;
  if (code == 4 || code == 14 || status == 503) error_code = ErrorCode::kUnavailable;
  if (code == 7 || code == 16) error_code = ErrorCode::kPermissionDenied;
  if (message.find("request is too large") != std::string::npos) {
    message +=
        "; etcd's --max-request-bytes bounds a write, values included (docs/architecture.md §5)";
  } else if (message.find("too many operations in txn") != std::string::npos) {
    message +=
        "; etcd's --max-txn-ops bounds the operations of one write (docs/architecture.md §5)";
  }
  return make_error(error_code, std::move(message));
}

}  // namespace berth::etcd
