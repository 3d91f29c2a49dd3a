#include "cli/token_commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "cli/table.h"

namespace berth::cli {

int token_create(const CommandContext& context, const std::string& role, const std::string& name) {
  nlohmann::json body = {{"role", role}};
  if (!name.empty()) body["name"] = name;
  auto answer = call_or_report(context, "POST", "/berth/v1/tokens", body.dump());
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  context.out << text_field(answer->json, "token") << "\n";
  context.err << "token " << text_field(answer->json, "id") << " with role "
              << text_field(answer->json, "role")
              << ": this is the only time it is shown. Use it as BERTH_TOKEN=... or --token, or in "
                 "'Authorization: Bearer ...'\n";
  return kExitOk;
}

int token_list(const CommandContext& context) {
  auto answer = call_or_report(context, "GET", "/berth/v1/tokens");
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  Table table({"ID", "ROLE", "NAME", "CREATED"});
  const auto tokens = answer->json.is_object()
                          ? answer->json.value("tokens", nlohmann::json::array())
                          : nlohmann::json::array();
  for (const auto& token : tokens) {
    table.add_row({text_field(token, "id"), text_field(token, "role"), text_field(token, "name"),
                   text_field(token, "created")});
  }
  context.out << table.render();
  return kExitOk;
}

int token_revoke(const CommandContext& context, const std::string& id) {
  auto answer = call_or_report(context, "DELETE", "/berth/v1/tokens/" + id);
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  context.notes() << "revoked token " << id << "\n";
  return kExitOk;
}

int backup(const CommandContext& context, const std::string& file) {
  auto answer = call_or_report(context, "GET", "/berth/v1/backup");
  if (!answer) return kExitFailure;
  const nlohmann::json& body = answer->json;
  if (!body.is_object() || !body.contains("entries") || !body["entries"].is_array()) {
    context.err << "berth backup: the master's answer is not a backup\n";
    return kExitFailure;
  }
  // Written beside FILE and renamed over it, so FILE is never a half backup.
  std::string text = body.dump() + "\n";
  std::string partial = file + ".partial";
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = fd >= 0 && ::fsync(fd) == 0 && written;
  if (fd >= 0) ::close(fd);
  if (!written || std::rename(partial.c_str(), file.c_str()) != 0) {
    ::unlink(partial.c_str());
    context.err << "berth backup: cannot write " << file << "\n";
    return kExitFailure;
  }
  std::map<std::string, int> kinds;
  for (const auto& e : body["entries"]) {
    std::string key = e.value("key", "");
    kinds[key.substr(0, key.find('/', 1))]++;
  }
  context.notes() << "backup of " << body["entries"].size() << " stored keys (revision "
                  << body.value("revision", 0) << ") written to " << file << ":";
  for (const auto& [kind, count] : kinds) context.notes() << " " << kind << " " << count;
  context.notes() << "\nrestore it into an empty data directory with: berth restore " << file
                  << " --data-dir DIR\n";
  return kExitOk;
}

}  // namespace berth::cli
