#include "executor/docker_executor.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "docker/docker_client.h"

namespace berth {
namespace {

std::string container_name(const std::string& task_id) { return "berth-" + task_id; }

std::string exit_message(const docker::ContainerState& state, bool killed_by_us) {
  std::string text;
  if (!state.error.empty()) {
    text = state.error;
  } else if (state.exit_code > 128 && state.exit_code < 160) {
    text = describe_exit(true, state.exit_code - 128, false, 0) + " (exit code " +
           std::to_string(state.exit_code) + ")";
  } else {
    text = "exited with code " + std::to_string(state.exit_code);
  }
  if (state.oom_killed) text += "; OOM-killed (memory limit)";
  if (killed_by_us && state.error.empty() && state.exit_code == 0)
    text += " after being asked to stop";
  return text;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

}  // namespace

std::string container_owner(const std::string& hostname, const std::string& work_dir) {
  return hostname + "@" + work_dir;
}

std::vector<int> container_pids(const std::string& owner, const std::string& socket_path) {
  std::vector<int> pids;
  docker::DockerClient client(socket_path);
  if (!client.connect()) return pids;
  auto containers = client.list_containers(std::string(kOwnerLabel) + "=" + owner);
  if (!containers) return pids;
  for (const auto& c : *containers) {
    auto state = client.inspect_container(c.id);
    if (state && state->pid > 0) pids.push_back(state->pid);
  }
  return pids;
}

int remove_containers_under(const std::string& dir, const std::string& socket_path) {
  docker::DockerClient client(socket_path);
  if (!client.connect()) return 0;
  auto containers = client.list_containers(kOwnerLabel);
  if (!containers) return 0;
  int removed = 0;
  for (const auto& c : *containers) {
    auto owner = c.labels.find(kOwnerLabel);
    if (owner == c.labels.end() || owner->second.find("@" + dir + "/") == std::string::npos)
      continue;
    if (client.remove_container(c.id)) ++removed;
  }
  return removed;
}

struct DockerExecutor::State {
  DockerExecutorOptions options;
  docker::DockerClient client;
  bool connected = false;

  struct Tracked {
    std::string container_id;
    std::string sandbox;
    int pid = 0;
    bool killed = false;
    std::optional<std::chrono::steady_clock::time_point> sigkill_at;
    bool ended = false;
  };
  mutable std::mutex mu;
  std::condition_variable ended_cv;
  std::map<std::string, Tracked> tracked;
  std::vector<TaskExit> exits;
  int active_watchers = 0;
  bool stopping = false;

  explicit State(DockerExecutorOptions o) : options(std::move(o)), client(options.socket_path) {}

  // Waits for the container's end, then records the exit, saves its output and removes it.
  void watch(const std::string& task_id, const std::string& container_id) {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stopping) return;
      }
      auto waited = client.wait_container(container_id, std::chrono::seconds(2));
      if (waited) break;
      if (waited.error().code == ErrorCode::kNotFound) break;  // removed behind our back
      if (waited.error().code != ErrorCode::kUnavailable)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto state = client.inspect_container(container_id);
    std::string sandbox;
    bool killed = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = tracked.find(task_id);
      if (it != tracked.end()) {
        sandbox = it->second.sandbox;
        killed = it->second.killed;
      }
    }
    TaskExit exit;
    exit.task_id = task_id;
    exit.killed_by_us = killed;
    if (state) {
      exit.code = state->exit_code;
      if (exit.code > 128 && exit.code < 160 && state->error.empty()) {
        exit.signaled = true;
        exit.code -= 128;
      }
      exit.oom_killed = state->oom_killed;
      exit.message = exit_message(*state, killed);
      std::string out, err;
      if (!sandbox.empty() && client.logs(container_id, &out, &err)) {
        write_file(sandbox + "/stdout", out);
        write_file(sandbox + "/stderr", err);
      }
      (void)client.remove_container(container_id);
    } else {
      exit.code = -1;
      exit.message =
          "container " + container_id.substr(0, 12) + " is gone: " + state.error().message;
    }
    std::lock_guard<std::mutex> lock(mu);
    auto it = tracked.find(task_id);
    if (it != tracked.end()) it->second.ended = true;
    exits.push_back(std::move(exit));
    ended_cv.notify_all();
  }

  // Detached: the thread holds the state alive; the destructor waits (briefly) for it.
  static void start_watcher(const std::shared_ptr<State>& self, const std::string& task_id,
                            const std::string& container_id) {
    {
      std::lock_guard<std::mutex> lock(self->mu);
      ++self->active_watchers;
    }
    std::thread([self, task_id, container_id] {
      self->watch(task_id, container_id);
      std::lock_guard<std::mutex> lock(self->mu);
      --self->active_watchers;
      self->ended_cv.notify_all();
    }).detach();
  }
};

