#include "api/marathon_api.h"

#include <charconv>
#include <chrono>
#include <memory>

#include "api/apps_routes.h"
#include "api/events_routes.h"
#include "api/flocker_routes.h"
#include "api/groups_routes.h"
#include "api/metrics_routes.h"
#include "api/responses.h"
#include "api/views.h"
#include "ui/ui_files.h"

namespace berth::api {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

http::Response handle_tasks(master::MasterCore& core, const http::Request& request) {
  if (request.path == "/v2/tasks" && request.method == "GET") {
    std::set<std::string> wanted;
    for (auto [it, end] = request.query.equal_range("status"); it != end; ++it)
      wanted.insert(it->second);
    for (auto [it, end] = request.query.equal_range("status[]"); it != end; ++it)
      wanted.insert(it->second);
    nlohmann::json tasks = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& [tid, task] : s.tasks) {
        if (!wanted.empty()) {
          std::string short_state =
              task.state == protocol::TaskState::kRunning ? "running" : "staging";
          if (!wanted.count(short_state)) continue;
        }
        tasks.push_back(task_json(s, task));
      }
    });
    return json_response(200, {{"tasks", tasks}});
  }
  if (request.path == "/v2/tasks/delete" && request.method == "POST") {
    nlohmann::json body;
    http::Response error;
    if (!parse_body(request, &body, &error)) return error;
    if (!body.is_object() || !body.contains("ids") || !body["ids"].is_array()) {
      return json_response(400,
                           {{"message", "Invalid JSON"},
                            {"details", {{{"path", "/ids"}, {"errors", {"error.path.missing"}}}}}});
    }
    bool scale = request.query_flag("scale", false);
    if (scale && request.query_flag("wipe", false)) {
      return message_response(400, "You cannot use scale and wipe at the same time.");
    }
    std::vector<std::string> ids;
    for (const auto& id : body["ids"]) {
      if (!id.is_string()) return message_response(400, "Invalid task id " + id.dump());
      ids.push_back(id.get<std::string>());
    }
    bool all_known = true;
    std::string unknown;
    core.read([&](const master::MasterState& s) {
      for (const auto& id : ids) {
        if (!s.tasks.count(id)) {
          all_known = false;
          unknown = id;
          return;
        }
      }
    });
    if (!all_known) return message_response(400, "Invalid task id " + unknown);
    std::vector<master::TaskRecord> killed;
    auto ref = core.kill_tasks(ids, scale, request.query_flag("force", false), &killed);
    if (!ref) return error_response(ref.error());
    if (scale && *ref) {
      http::Response r = json_response(
          200, {{"deploymentId", (*ref)->deployment_id}, {"version", (*ref)->version}});
      r.headers.push_back({"Marathon-Deployment-Id", (*ref)->deployment_id});
      return r;
    }
    nlohmann::json tasks = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& t : killed) tasks.push_back(task_json(s, t));
    });
    return json_response(200, {{"tasks", tasks}});
  }
  return message_response(405, "Method not allowed");
}

