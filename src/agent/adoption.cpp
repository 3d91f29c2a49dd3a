// Tasks that outlive their agent (docs/fencing.md §6): what a restarted agent needs to adopt a
// task is written to its sandbox at launch, and read back by adopt_previous_tasks().
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/agent_internal.h"
#include "agent/supervisor.h"
#include "agent/task_env.h"
#include "json/bounded.h"

namespace berth::agent {

// What a restarted agent needs to adopt a task (docs/fencing.md §6).
void Agent::Impl::write_task_meta(const LocalTask& task, int pid, const std::string& container_id) {
  nlohmann::json meta{{"spec", task.spec},
                      {"pid", pid},
                      {"staged_at", task.staged_at},
                      {"started_at", task.started_at}};
  if (!container_id.empty()) meta["container_id"] = container_id;
  Status written = write_sandbox_file(task.sandbox + "/.berth-task.json", meta.dump());
  if (!written)
    spdlog::warn("task {}: not adoptable after a restart: {}", task.spec.task_id,
                 written.error().message);
}

// Tasks of an earlier run of this agent that still run are adopted (docs/fencing.md §6): an agent
// restarted within its lease disturbs nothing. A task with datasets is adopted only while its
// supervisor's deadline has not passed, and the lease resumes from that deadline. Anything
// else left in the sandboxes is stopped (the master has replaced it).
void Agent::Impl::adopt_previous_tasks() {
  std::set<std::string> adopted;
  std::optional<MonoTime> resume_until;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(options.work_dir + "/sandboxes", ec)) {
    std::ifstream in(entry.path() / ".berth-task.json");
    std::stringstream text;
    text << in.rdbuf();
    auto meta = json::parse_or_discarded(text.str());
    if (!meta.is_object() || !meta.contains("spec")) continue;
    auto read = protocol::decode_json<protocol::LaunchSpec>(meta["spec"]);
    if (!read) {
      spdlog::warn("{}: not adopted, its task file is damaged: {}", entry.path().string(),
                   read.error().message);
      continue;
    }
    const protocol::LaunchSpec& spec = *read;
    const auto& pid_field = meta["pid"];
    const auto& container_field = meta["container_id"];
    int pid = pid_field.is_number_integer() ? pid_field.get<int>() : 0;
    std::string container_id =
        container_field.is_string() ? container_field.get<std::string>() : "";
    bool is_container = !container_id.empty();
    if (is_container && !docker->ready()) continue;
    std::string sandbox = entry.path().string();
    std::optional<MonoTime> deadline;
    if (!spec.volumes.empty()) {
      std::ifstream deadline_file(sandbox + "/.berth-lease-deadline");
      int64_t ns = 0;
      if (!(deadline_file >> ns)) continue;
      deadline = MonoTime{std::chrono::nanoseconds(ns)};
      if (*deadline <= clock->mono_now()) continue;  // its supervisor is stopping it
    }
    // The executor checks that the task still runs and is that task (not a reused pid).
    Executor& runner = is_container ? *docker : *executor;
    if (!runner.adopt(TaskAdoption{spec.task_id, sandbox, pid, container_id, spec.mem})) continue;
    if (deadline && (!resume_until || *deadline > *resume_until)) resume_until = deadline;
    LocalTask task;
    task.docker = is_container;
    task.spec = spec;
    task.sandbox = sandbox;
    task.state = protocol::TaskState::kRunning;
    task.staged_at = meta.value("staged_at", "");
    task.started_at = meta.value("started_at", "");
    tasks[spec.task_id] = task;
    adopted.insert(spec.task_id);
    for (const auto& v : spec.volumes) datasets->acquire(v.dataset_id, spec.task_id);
    if (!spec.health_checks.empty()) {
      ProcessSpec ps;
      ps.sandbox_dir = sandbox;
      const char* path = std::getenv("PATH");
      ps.env = task_environment(spec, options.address, sandbox, path ? path : "/usr/bin:/bin");
      start_health_checks(spec, ps, container_id);
    }
  }
  if (resume_until) {
    std::lock_guard<std::mutex> lock(lease_mu);
    lease = lease::AgentLease::resumed(*resume_until, clock->mono_now());
  }
  int stopped = executor->stop_leftovers(adopted);
  if (docker->ready()) stopped += docker->stop_leftovers(adopted);
  spdlog::info("adopted {} task(s) of an earlier run of this agent; stopped {} other process(es)",
               adopted.size(), stopped);
}

}  // namespace berth::agent
