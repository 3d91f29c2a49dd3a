#include "executor/task_user.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace berth {
namespace {

constexpr size_t kMaxUserNameLength = 256;
// getpwnam_r's buffer grows on ERANGE up to this; a larger entry is a broken database.
constexpr size_t kMaxPasswdBufferBytes = 1 << 20;
constexpr int kMaxGroups = 65536;  // Linux's NGROUPS_MAX
constexpr const char* kNobody = "nobody";

std::string quoted(const std::string& name) {
  if (name.size() <= 64) return "'" + name + "'";
  return "'" + name.substr(0, 64) + "...'";
}

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// One lookup by name (by uid when `name` is null). nullopt: no such user.
Result<std::optional<PasswdEntry>> lookup(const std::string* name, uid_t uid) {
  std::vector<char> buffer(4096);
  for (;;) {
    passwd entry{};
    passwd* found = nullptr;
    int rc = name != nullptr
                 ? ::getpwnam_r(name->c_str(), &entry, buffer.data(), buffer.size(), &found)
                 : ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < kMaxPasswdBufferBytes) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (found != nullptr)
      return std::optional<PasswdEntry>(PasswdEntry{entry.pw_name, entry.pw_uid, entry.pw_gid});
    // getpwnam_r(3): these too mean "not found" on some systems.
    if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) {
      return std::optional<PasswdEntry>();
    }
    return make_error(ErrorCode::kInternal,
                      "cannot read the user database: " + std::string(std::strerror(rc)));
  }
}

Result<std::vector<gid_t>> supplementary_groups(const PasswdEntry& user) {
  int count = 32;
  std::vector<gid_t> groups(count);
  while (::getgrouplist(user.name.c_str(), user.gid, groups.data(), &count) < 0) {
    if (count <= static_cast<int>(groups.size()) || count > kMaxGroups) {
      return make_error(ErrorCode::kInternal,
                        "cannot read the groups of user " + quoted(user.name));
    }
    groups.resize(count);
  }
  groups.resize(count);
  return groups;
}

}  // namespace

Result<TaskUser> resolve_task_user(const std::string& requested, const TaskUserPolicy& policy,
                                   uid_t agent_uid) {
  std::string name = requested.empty() ? policy.default_user : requested;
  if (name.empty() && agent_uid == 0) name = kNobody;
  std::optional<PasswdEntry> self;
  if (agent_uid != 0) {
    auto own = lookup(nullptr, agent_uid);
    if (!own) return own.error();
    self = *own;
    if (name.empty()) {
      // The agent's own user, even without an entry in the user database.
      TaskUser user;
      user.name = self ? self->name : std::to_string(agent_uid);
      user.uid = agent_uid;
      return user;
    }
  }
  if (name.size() > kMaxUserNameLength || name.find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "user " + quoted(name) + " is not a valid user name");
  }
  auto found = lookup(&name, 0);
  if (!found) return found.error();
  if (!*found) {
    std::string which = requested.empty() ? " (the agent's --default-task-user)" : "";
    return make_error(ErrorCode::kInvalidArgument,
                      "user " + quoted(name) + which + " does not exist on " + policy.node_name +
                          ": create it there, or set the app's `user` to one that exists");
  }
  const PasswdEntry& entry = **found;
  if (agent_uid != 0) {
    if (entry.uid != agent_uid) {
      std::string own = self ? quoted(self->name) : "uid " + std::to_string(agent_uid);
      return make_error(ErrorCode::kPermissionDenied,
                        "cannot run a task as user " + quoted(name) + ": the agent on " +
                            policy.node_name + " runs as " + own +
                            ", not root, and can only run tasks as that user; run the agent "
                            "as root or change the app's `user`");
    }
    TaskUser user;
    user.name = entry.name;
    user.uid = entry.uid;
    user.gid = entry.gid;
    return user;
  }
  if (entry.uid == 0 && !policy.allow_root) {
    return make_error(ErrorCode::kPermissionDenied,
                      "user " + quoted(name) + " is uid 0 and the agent on " + policy.node_name +
                          " does not run tasks as root: set the app's `user` to an unprivileged "
                          "user, or start the agent with --allow-root-tasks");
  }
  auto groups = supplementary_groups(entry);
  if (!groups) return groups.error();
  TaskUser user;
  user.name = entry.name;
  user.uid = entry.uid;
  user.gid = entry.gid;
  user.groups = std::move(*groups);
  user.switch_identity = true;
  return user;
}

Result<std::string> container_user(const std::string& requested, const TaskUserPolicy& policy) {
  if (!requested.empty()) {
    std::string who = requested.substr(0, requested.find(':'));
    if ((who == "root" || who == "0") && !policy.allow_root) {
      return make_error(ErrorCode::kPermissionDenied,
                        "user " + quoted(requested) + " is root and the agent on " +
                            policy.node_name +
                            " does not run tasks as root: set the app's `user` to an unprivileged "
                            "user, or start the agent with --allow-root-tasks");
    }
    return requested;
  }
  if (policy.allow_root) return std::string();
  auto user = resolve_task_user("", policy, 0);
  if (!user) return user.error();
  return std::to_string(user->uid) + ":" + std::to_string(user->gid);
}

std::string command_as_user(const TaskUser& user, const std::string& command) {
  if (!user.switch_identity || user.uid == ::geteuid()) return command;
  std::string groups;
  for (gid_t gid : user.groups) groups += (groups.empty() ? "" : ",") + std::to_string(gid);
  std::string quoted_command = "'";
  for (char c : command) quoted_command += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted_command += "'";
  return "exec /usr/bin/setpriv --reuid=" + std::to_string(user.uid) +
         " --regid=" + std::to_string(user.gid) +
         (groups.empty() ? std::string(" --clear-groups") : " --groups=" + groups) +
         " -- /bin/sh -c " + quoted_command;
}

}  // namespace berth
