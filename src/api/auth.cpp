#include "api/auth.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "base/secret.h"
#include "json/bounded.h"

namespace berth::api {
namespace {

const std::string kTokenPrefix = "/tokens/";
const std::string kBootstrapId = "admin";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::optional<std::string> base64_decode(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string role_name(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(const std::string& name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator") return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

Role required_role(const std::string& method, const std::string& path) {
  // Callback subscribers make the master send requests where they say: admin only.
  // A backup holds the join token and every token's hash: admin only, reads included.
  if (starts_with(path, "/berth/v1/tokens") || starts_with(path, "/v2/eventSubscriptions") ||
      starts_with(path, "/berth/v1/backup"))
    return Role::kAdmin;
  if (method == "GET" || method == "HEAD") return Role::kViewer;
  if (starts_with(path, "/berth/v1/nodes") || path == "/v2/leader") return Role::kAdmin;
  if (starts_with(path, "/v2/") || starts_with(path, "/v1/")) return Role::kOperator;
  return Role::kAdmin;
}

Authenticator::Authenticator(Store& store, Clock& clock, IdSource& ids)
    : store_(store), clock_(clock), ids_(ids) {}

Status Authenticator::load() {
  auto stored = store_.list(kTokenPrefix);
  if (!stored) return stored.error();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& kv : *stored) {
    auto j = json::parse(kv.value);
    if (!j || !j->is_object()) {
      return make_error(ErrorCode::kInternal, "stored token at " + kv.key + " is not valid JSON");
    }
    auto role = parse_role(j->value("role", ""));
    if (!role)
      return make_error(ErrorCode::kInternal, "stored token at " + kv.key + " has no valid role");
    Entry entry;
    entry.info.id = j->value("id", "");
    entry.info.role = *role;
    entry.info.name = j->value("name", "");
    entry.info.created = j->value("created", "");
    entry.secret_sha256 = j->value("sha256", "");
    tokens_[entry.info.id] = entry;
  }
  return {};
}

void Authenticator::add_bootstrap_admin(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry entry;
  size_t dot = token.find('.');
  entry.info.id = dot == std::string::npos ? kBootstrapId : token.substr(0, dot);
  entry.info.role = Role::kAdmin;
  entry.info.name = "admin token file";
  entry.info.created = format_iso8601(clock_.wall_now());
  entry.secret_sha256 = sha256_hex(dot == std::string::npos ? token : token.substr(dot + 1));
  tokens_[entry.info.id] = entry;
}

Status Authenticator::set_basic_credentials(const std::string& user_colon_password) {
  size_t colon = user_colon_password.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == user_colon_password.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--http-credentials must be USER:PASSWORD with both parts non-empty");
  }
  std::lock_guard<std::mutex> lock(mu_);
  basic_user_ = user_colon_password.substr(0, colon);
  basic_password_sha256_ = sha256_hex(user_colon_password.substr(colon + 1));
  return {};
}

void Authenticator::set_agent_lookup(std::function<std::string(const std::string&)> lookup) {
  std::lock_guard<std::mutex> lock(mu_);
  agent_lookup_ = std::move(lookup);
}

Result<std::pair<TokenInfo, std::string>> Authenticator::create(Role role,
                                                                const std::string& name) {
  if (name.size() > 200)
    return make_error(ErrorCode::kInvalidArgument, "a token's name is at most 200 bytes");
  TokenInfo info;
  info.id = ids_.uuid().substr(0, 8) + ids_.uuid().substr(0, 8);
  info.role = role;
  info.name = name;
  info.created = format_iso8601(clock_.wall_now());
  std::string secret = ids_.secret();
  nlohmann::json record = {{"id", info.id},
                           {"role", role_name(role)},
                           {"name", info.name},
                           {"created", info.created},
                           {"sha256", sha256_hex(secret)}};
  auto put = store_.compare_and_swap(kTokenPrefix + info.id, json::dump(record), 0);
  if (!put) return put.error();
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[info.id] = Entry{info, sha256_hex(secret)};
  return std::make_pair(info, info.id + "." + secret);
}

std::vector<TokenInfo> Authenticator::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TokenInfo> out;
  for (const auto& [id, entry] : tokens_) out.push_back(entry.info);
  return out;
}

Status Authenticator::revoke(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(id);
    if (it == tokens_.end())
      return make_error(ErrorCode::kNotFound, "no token with id '" + id + "'");
    if (it->second.info.name == "admin token file") {
      return make_error(
          ErrorCode::kInvalidArgument,
          "token '" + id +
              "' comes from the admin token file: remove the file and restart the master");
    }
    // Forgotten first: from here on the token is refused, even if the store write below fails.
    tokens_.erase(it);
  }
  auto erased = store_.erase(kTokenPrefix + id);
  if (!erased) return erased.error();
  return {};
}

std::optional<Caller> Authenticator::token_caller(const std::string& token) const {
  size_t dot = token.find('.');
  if (dot == std::string::npos) return std::nullopt;
  std::string id = token.substr(0, dot);
  std::string digest = sha256_hex(token.substr(dot + 1));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(id);
  if (it == tokens_.end() || !same_secret(it->second.secret_sha256, digest)) return std::nullopt;
  return Caller{it->second.info.role, "token " + id, false};
}

Result<Caller> Authenticator::authenticate(const http::Request& request) const {
  std::string header = request.header("authorization");
  if (disabled_) return Caller{Role::kAdmin, "anyone (--no-auth)", false};
  if (header.empty()) {
    return make_error(
        ErrorCode::kPermissionDenied,
        "authentication required: send Authorization: Bearer <token> (berth token create) "
        "or HTTP Basic credentials");
  }
  auto space = header.find(' ');
  std::string scheme = header.substr(0, space);
  std::string value = space == std::string::npos ? "" : header.substr(space + 1);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!value.empty() && value.front() == ' ') value.erase(0, 1);
  // DC/OS's "Authorization: token=<token>", which Marathon clients send for an auth token
  // (python-marathon's auth_token): a bearer token by another name.
  if (scheme.rfind("token=", 0) == 0 && space == std::string::npos) {
    value = header.substr(6);
    scheme = "bearer";
  }
  if (scheme == "bearer") {
    if (auto caller = token_caller(value)) return *caller;
    std::function<std::string(const std::string&)> lookup;
    {
      std::lock_guard<std::mutex> lock(mu_);
      lookup = agent_lookup_;
    }
    if (lookup) {
      std::string agent = lookup(value);
      if (!agent.empty()) return Caller{Role::kOperator, "agent " + agent, true};
    }
    return make_error(ErrorCode::kPermissionDenied,
                      "the bearer token is not valid (unknown or revoked)");
  }
  if (scheme == "basic") {
    auto decoded = base64_decode(value);
    if (!decoded || decoded->find(':') == std::string::npos) {
      return make_error(ErrorCode::kPermissionDenied, "malformed HTTP Basic credentials");
    }
    size_t colon = decoded->find(':');
    std::string user = decoded->substr(0, colon);
    std::string password = decoded->substr(colon + 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!basic_user_.empty() && same_secret(user, basic_user_) &&
          same_secret(sha256_hex(password), basic_password_sha256_)) {
        return Caller{Role::kAdmin, "user " + user, false};
      }
    }
    // A token as the password, for clients that only speak Basic (marathon-lb's
    // --auth-credentials).
    if (auto caller = token_caller(password)) return *caller;
    return make_error(ErrorCode::kPermissionDenied, "invalid HTTP Basic credentials");
  }
  // The scheme is named only when it looks like one: a credential sent without a scheme must
  // not come back in the answer (clients log error bodies).
  bool word =
      !scheme.empty() && scheme.size() <= 20 &&
      scheme.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos;
  return make_error(ErrorCode::kPermissionDenied,
                    "unsupported Authorization scheme" + (word ? " '" + scheme + "'" : "") +
                        ": use Bearer <token>, token=<token> or HTTP Basic");
}

std::string Authenticator::challenge() const {
  std::lock_guard<std::mutex> lock(mu_);
  return basic_user_.empty() ? "Bearer realm=\"berth\""
                             : "Basic realm=\"berth\", Bearer realm=\"berth\"";
}

}  // namespace berth::api
