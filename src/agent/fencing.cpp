// Self-fencing (docs/fencing.md §3): the agent acts on its lease's updates, and when the lease
// runs out it kills every task writing an exclusive dataset and detaches the datasets.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "agent/agent_internal.h"
#include "agent/supervisor.h"

namespace berth::agent {

// Acts on what the lease says, in the order the lease asks: fence first, then renew.
void Agent::Impl::apply_lease_update(const lease::LeaseUpdate& update) {
  if (update.fence) fence();
  if (update.granted || update.extended) {
    std::lock_guard<std::mutex> fencing(fence_mu);
    std::lock_guard<std::mutex> lock(mu);
    if (update.granted && fenced) {
      fenced = false;
      datasets->unfence();
      spdlog::info("lease granted again: datasets may be attached (at new epochs)");
    }
    auto deadline = lease.deadline();
    if (!deadline) return;
    for (const auto& [id, t] : tasks) {
      if (!t.spec.volumes.empty())
        (void)write_deadline_file(t.sandbox + "/.berth-lease-deadline", *deadline);
    }
  }
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