http::Response handle_queue(master::MasterCore& core, Clock& clock, const http::Request& request) {
  if (request.path == "/v2/queue" && request.method == "GET") {
    bool offers = request.query_value("embed") == "lastUnusedOffers";
    nlohmann::json body;
    core.read([&](const master::MasterState& s) {
      body = queue_json(s, clock.wall_now(), clock.mono_now(), offers);
    });
    return json_response(200, body);
  }
  const std::string suffix = "/delay";
  if (request.method == "DELETE" && request.path.size() > 10 + suffix.size() &&
      request.path.compare(request.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    // Empty segments are dropped, as in /v2/apps ("//web" from clients that join paths).
    std::string id = model::normalize_app_id(
        request.path.substr(9, request.path.size() - 9 - suffix.size()), "/");
    Status reset = core.reset_delay(id);
    if (!reset) return error_response(reset.error());
    http::Response no_content;
    no_content.status = 204;  // Marathon's answer, with no body
    return no_content;
  }
  return message_response(404, "URI not found");
}

// `name` of the query as a non-negative integer (absent: `fallback`); nullopt when it is not one.
std::optional<uint64_t> query_number(const http::Request& request, const char* name,
                                     uint64_t fallback) {
  std::string text = request.query_value(name, "");
  if (text.empty()) return fallback;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

http::Response malformed_agent_message(const Error& error) {
  return message_response(400, "malformed agent message: " + error.message);
}

http::Response command_answer(const Result<protocol::CommandBatch>& batch) {
  if (!batch) return error_response(batch.error());
  return json_response(200, *batch);
}

// GET /berth/v1/nodes: 500 nodes per hold of the state lock, letting heartbeats and writes in
// between (docs/architecture.md §4), so a fleet of 10,000 is not one long hold.
http::Response nodes_answer(master::MasterCore& core, Clock& clock) {
  nlohmann::json nodes = nlohmann::json::array();
  std::string after;
  for (bool done = false; !done;) {
    if (!after.empty()) core.let_waiters_go();
    core.read([&](const master::MasterState& s) {
      done = append_nodes(s, clock.mono_now(), 500, &after, &nodes);
    });
  }
  return json_response(200, {{"nodes", std::move(nodes)}});
}

// GET /berth/v1/agents/{id}/commands?after=SEQ&wait_ms=N, the command long poll
// (docs/protocol.md §5). With a wait the answer is deferred: the poll holds no thread while it
// waits, and its connection gets an empty batch when the wait passes with nothing to take.
http::Response agent_commands(master::MasterCore& core, const std::string& agent_id,
                              const http::Request& request) {
  auto after = query_number(request, "after", 0);
  auto wait_ms = query_number(request, "wait_ms", 0);
  if (!after || !wait_ms) {
    return malformed_agent_message(
        make_error(ErrorCode::kInvalidArgument, "after and wait_ms must be non-negative integers"));
  }
  const std::chrono::milliseconds wait(std::min<uint64_t>(*wait_ms, 30000));
  if (wait.count() == 0) return command_answer(core.commands(agent_id, *after, wait));
  http::Response fallback = json_response(200, protocol::CommandBatch{});
  fallback.defer_timeout = wait;
  fallback.defer = [&core, agent_id, after = *after](std::shared_ptr<http::Reply> reply) {
    master::CommandWaiter waiter;
    // Encoded by whoever answers, once the master's lock is released.
    waiter.answer = [reply](Result<protocol::CommandBatch> batch) {
      reply->complete(command_answer(batch));
    };
    waiter.abandoned = [reply] { return reply->abandoned(); };
    core.poll_commands(agent_id, after, std::move(waiter));
  };
  return fallback;
}

http::Response handle_agent_protocol(master::MasterCore& core, const http::Request& request) {
  // /berth/v1/agents/register, /berth/v1/agents/{id}/{heartbeat|status|commands}
  const std::string prefix = "/berth/v1/agents/";
  std::string rest = request.path.substr(prefix.size());
  if (rest == "register" && request.method == "POST") {
    auto message = protocol::decode<protocol::RegisterRequest>(request.body);
    if (!message) return malformed_agent_message(message.error());
    auto r = core.register_agent(*message);
    if (!r) return error_response(r.error());
    return json_response(200, *r);
  }
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return message_response(404, "URI not found");
  std::string agent_id = rest.substr(0, slash);
  std::string what = rest.substr(slash + 1);
  // Only the agent itself, with the secret of its registration, speaks for it.
  std::string authorization = request.header("authorization");
  const std::string bearer = "Bearer ";
  const std::string secret =
      authorization.rfind(bearer, 0) == 0 ? authorization.substr(bearer.size()) : "";
  Status allowed = core.authenticate_agent(agent_id, secret);
  if (!allowed) {
    http::Response denied = error_response(allowed.error());
    if (denied.status == 401)
      denied.headers.push_back({"WWW-Authenticate", "Bearer realm=\"berth-agent\""});
    return denied;
  }
  const std::string body = request.body.empty() ? std::string("{}") : request.body;
  if (what == "heartbeat" && request.method == "POST") {
    auto message = protocol::decode<protocol::Heartbeat>(body);
    if (!message) return malformed_agent_message(message.error());
    // How long it waited for a thread counts against its budget for the state lock.
    std::chrono::milliseconds waited{0};
    if (request.received != std::chrono::steady_clock::time_point{}) {
      waited = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - request.received);
    }
    auto r = core.heartbeat(agent_id, secret, *message, waited);
    if (!r) return error_response(r.error());
    return json_response(200, *r);
  }
  if (what == "status" && request.method == "POST") {
    auto message = protocol::decode<protocol::StatusBatch>(body);
    if (!message) return malformed_agent_message(message.error());
    auto r = core.status(agent_id, *message);
    if (!r) return error_response(r.error());
    return json_response(200, *r);
  }
  if (what == "commands" && request.method == "GET") return agent_commands(core, agent_id, request);
  return message_response(404, "URI not found");
}

// GET /berth/v1/tasks/{id}/logs?...: relayed to the agent running (or last running) the task,
// which serves the bytes of its stdout or stderr.
http::Response forward_task_logs(master::MasterCore& core, const http::Request& request) {
  const std::string& path = request.path;
  const std::string suffix = "/logs";
  if (path.size() <= 16 + suffix.size() ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return message_response(404, "URI not found");
  }
  std::string task_id = path.substr(16, path.size() - 16 - suffix.size());
  std::string base;
  std::string problem;
  core.read([&](const master::MasterState& s) {
    auto task = s.tasks.find(task_id);
    if (task == s.tasks.end()) {
      problem = "Task '" + task_id + "' does not exist";
      return;
    }
    auto agent = s.agents.find(task->second.agent_id);
    if (agent == s.agents.end() || agent->second.http_port == 0) {
      problem = "the agent of task '" + task_id + "' does not serve logs";
      return;
    }
    base = agent->second.http_base();
  });
  if (base.empty())
    return message_response(problem.find("does not exist") != std::string::npos ? 404 : 502,
                            problem);
  // The agent serves logs to holders of the cluster's join token only.
  auto answer = http::request(base, "GET", request.target, "", 10000,
                              {{"Authorization", "Bearer " + core.options().join_token}});
  if (!answer)
    return message_response(502,
                            "the agent at " + base + " did not answer: " + answer.error().message);
  http::Response response;
  response.status = answer->status;
  auto type = answer->headers.find("content-type");
  response.content_type = type != answer->headers.end() ? type->second : "text/plain";
  for (const auto& [name, value] : answer->headers) {
    if (name.rfind("x-berth-", 0) == 0) response.headers.emplace_back(name, value);
  }
  response.body = std::move(answer->body);
  return response;
}

// GET /berth/v1/tasks[?app=/x], /berth/v1/tasks/{id}: berth's task view; .../{id}/logs: its logs.
http::Response handle_berth_tasks(master::MasterCore& core, const http::Request& request) {
  const std::string prefix = "/berth/v1/tasks/";
  if (request.path.size() > prefix.size() &&
      request.path.compare(request.path.size() - 5, 5, "/logs") == 0)
    return forward_task_logs(core, request);
  if (request.path == "/berth/v1/tasks") {
    std::string app = request.query_value("app", "");
    nlohmann::json tasks = nlohmann::json::array();
    core.read([&](const master::MasterState& s) {
      for (const auto& [tid, task] : s.tasks) {
        if (app.empty() || task.app_id == app) tasks.push_back(berth_task_json(s, task));
      }
    });
    return json_response(200, {{"tasks", tasks}});
  }
  std::string id = request.path.substr(prefix.size());
  std::optional<nlohmann::json> task;
  core.read([&](const master::MasterState& s) {
    auto it = s.tasks.find(id);
    if (it != s.tasks.end()) task = berth_task_json(s, it->second);
  });
  if (!task) return message_response(404, "Task '" + id + "' does not exist");
  return json_response(200, {{"task", *task}});
}

// /v2/eventSubscriptions: Marathon's HTTP callback subscribers (admin only; the master POSTs
// every event to each, src/api/event_callbacks.h).
http::Response handle_event_subscriptions(master::MasterCore& core, const http::Request& request) {
  if (request.method == "GET")
    return json_response(200, {{"callbackUrls", core.event_callbacks()}});
  if (request.method != "POST" && request.method != "DELETE")
    return message_response(405, "Method not allowed");
  std::string url = request.query_value("callbackUrl", "");
  if (url.empty()) return message_response(400, "callbackUrl is missing from the query");
  bool subscribe = request.method == "POST";
  Status changed = subscribe ? core.add_event_callback(url) : core.remove_event_callback(url);
  if (!changed) return error_response(changed.error());
  std::string type = subscribe ? "subscribe_event" : "unsubscribe_event";
  std::string client_ip = request.remote_address.substr(0, request.remote_address.rfind(':'));
  nlohmann::json event = {{"clientIp", client_ip}, {"callbackUrl", url}};
  core.publish_event(type, event);
  event["eventType"] = type;
  return json_response(200, event);
}

// The error body of the API `path` belongs to: Flocker's {"description"} or {"message"}.
http::Response api_error(const std::string& path, int status, const std::string& text) {
  if (starts_with(path, "/v1/")) return json_response(status, {{"description", text}});
  return message_response(status, text);
}

// POST/GET /berth/v1/tokens, DELETE /berth/v1/tokens/{id} (admin only).
http::Response handle_tokens(Authenticator& auth, const http::Request& request) {
  auto view = [](const TokenInfo& t) {
    return nlohmann::json{
        {"id", t.id}, {"role", role_name(t.role)}, {"name", t.name}, {"created", t.created}};
  };
  if (request.path == "/berth/v1/tokens" && request.method == "GET") {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : auth.list()) tokens.push_back(view(t));
    return json_response(200, {{"tokens", tokens}});
  }
  if (request.path == "/berth/v1/tokens" && request.method == "POST") {
    nlohmann::json body;
    http::Response error;
    if (!parse_body(request, &body, &error, JsonShape::kObject)) return error;
    if (!body.contains("role") || !body["role"].is_string()) {
      return message_response(422, "a token needs \"role\": one of admin, operator, viewer");
    }
    auto role = parse_role(body["role"].get<std::string>());
    if (!role) {
      return message_response(422, "unknown role '" + body["role"].get<std::string>() +
                                       "': use admin, operator or viewer");
    }
    std::string name =
        body.contains("name") && body["name"].is_string() ? body["name"].get<std::string>() : "";
    auto created = auth.create(*role, name);
    if (!created) return error_response(created.error());
    nlohmann::json out = view(created->first);
    out["token"] = created->second;
    return json_response(201, out);
  }
  const std::string prefix = "/berth/v1/tokens/";
  if (starts_with(request.path, prefix) && request.method == "DELETE") {
    Status revoked = auth.revoke(request.path.substr(prefix.size()));
    if (!revoked) return error_response(revoked.error());
    return json_response(200, {{"revoked", request.path.substr(prefix.size())}});
  }
  return message_response(405, "Method not allowed");
}

