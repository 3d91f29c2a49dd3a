// The agent's own HTTP port (docs/protocol.md §7): task logs, relayed by the master, and the
// archives of local datasets moving to another node.
#include <algorithm>
#include <filesystem>

#include "agent/agent_internal.h"
#include "base/secret.h"

namespace berth::agent {

// The agent's HTTP answers: task logs (the master relays `berth task logs`), and the
// archives of local datasets moving to another node.
http::Response Agent::Impl::serve_http(const http::Request& request) {
  if (is_dataset_archive_path(request.path)) {
    std::string node;
    {
      std::lock_guard<std::mutex> lock(mu);
      node = agent_id;
    }
    return dataset_transfer->serve(request, node,
                                   [this](const std::string& id) { return datasets->in_use(id); });
  }
  // Task logs can hold anything a task prints: only the master (which relays them to
  // authenticated API callers) and the other agents, all holding the join token, read them.
  if (!options.join_token.empty() &&
      !same_secret(request.header("authorization"), "Bearer " + options.join_token)) {
    http::Response denied;
    denied.status = 401;
    denied.headers.push_back({"WWW-Authenticate", "Bearer realm=\"berth-agent\""});
    denied.body =
        R"({"message":"task logs need the cluster's join token (Authorization: Bearer); ask the master: GET /berth/v1/tasks/{id}/logs"})";
    return denied;
  }
  struct Source final : TaskLogSource {
    Impl& impl;
    explicit Source(Impl& i) : impl(i) {}
    std::optional<TaskLogInfo> find(const std::string& task_id) override {
      return impl.task_logs(task_id);
    }
  } source(*this);
  return task_logs_response(request, source);
}

std::optional<TaskLogInfo> Agent::Impl::task_logs(const std::string& task_id) {
  if (task_id.empty() || task_id.find('/') != std::string::npos ||
      task_id.find("..") != std::string::npos) {
    return std::nullopt;
  }
  std::string sandbox = options.work_dir + "/sandboxes/" + task_id;
  TaskLogInfo info;
  info.stdout_path = sandbox + "/stdout";
  info.stderr_path = sandbox + "/stderr";
  bool docker_running = false;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = tasks.find(task_id);
    if (it != tasks.end()) {
      known = true;
      docker_running = it->second.docker && !it->second.starting;
    }
  }
  if (!known) {
    std::error_code ec;
    if (!std::filesystem::is_directory(sandbox, ec)) return std::nullopt;
    info.done = true;  // ended: its output is in the sandbox for good
    return info;
  }
  if (docker_running && docker && std::ranges::count(docker->running(), task_id) > 0) {
    Executor* executor_ptr = docker.get();
    std::string out_path = info.stdout_path, err_path = info.stderr_path;
    info.read_stream = [executor_ptr, task_id, out_path,
                        err_path](int stream) -> Result<std::string> {
      auto text = executor_ptr->logs(task_id, stream);
      if (text) return text;
      // Ended meanwhile: its output was saved to the sandbox.
      uint64_t size = 0;
      auto saved = read_file_range(stream == kStderrStream ? err_path : out_path, 0,
                                   kMaxLogLengthBytes, &size);
      if (saved) return saved;
      return text;
    };
  }
  return info;
}

}  // namespace berth::agent
