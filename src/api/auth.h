// Who may call the master's API (docs/security.md): API tokens with roles, kept hashed in the
// Store; an admin token read from a file at start (`berth up` writes it); Marathon's single
// HTTP Basic credential (--http-credentials); and registered agents, whose own secret lets the
// Docker volume plugin use the dataset API. The agent protocol itself authenticates in
// marathon_api.cpp against MasterCore. Used by api::handle_request; `berth token` drives it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"
#include "base/result.h"
#include "http/http.h"
#include "store/store.h"

namespace berth::api {

// Each role may do what the one before it may.
enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

std::string role_name(Role role);
std::optional<Role> parse_role(const std::string& name);

// The role a request needs: reads need viewer; changes to apps, groups, tasks, deployments,
// queues and datasets need operator; tokens, nodes and leadership need admin.
Role required_role(const std::string& method, const std::string& path);

struct TokenInfo {
  std::string id;
  Role role = Role::kViewer;
  std::string name;
  std::string created;  // ISO-8601
};

struct Caller {
  Role role = Role::kViewer;
  std::string who;     // "token <id>", "user <name>", "agent <id>"
  bool agent = false;  // an agent's credential: the dataset API only
};

class Authenticator {
 public:
  Authenticator(Store& store, Clock& clock, IdSource& ids);

  // Loads the tokens kept in the store.
  Status load();
  // `token` (as `berth up` writes it: "<id>.<secret>") is accepted as admin from now on; it
  // lives in memory only, so removing the file and restarting retires it.
  void add_bootstrap_admin(const std::string& token);
  // Marathon's --http_credentials: "user:password" for HTTP Basic, with the admin role.
  Status set_basic_credentials(const std::string& user_colon_password);
  // How a request's agent credential is checked (the id of the agent whose secret it is, or "").
  void set_agent_lookup(std::function<std::string(const std::string& secret)> lookup);

  // Creates a token; the returned string is the only time its secret is seen.
  Result<std::pair<TokenInfo, std::string>> create(Role role, const std::string& name);
  std::vector<TokenInfo> list() const;
  // kNotFound for an unknown id. The token stops working before this returns.
  Status revoke(const std::string& id);

  // The caller of `request`: kPermissionDenied (401) without a valid credential.
  Result<Caller> authenticate(const http::Request& request) const;

  // Every API caller is admin without a credential (`berth master --no-auth`, loopback only).
  void disable() { disabled_ = true; }

  // The value of WWW-Authenticate in a 401.
  std::string challenge() const;

 private:
  std::optional<Caller> token_caller(const std::string& token) const;

  Store& store_;
  Clock& clock_;
  IdSource& ids_;
  mutable std::mutex mu_;
  struct Entry {
    TokenInfo info;
    std::string secret_sha256;  // hex
  };
  std::map<std::string, Entry> tokens_;  // by id
  std::string basic_user_;
  std::string basic_password_sha256_;
  std::function<std::string(const std::string&)> agent_lookup_;
  bool disabled_ = false;
};

// SHA-256 of `text`, lowercase hex.
std::string sha256_hex(const std::string& text);

}  // namespace berth::api