http::Response route(master::MasterCore& core, Clock& clock, const ApiInfo& info,
                     Authenticator& auth, const http::Request& request);

// GET /v2/info in Marathon's shape: only keys Marathon's clients know (docs/compatibility.md
// §2.7); `version` is the Marathon API version berth answers as, `buildref` berth's own.
nlohmann::json info_json(const master::MasterCore& core, const ApiInfo& info) {
  const auto& o = core.options();
  const std::string& address = info.http_address;
  int port = std::stoi(address.substr(address.rfind(':') + 1));
  return {{"name", "marathon"},
          {"version", kMarathonApiVersion},
          {"buildref", "berth " + info.version},
          {"elected", true},
          {"leader", address},
          {"frameworkId", "berth"},
          {"marathon_config",
           {{"master", "berth"},
            {"hostname", address.substr(0, address.rfind(':'))},
            {"framework_name", "berth"},
            {"ha", static_cast<bool>(info.abdicate)},
            {"checkpoint", true},
            {"task_launch_timeout", o.task_launch_timeout.count()},
            {"task_launch_confirm_timeout", o.task_launch_timeout.count()},
            {"max_instances_per_offer", 1000},
            {"local_port_min", o.service_port_min},
            {"local_port_max", o.service_port_max},
            {"mesos_role", "*"},
            {"mesos_user", "root"},
            {"webui_url", nullptr},
            {"reconciliation_interval", o.timing.heartbeat_interval.count()},
            {"failover_timeout", o.timing.lost_after().count() / 1000}}},
          {"zookeeper_config",
           {{"zk", info.store_url},
            {"zk_timeout", o.timing.lost_after().count()},
            {"zk_session_timeout", o.timing.lost_after().count()},
            {"zk_max_versions", o.max_versions}}},
          {"http_config", {{"http_port", port}, {"https_port", port}}}};
}