DockerExecutor::DockerExecutor(DockerExecutorOptions options)
    : state_(std::make_shared<State>(std::move(options))) {}

DockerExecutor::~DockerExecutor() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stopping = true;
  // A watcher notices within one wait (2 s); one that is still saving output finishes on its own.
  state_->ended_cv.wait_for(lock, std::chrono::seconds(3),
                            [&] { return state_->active_watchers == 0; });
}

Status DockerExecutor::open() {
  Status connected = state_->client.connect();
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->connected = connected.ok();
  return connected;
}

bool DockerExecutor::ready() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->connected;
}

std::string DockerExecutor::summary() const {
  if (!ready())
    return "docker: not available at " + state_->options.socket_path + " (DOCKER apps fail here)";
  return "docker: Engine API " + state_->client.api_version() + " at " +
         state_->options.socket_path;
}

Result<TaskStarted> DockerExecutor::launch(const TaskLaunch& task) {
  const DockerLaunch* container = std::get_if<DockerLaunch>(&task);
  if (container == nullptr) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "task " + task_id_of(task) + ": this executor runs Docker containers, not processes");
  }
  const DockerLaunch& launch = *container;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->connected) {
      return make_error(ErrorCode::kUnavailable,
                        "Docker is not available on this node (nothing answers on " +
                            state_->options.socket_path + "): cannot run a DOCKER container");
    }
    if (state_->tracked.count(launch.task_id)) {
      return make_error(ErrorCode::kConflict, "task " + launch.task_id + " is already running");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(launch.sandbox_dir, ec);
  std::string name = container_name(launch.task_id);
  auto created = state_->client.create_container(name, launch.create_body);
  if (!created && created.error().code == ErrorCode::kConflict) {
    // A container of that name left by a crash between create and start: replace it.
    (void)state_->client.remove_container(name);
    created = state_->client.create_container(name, launch.create_body);
  }
  if (!created) return created.error();
  std::string id = *created;
  Status started = state_->client.start_container(id);
  if (!started) {
    (void)state_->client.remove_container(id);
    return started.error();
  }
  auto inspected = state_->client.inspect_container(id);
  TaskStarted result;
  result.container_id = id;
  if (inspected) result.pid = inspected->pid;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    State::Tracked t;
    t.container_id = id;
    t.sandbox = launch.sandbox_dir;
    t.pid = result.pid;
    state_->tracked[launch.task_id] = t;
  }
  State::start_watcher(state_, launch.task_id, id);
  return result;
}

Result<TaskStarted> DockerExecutor::adopt(const TaskAdoption& adoption) {
  const std::string& task_id = adoption.task_id;
  const std::string& container_id = adoption.container_id;
  if (container_id.empty())
    return make_error(ErrorCode::kNotFound, "task " + task_id + " has no container");
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->tracked.count(task_id))
      return make_error(ErrorCode::kConflict, "task " + task_id + " is already tracked");
  }
  auto inspected = state_->client.inspect_container(container_id);
  if (!inspected) return inspected.error();
  if (!inspected->running) {
    return make_error(ErrorCode::kNotFound,
                      "container " + container_id.substr(0, 12) + " is not running");
  }
  auto label = inspected->labels.find(kTaskLabel);
  if (label == inspected->labels.end() || label->second != task_id) {
    return make_error(ErrorCode::kNotFound,
                      "container " + container_id.substr(0, 12) + " does not run task " + task_id);
  }
  TaskStarted result{inspected->pid, container_id};
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    State::Tracked t;
    t.container_id = container_id;
    t.sandbox = adoption.sandbox_dir;
    t.pid = inspected->pid;
    state_->tracked[task_id] = t;
  }
  State::start_watcher(state_, task_id, container_id);
  return result;
}

