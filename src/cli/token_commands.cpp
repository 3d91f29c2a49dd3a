#include "cli/token_commands.h"

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

}  // namespace berth::cli