// GET /berth/v1/backup (admin): the master's stored state at one moment, with the join token
// agents need to rejoin a master restored from it (`berth backup`, docs/architecture.md §5).
http::Response backup(master::MasterCore& core, Clock& clock) {
  auto stored = core.stored_state();
  if (!stored) return error_response(stored.error());
  nlohmann::json entries = nlohmann::json::array();
  int64_t revision = 0;
  for (const auto& kv : *stored) {
    // The master's keys all start with "/"; etcd's election key ("leader", held by a lease)
    // is the running cluster's, and restored it would block every election.
    if (kv.key.empty() || kv.key[0] != '/') continue;
    entries.push_back({{"key", kv.key}, {"value", kv.value}});
    revision = std::max(revision, kv.mod_revision);
  }
  return json_response(200, {{"format", kBackupFormat},
                             {"createdAt", format_iso8601(clock.wall_now())},
                             {"revision", revision},
                             {"joinToken", core.options().join_token},
                             {"entries", entries}});
}

// DELETE /v2/leader (docs/architecture.md §5): Marathon's answer once the leadership is given up.
http::Response abdicate(const ApiInfo& info) {
  if (!info.abdicate) {
    return message_response(409,
                            "this master runs alone (--store sqlite://): there is no standby to "
                            "hand the leadership to; run several masters on etcd:// for that");
  }
  Status given_up = info.abdicate();
  if (!given_up) {
    return message_response(
        503, "the leadership ended, but etcd did not confirm it: " + given_up.error().message);
  }
  return json_response(200, {{"message", "Leadership abdicated"}});
}