int DockerExecutor::stop_leftovers(const std::set<std::string>& keep) {
  if (!ready() || state_->options.owner.empty()) return 0;
  auto containers =
      state_->client.list_containers(std::string(kOwnerLabel) + "=" + state_->options.owner);
  if (!containers) return 0;
  int removed = 0;
  for (const auto& c : *containers) {
    auto label = c.labels.find(kTaskLabel);
    std::string task = label == c.labels.end() ? "" : label->second;
    if (keep.count(task)) continue;
    if (state_->client.remove_container(c.id)) ++removed;
  }
  return removed;
}

Status DockerExecutor::kill(const std::string& task_id, std::chrono::milliseconds grace) {
  std::string id;
  int pid = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->tracked.find(task_id);
    if (it == state_->tracked.end() || it->second.ended) {
      return make_error(ErrorCode::kNotFound, "task " + task_id + " is not running");
    }
    it->second.killed = true;
    auto due = std::chrono::steady_clock::now() + std::max(grace, std::chrono::milliseconds(0));
    if (!it->second.sigkill_at || due < *it->second.sigkill_at) it->second.sigkill_at = due;
    id = it->second.container_id;
    pid = it->second.pid;
  }
  if (grace.count() <= 0) {
    // The container's init dies, and with it everything in its pid namespace, even when dockerd
    // is stuck; Docker is told too.
    if (pid > 0) ::kill(pid, SIGKILL);
    (void)state_->client.kill_container(id, "SIGKILL");
  } else {
    (void)state_->client.kill_container(id, "SIGTERM");
  }
  return {};
}

void DockerExecutor::kill_all_now() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& [task, t] : state_->tracked) {
      if (!t.ended) ids.push_back(task);
    }
  }
  for (const auto& task : ids) (void)kill(task, std::chrono::milliseconds(0));
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->ended_cv.wait_for(lock, std::chrono::seconds(10), [&] {
    for (const auto& task : ids) {
      auto it = state_->tracked.find(task);
      if (it != state_->tracked.end() && !it->second.ended) return false;
    }
    return true;
  });
}

void DockerExecutor::leave_all() {
  std::lock_guard<std::mutex> lock(state_->mu);
  // The watchers end within one wait and leave the containers alone.
  state_->stopping = true;
  state_->tracked.clear();
}

std::vector<TaskExit> DockerExecutor::poll_exits() {
  std::vector<std::pair<std::string, std::string>> due;
  std::vector<TaskExit> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto now = std::chrono::steady_clock::now();
    for (auto& [task, t] : state_->tracked) {
      if (!t.ended && t.sigkill_at && *t.sigkill_at <= now) {
        t.sigkill_at.reset();
        due.emplace_back(task, t.container_id);
      }
    }
    out.swap(state_->exits);
    for (const auto& exit : out) state_->tracked.erase(exit.task_id);
  }
  for (const auto& [task, id] : due) (void)state_->client.kill_container(id, "SIGKILL");
  return out;
}

std::vector<std::string> DockerExecutor::running() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& [task, t] : state_->tracked) {
    if (!t.ended) out.push_back(task);
  }
  return out;
}

Result<std::string> DockerExecutor::logs(const std::string& task_id, int stream) {
  std::string id;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->tracked.find(task_id);
    if (it == state_->tracked.end())
      return make_error(ErrorCode::kNotFound, "task " + task_id + " is not running here");
    id = it->second.container_id;
  }
  std::string out, err;
  Status got = state_->client.logs(id, &out, &err);
  if (!got) return got.error();
  return stream == 2 ? err : out;
}

}  // namespace berth
