// JSON views of the master's state in Marathon's shapes (docs/compatibility.md §2.1, §2.7) and
// berth's node view. Called by the API handlers under MasterCore's read lock.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "master/master_core.h"

namespace berth::api {

// Marathon's task: exactly its fields (clients build objects from them and refuse others).
nlohmann::json task_json(const master::MasterState& state, const master::TaskRecord& task);
// berth's view of a task (GET /berth/v1/tasks): Marathon's fields and the agent id, the
// agent's last message (e.g. an ignored forcePullImage), the datasets it writes.
nlohmann::json berth_task_json(const master::MasterState& state, const master::TaskRecord& task);
// Every app's tasks (in task id order), found in one pass over the tasks: a view of many apps
// takes each app's tasks from here rather than scanning every task once per app.
using TasksByApp = std::unordered_map<std::string, std::vector<const master::TaskRecord*>>;
// With `apps`, only the tasks of those apps are indexed.
TasksByApp tasks_by_app(const master::MasterState& state,
                        const std::unordered_set<std::string>* apps = nullptr);

// The views below take an app's tasks from `index` when given, else scan the tasks for them.
// AppInfo: the definition plus counts, deployments and, when asked, tasks and lastTaskFailure.
nlohmann::json app_info_json(const master::MasterCore& core, const master::MasterState& state,
                             const master::AppRecord& record, bool with_tasks, bool with_failure,
                             const TasksByApp* index = nullptr);
// Marathon's taskStats (embed=app.taskStats): task counts by category.
nlohmann::json task_stats_json(const master::MasterState& state, const master::AppRecord& record,
                               const TasksByApp* index = nullptr);
// The same AppInfo as text, with the tasks serialised one at a time: a GET of an app with
// 10,000 tasks then never holds all of them as one JSON tree.
std::string app_info_text(const master::MasterCore& core, const master::MasterState& state,
                          const master::AppRecord& record, bool with_tasks, bool with_failure,
                          const TasksByApp* index = nullptr);
nlohmann::json queue_json(const master::MasterState& state, WallTime now, MonoTime mono_now,
                          bool with_offers);
nlohmann::json deployments_json(const master::MasterState& state);
// GET /berth/v1/nodes in batches: appends to `nodes` (an array) up to `limit` agents after
// `after` in id order ("" from the first) and sets `after` to the last one appended. True once
// the last agent is in.
bool append_nodes(const master::MasterState& state, MonoTime mono_now, size_t limit,
                  std::string* after, nlohmann::json* nodes);
// GET /berth/v1/datasets: every dataset with its node, epoch, driver, size, state and the app
// whose volume uses it (docs/ui.md).
nlohmann::json datasets_json(const master::MasterState& state);

}  // namespace berth::api