// handle_request without the latency measure.
http::Response dispatch(master::MasterCore& core, Clock& clock, const ApiInfo& info,
                        Authenticator& auth, const http::Request& request) {
  const std::string& path = request.path;
  if (path == "/ping") {
    http::Response r;
    r.content_type = "text/plain";
    r.body = "pong";
    return r;
  }
  // The web UI's files hold no data: served to anyone (docs/ui.md); its API calls authenticate.
  if (auto page = ui::serve(request)) return std::move(*page);
  // The agent protocol authenticates its callers itself (join token, then agent secrets).
  if (starts_with(path, "/berth/v1/agents/")) {
    try {
      return handle_agent_protocol(core, request);
    } catch (const std::exception& e) {
      return message_response(400, std::string("malformed agent message: ") + e.what());
    }
  }
  auto caller = auth.authenticate(request);
  if (!caller) {
    http::Response denied = api_error(path, 401, caller.error().message);
    denied.headers.push_back({"WWW-Authenticate", auth.challenge()});
    return denied;
  }
  Role needed = required_role(request.method, path);
  if (caller->agent && !starts_with(path, "/v1/")) {
    return api_error(path, 403, "an agent's credential serves the dataset API (/v1/) only");
  }
  if (static_cast<int>(caller->role) < static_cast<int>(needed)) {
    return api_error(path, 403,
                     caller->who + " has role " + role_name(caller->role) + "; " + request.method +
                         " " + path + " needs " + role_name(needed));
  }
  if (path == "/berth/v1/whoami" && request.method == "GET")
    return json_response(200, {{"who", caller->who}, {"role", role_name(caller->role)}});
  return route(core, clock, info, auth, request);
}

}  // namespace

http::Response handle_request(master::MasterCore& core, Clock& clock, const ApiInfo& info,
                              Authenticator& auth, const http::Request& request) {
  MonoTime started = clock.mono_now();
  http::Response response = dispatch(core, clock, info, auth, request);
  record_request(core, request, clock.mono_now() - started);
  return response;
}

