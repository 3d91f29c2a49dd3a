#include "cli/master_commands.h"

#include <vector>

#include "cli/table.h"
#include "http/url_host_port.h"

namespace berth::cli {
namespace {

constexpr int kProbeTimeoutMs = 3000;

// What one master says.
struct MasterProbe {
  std::string url;
  bool answers = false;  // GET /ping answered "pong"
  std::string leader;    // the "leader" of its GET /v2/leader; "" when it names none
  std::string problem;   // why it names none
};

MasterProbe probe(const ApiClient& api, const std::string& url) {
  MasterProbe master;
  master.url = url;
  auto ping = api.call_one(url, "GET", "/ping", kProbeTimeoutMs);
  if (!ping.ok()) {
    master.problem = ping.error().message;
    return master;
  }
  master.answers = ping->status == 200;
  if (!master.answers) {
    master.problem = "GET /ping answered " + std::to_string(ping->status);
    return master;
  }
  auto leader = api.call_one(url, "GET", "/v2/leader", kProbeTimeoutMs);
  if (!leader.ok()) {
    master.problem = leader.error().message;
  } else if (leader->ok() && leader->json.is_object() && leader->json.contains("leader") &&
             leader->json["leader"].is_string()) {
    master.leader = leader->json["leader"].get<std::string>();
  } else {
    master.problem = describe_failure(*leader).front();
  }
  return master;
}

std::string state_of(const MasterProbe& master, const std::vector<MasterProbe>& all) {
  if (!master.answers) return "unreachable";
  const std::string self = http::url_host_port(master.url);
  for (const auto& other : all) {
    if (!other.leader.empty() && other.leader == self) return "leader";
  }
  return "standby";
}

void print_json_list(const CommandContext& context, const std::vector<MasterProbe>& masters) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& master : masters) {
    nlohmann::json entry = {{"url", master.url}, {"state", state_of(master, masters)}};
    if (!master.leader.empty()) entry["leader"] = master.leader;
    if (!master.problem.empty()) entry["problem"] = master.problem;
    list.push_back(entry);
  }
  context.out << nlohmann::json{{"masters", list}}.dump(2) << "\n";
}

void print_table(const CommandContext& context, const std::vector<MasterProbe>& masters) {
  Table table({"MASTER", "STATE", "LEADER"});
  for (const auto& master : masters) {
    table.add_row({master.url, state_of(master, masters),
                   master.leader.empty() ? truncate_cell(master.problem, 80) : master.leader});
  }
  context.out << table.render();
}

}  // namespace

int master_list(const CommandContext& context) {
  std::vector<MasterProbe> masters;
  for (const auto& url : context.api.urls()) masters.push_back(probe(context.api, url));
  if (context.json) {
    print_json_list(context, masters);
  } else {
    print_table(context, masters);
  }
  std::string named, reason;
  for (const auto& master : masters) {
    if (named.empty()) named = master.leader;
    if (reason.empty() && master.answers) reason = master.problem;
  }
  if (named.empty()) {
    context.err << "no master leads"
                << (reason.empty() ? std::string(": none of them answers") : ": " + reason) << "\n";
    return kExitFailure;
  }
  bool listed = false;
  for (const auto& master : masters) listed = listed || http::url_host_port(master.url) == named;
  if (!listed) context.notes() << "the leader, " << named << ", is not in the list\n";
  return kExitOk;
}

}  // namespace berth::cli
