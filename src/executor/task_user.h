// Who a task runs as (Marathon's `user`): the name is resolved with the system's user database
// in the agent, never in a forked child (getpwnam_r may allocate, take locks or ask NSS), and
// checked against the agent's policy. ProcessExecutor applies the result in the child; the
// agent also uses it to run a task's COMMAND health checks as the task's user.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace berth {

struct TaskUserPolicy {
  // The user of tasks whose app names none. Empty: `nobody` when the agent runs as root (secure
  // by default), else the agent's own user.
  std::string default_user;
  // Whether a task may run as uid 0.
  bool allow_root = false;
  // How error messages name this node, e.g. "agent-2".
  std::string node_name = "this node";
};

struct TaskUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the supplementary groups of `name`, as initgroups() sets them
  // False when the task runs as the agent's own identity (a non-root agent running a task as
  // itself): nothing is changed in the child and the sandbox is left as it is.
  bool switch_identity = false;
};

// Resolves `requested` (the app's `user`; empty: the policy's default) for an agent running as
// `agent_uid`. Errors, each naming the user and the node:
//   kInvalidArgument: the user does not exist here, or is not a valid name;
//   kPermissionDenied: it is uid 0 and the policy does not allow root, or the agent is not root
//     and the user is not the agent's own;
//   kInternal: the user database could not be read.
Result<TaskUser> resolve_task_user(const std::string& requested, const TaskUserPolicy& policy,
                                   uid_t agent_uid);

// Docker's "User" for a container task of an agent running as root. The app's `user` goes as
// given (Docker resolves a name in the image), refused with kPermissionDenied when it names
// root ("root", "0", "root:..." or "0:...") and the policy does not allow root; a name that
// is uid 0 only inside the image cannot be seen from here. With no `user`: "" (the image's own
// user, as Docker runs it) when root is allowed, else the policy's default user (`nobody`
// when unset) resolved on this host to "uid:gid", so images need not know the name.
Result<std::string> container_user(const std::string& requested, const TaskUserPolicy& policy);

// `command` (for /bin/sh -c) wrapped to run as `user` with /usr/bin/setpriv (util-linux), for
// the agent's COMMAND health checks; `command` itself when `user` is the caller's own uid.
std::string command_as_user(const TaskUser& user, const std::string& command);

}  // namespace berth