namespace {

http::Response route(master::MasterCore& core, Clock& clock, const ApiInfo& info,
                     Authenticator& auth, const http::Request& request) {
  const std::string& path = request.path;
  try {
    if (path == "/berth/v1/tokens" || starts_with(path, "/berth/v1/tokens/"))
      return handle_tokens(auth, request);
    if (path == "/v2/apps" || starts_with(path, "/v2/apps/")) return handle_apps(core, request);
    if (path == "/v2/events") return handle_events(core, clock, request);
    if (path == "/metrics" || path == "/metrics/prometheus")
      return handle_metrics(core, clock, request);
    if (path == "/berth/v1/failovers") return handle_failovers(core, request);
    if (path == "/v2/tasks" || path == "/v2/tasks/delete") return handle_tasks(core, request);
    if (path == "/v2/queue" || starts_with(path, "/v2/queue/"))
      return handle_queue(core, clock, request);
    if (path == "/v2/eventSubscriptions") return handle_event_subscriptions(core, request);
    if (path == "/v2/groups" || starts_with(path, "/v2/groups/"))
      return handle_groups(core, request);
    if (path == "/v2/deployments" && request.method == "GET") {
      nlohmann::json body;
      core.read([&](const master::MasterState& s) { body = deployments_json(s); });
      return json_response(200, body);
    }
    if (starts_with(path, "/v2/deployments/") && request.method == "DELETE") {
      auto ended = core.cancel_deployment(path.substr(16), request.query_flag("force", false));
      if (!ended) return error_response(ended.error());
      if (!*ended) {
        http::Response accepted;
        accepted.status = 202;  // canceled; nothing is put back (Marathon's answer, no body)
        return accepted;
      }
      http::Response r = json_response(
          200, {{"deploymentId", (*ended)->deployment_id}, {"version", (*ended)->version}});
      r.headers.push_back({"Marathon-Deployment-Id", (*ended)->deployment_id});
      return r;
    }
    if (path == "/v2/info" && request.method == "GET")
      return json_response(200, info_json(core, info));
    if (path == "/berth/v1/info" && request.method == "GET") {
      const auto& o = core.options();
      return json_response(200, {{"version", info.version},
                                 {"marathonApiVersion", kMarathonApiVersion},
                                 {"leader", info.http_address},
                                 {"store", info.store_url},
                                 {"heartbeatIntervalMs", o.timing.heartbeat_interval.count()},
                                 {"leaseMs", o.timing.lease.count()},
                                 {"agentLostTimeoutMs", o.timing.lost_after().count()},
                                 {"taskLaunchTimeoutMs", o.task_launch_timeout.count()}});
    }
    if (path == "/v2/leader" && request.method == "GET") {
      return json_response(200, {{"leader", info.http_address}});
    }
    if (path == "/v2/leader" && request.method == "DELETE") return abdicate(info);
    if (path == "/berth/v1/nodes" && request.method == "GET") {
      return nodes_answer(core, clock);
    }
    if (starts_with(path, "/berth/v1/nodes/") && path.size() > 22 &&
        path.compare(path.size() - 6, 6, "/drain") == 0) {
      std::string id = path.substr(16, path.size() - 16 - 6);
      if (request.method != "POST" && request.method != "DELETE")
        return message_response(405, "Method not allowed");
      Status drained = core.drain_node(id, request.method == "POST");
      if (!drained) return error_response(drained.error());
      return json_response(200, {{"id", id}, {"draining", request.method == "POST"}});
    }
    if (path == "/berth/v1/backup" && request.method == "GET") return backup(core, clock);
    if (path == "/berth/v1/datasets" && request.method == "GET") {
      nlohmann::json body;
      core.read([&](const master::MasterState& s) { body = datasets_json(s); });
      return json_response(200, body);
    }
    if ((path == "/berth/v1/tasks" || starts_with(path, "/berth/v1/tasks/")) &&
        request.method == "GET")
      return handle_berth_tasks(core, request);
    if (starts_with(path, "/v1/")) return handle_flocker(core, request);
    return message_response(404, "URI not found");
  } catch (const std::exception& e) {
    return message_response(500, std::string("internal error: ") + e.what());
  }
}

}  // namespace

}  // namespace berth::api
