// Self-fencing (docs/fencing.md §3): the agent acts on its lease's updates, and when the lease
// runs out it kills every task writing an exclusive dataset and detaches the datasets.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "agent/agent_internal.h"
#include "agent/supervisor.h"

namespace berth::agent {

// Acts on what the lease says, in the order the lease asks: fence first, then renew. On the
// heartbeat thread: a renewal takes lease_mu alone (docs/fencing.md §9); only a new lease after
// a fence waits for the fence to finish and for `mu`.
void Agent::Impl::apply_lease_update(const lease::LeaseUpdate& update) {
  if (update.fence) fence();
  if (update.granted) {
    std::lock_guard<std::mutex> fencing(fence_mu);
    std::lock_guard<std::mutex> lock(mu);
    if (fenced) {
      fenced = false;
      datasets->unfence();
      spdlog::info("lease granted again: datasets may be attached (at new epochs)");
    }
  }
  if (update.granted || update.extended) write_lease_deadlines();
}

// The assignments in force grant nothing more until the next heartbeat answer: a fenced agent
// or one the master no longer knows attaches only what a new answer grants, and a "datasets"
// command keeps no grant from before (docs/fencing.md §4). Called with lease_mu held.
void Agent::Impl::drop_grants_locked() {
  for (auto& a : desired_datasets) a.attach = false;
}

// Hands the lease's deadline to the supervisor of every task with datasets. The set of their
// sandboxes is refreshed from `tasks` when `mu` is free; a launch adds to it (hold_lease_for).
void Agent::Impl::write_lease_deadlines() {
  std::vector<std::string> sandboxes;
  std::optional<MonoTime> deadline;
  {
    std::unique_lock<std::mutex> tasks_lock(mu, std::try_to_lock);
    std::lock_guard<std::mutex> lock(lease_mu);
    if (tasks_lock.owns_lock()) {
      lease_sandboxes.clear();
      for (const auto& [id, t] : tasks) {
        if (!t.spec.volumes.empty() && !t.sandbox.empty()) lease_sandboxes.insert(t.sandbox);
      }
    }
    sandboxes.assign(lease_sandboxes.begin(), lease_sandboxes.end());
    deadline = lease.deadline();
  }
  if (!deadline) return;
  for (const auto& sandbox : sandboxes)
    (void)write_deadline_file(sandbox + "/.berth-lease-deadline", *deadline);
}

// The lease ran out (docs/fencing.md §3): kill every task that writes an exclusive dataset (its
// supervisor does so too, at the same deadline, even if this agent is stuck), then unmount
// and detach every dataset. Other tasks keep running.
void Agent::Impl::fence() {
  std::lock_guard<std::mutex> fencing(fence_mu);
  std::vector<std::string> victims;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (fenced) return;
    fenced = true;
    for (auto& [id, t] : tasks) {
      if (t.spec.volumes.empty()) continue;
      t.state = protocol::TaskState::kKilling;
      if (t.starting) {
        t.kill_pending = true;  // the launcher sees `fenced` and does not start it
        continue;
      }
      victims.push_back(id);
      if (t.docker) {
        (void)docker->kill(id, std::chrono::milliseconds(0));
      } else {
        (void)executor->kill(id, std::chrono::milliseconds(0));
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    drop_grants_locked();
  }
  spdlog::warn("lease expired without renewal: fenced {} task(s) with exclusive datasets",
               victims.size());
  // Detach only once they are dead: wait (bounded) for their exits.
  for (int i = 0; i < 200; ++i) {
    auto running = executor->running();
    if (docker) {
      for (auto& id : docker->running()) running.push_back(id);
    }
    bool any = false;
    for (const auto& id : victims)
      any = any || std::find(running.begin(), running.end(), id) != running.end();
    if (!any) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  datasets->fence();
}

}  // namespace berth::agent
