// The parts `berth master` is made of, shared by the one master on SQLite (run_master.cpp) and
// the masters that elect a leader on etcd (elected_master.cpp, docs/architecture.md §5).
#pragma once

#include <optional>
#include <string>

#include "api/auth.h"
#include "base/clock.h"
#include "base/ids.h"
#include "cmd/commands.h"
#include "http/http.h"
#include "master/master_core.h"
#include "store/store_url.h"

namespace berth::cmd {

bool is_loopback(const std::string& host);

// The controller thread's nice value (base/thread_priority.h favour_thread).
inline constexpr int kControllerNice = -5;

// The host in the leader's address (/v2/leader): --advertised-host, else --host (127.0.0.1
// for 0.0.0.0).
std::string advertised_host(const MasterFlags& flags);
// The master core's options from `flags`, or nullopt (logged) when a flag is invalid.
std::optional<master::MasterOptions> master_options(const MasterFlags& flags,
                                                    const std::string& join_token,
                                                    const lease::LeaseOptions& timing);
// Loads the API tokens and sets up who may call: the admin token, --http-credentials, agents
// by their secrets, or anyone with --no-auth. 0, or the exit code of a failure it logged.
int set_up_auth(api::Authenticator& auth, master::MasterCore& core, const MasterFlags& flags,
                IdSource& ids);
http::ServerOptions server_options(const MasterFlags& flags);

// Serves as one of several masters sharing the etcd cluster `store`: campaigns for the
// leadership, leads (a MasterCore of its own per term, on a store fenced by that term) or
// stands by (proxying the API to the leader), until SIGINT or SIGTERM. The exit code.
int serve_elected(const MasterFlags& flags, bool tls, const StoreUrl& store,
                  const master::MasterOptions& options, Clock& clock, IdSource& ids);

}  // namespace berth::cmd
