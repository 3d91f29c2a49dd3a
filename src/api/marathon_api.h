// The HTTP routes of the master: Marathon's v2 API (docs/compatibility.md §2), berth's own
// /berth/v1 routes for nodes and the agent protocol (docs/protocol.md, docs/compatibility.md §1).
// Decode -> MasterCore -> encode; HTTP status mapping lives here and nowhere else.
#pragma once

#include <functional>

#include "api/auth.h"
#include "http/http.h"
#include "master/master_core.h"

namespace berth::api {

// The "format" of a `berth backup` file (GET /berth/v1/backup), which `berth restore` checks.
inline constexpr const char* kBackupFormat = "berth-backup-1";

// The Marathon API version berth answers as in GET /v2/info (docs/compatibility.md §2.7):
// Marathon 1.8's v2 API, without pods.
inline constexpr const char* kMarathonApiVersion = "1.8.222";

struct ApiInfo {
  std::string version = "0.1.0";  // berth's own, in /v2/info's buildref
  std::string http_address;       // host:port the master serves on
  std::string store_url;          // --store: /v2/info's zookeeper_config.zk
  // DELETE /v2/leader: ends this master's leadership so that a standby takes over. Unset for a
  // master with no standby (on SQLite), which answers 409.
  std::function<Status()> abdicate;
};

// Every route but GET /ping and the agent protocol needs a caller `auth` accepts, with the
// role the route needs (401 / 403 otherwise, in the error shape of the route's API). The agent
// protocol authenticates agents itself: the join token to register, then the agent's secret.
http::Response handle_request(master::MasterCore& core, Clock& clock, const ApiInfo& info,
                              Authenticator& auth, const http::Request& request);

}  // namespace berth::api
