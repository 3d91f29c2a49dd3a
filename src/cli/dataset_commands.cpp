#include "cli/dataset_commands.h"

#include <chrono>
#include <iomanip>
#include <optional>
#include <sstream>
#include <utility>

#include "cli/dataset_view.h"
#include "cli/table.h"
#include "http/http.h"

namespace berth::cli {
namespace {

constexpr const char* kConfigurationTarget = "/v1/configuration/datasets";
constexpr const char* kStateTarget = "/v1/state/datasets";
constexpr const char* kNodesTarget = "/v1/state/nodes";
constexpr std::chrono::milliseconds kMovePollInterval{200};
// A master fail-over makes the API unreachable for a few seconds; more misses than this in a
// row mean it is gone.
constexpr int kMaxMissedPolls = 5;

struct Node {
  std::string uuid;
  std::string hostname;
};

std::string dataset_target(const std::string& dataset_id) {
  return std::string(kConfigurationTarget) + "/" + http::percent_encode(dataset_id);
}

// GETs a Flocker list; a non-array answer counts as empty. nullopt once the failure is reported.
std::optional<nlohmann::json> get_list(const CommandContext& context, const std::string& target) {
  auto answer = call_or_report(context, "GET", target);
  if (!answer) return std::nullopt;
  return answer->json.is_array() ? answer->json : nlohmann::json::array();
}

// The configuration entry `dataset` names (id or name); nullopt once the failure is reported.
std::optional<nlohmann::json> lookup_dataset(const CommandContext& context,
                                             const std::string& dataset) {
  auto configuration = get_list(context, kConfigurationTarget);
  if (!configuration) return std::nullopt;
  auto found = find_dataset(*configuration, dataset);
  if (!found.ok()) {
    context.err << found.error().message << "\n";
    return std::nullopt;
  }
  return std::move(found).value();
}

// The node `node` names (uuid or hostname) in /v1/state/nodes; nullopt once reported.
std::optional<Node> lookup_node(const CommandContext& context, const std::string& node) {
  auto nodes = get_list(context, kNodesTarget);
  if (!nodes) return std::nullopt;
  auto found = find_node(*nodes, "uuid", node);
  if (!found.ok()) {
    context.err << found.error().message << "\n";
    return std::nullopt;
  }
  std::string uuid = text_field(*found, "uuid");
  return Node{uuid, text_field(*found, "hostname", uuid)};
}

// /v1/state/nodes has no notion of draining, so the default primary comes from /berth/v1/nodes,
// whose ids are the same node uuids.
std::optional<Node> first_active_node(const CommandContext& context) {
  auto answer = call_or_report(context, "GET", "/berth/v1/nodes");
  if (!answer) return std::nullopt;
  const auto nodes = answer->json.is_object() ? answer->json.value("nodes", nlohmann::json::array())
                                              : nlohmann::json::array();
  for (const auto& node : nodes) {
    if (text_field(node, "state", "") != "active") continue;
    std::string id = text_field(node, "id");
    return Node{id, text_field(node, "hostname", id)};
  }
  context.err << "no node is active to hold the dataset; start an agent or undrain a node, "
                 "or name one with --node\n";
  return std::nullopt;
}

std::string label_of(const nlohmann::json& dataset) {
  const auto metadata = dataset.is_object() ? dataset.value("metadata", nlohmann::json::object())
                                            : nlohmann::json::object();
  std::string name = text_field(metadata, "name", "");
  return name.empty() ? text_field(dataset, "dataset_id") : name;
}

std::string size_text(const std::optional<uint64_t>& bytes) {
  return bytes ? human_size(*bytes) : "-";
}

std::string or_dash(const std::string& text) { return text.empty() ? "-" : text; }

std::string seconds_text(std::chrono::nanoseconds elapsed) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << std::chrono::duration<double>(elapsed).count();
  return text.str();
}

void print_dataset(std::ostream& out, const DatasetRow& row) {
  auto line = [&out](const std::string& label, const std::string& value) {
    out << label << std::string(10 - label.size(), ' ') << value << "\n";
  };
  line("ID", row.id);
  line("NAME", or_dash(row.name));
  line("SIZE", row.size_bytes ? human_size(*row.size_bytes) + " (" +
                                    std::to_string(*row.size_bytes) + " bytes)"
                              : "-");
  line("DRIVER", or_dash(row.driver));
  line("PRIMARY", row.primary_id.empty() ? "-"
                  : row.primary_host == row.primary_id
                      ? row.primary_id
                      : row.primary_host + " (" + row.primary_id + ")");
  line("ATTACHED", or_dash(row.attached_host));
  line("PATH", or_dash(row.path));
  std::string metadata;
  for (const auto& [key, value] : row.metadata.items()) {
    if (key != "name")
      metadata += (metadata.empty() ? "" : ", ") + key + "=" + scalar_text(value, "");
  }
  if (!metadata.empty()) line("METADATA", metadata);
  if (row.deleted) line("DELETED", "yes; the agents remove its data");
}

// Polls the state until `dataset_id` is attached on `target`.
int wait_for_move(const CommandContext& context, const std::string& dataset_id,
                  const std::string& label, const Node& target, MonoTime started,
                  std::chrono::seconds timeout) {
  const MonoTime deadline = started + timeout;
  int missed_polls = 0;
  while (true) {
    auto state = context.api.call("GET", kStateTarget);
    if (!state.ok()) {
      if (++missed_polls >= kMaxMissedPolls) {
        context.err << state.error().message << "\ngave up waiting for dataset " << label
                    << " to move to " << target.hostname << " after " << missed_polls
                    << " failed polls; the move may still finish on the master\n";
        return kExitFailure;
      }
    } else if (!state->ok()) {
      report_failure(context, *state);
      return kExitFailure;
    } else {
      missed_polls = 0;
      if (attached_node(state->json, dataset_id) == target.uuid) {
        context.notes() << "moved " << label << " to " << target.hostname << " in "
                        << seconds_text(context.env.now() - started) << " s\n";
        return kExitOk;
      }
    }
    if (context.env.now() >= deadline) {
      context.err << "timed out after " << timeout.count() << "s waiting for dataset " << label
                  << " to attach on " << target.hostname << "; the move continues on the master. "
                  << "Follow it with `berth dataset show " << label
                  << "`, or give more time with --timeout\n";
      return kExitFailure;
    }
    context.env.sleep_for(kMovePollInterval);
  }
}

}  // namespace

int dataset_create(const CommandContext& context, const std::string& name,
                   const DatasetCreateOptions& options) {
  nlohmann::json body = {{"metadata", {{"name", name}}}};
  if (!options.size.empty()) {
    auto bytes = parse_size(options.size);
    if (!bytes) {
      context.err << "bad --size '" << options.size
                  << "': give whole bytes or a number with K, M, G or T, "
                  << "e.g. 512M\n";
      return kExitUsage;
    }
    body["maximum_size"] = *bytes;
  }
  if (!options.driver.empty()) body["driver"] = options.driver;
  auto primary =
      options.node.empty() ? first_active_node(context) : lookup_node(context, options.node);
  if (!primary) return kExitFailure;
  body["primary"] = primary->uuid;
  auto answer = call_or_report(context, "POST", kConfigurationTarget, body.dump());
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  const auto& created = answer->json;
  context.out << "created dataset " << name << " (" << text_field(created, "dataset_id") << ") on "
              << primary->hostname;
  if (created.is_object() && created.contains("maximum_size") &&
      created["maximum_size"].is_number_unsigned()) {
    context.out << ", size " << human_size(created["maximum_size"].get<uint64_t>());
  }
  std::string driver = text_field(created, "driver", "");
  if (!driver.empty()) context.out << ", driver " << driver;
  context.out << "\n";
  return kExitOk;
}

int dataset_list(const CommandContext& context, bool include_deleted) {
  auto configuration = call_or_report(context, "GET", kConfigurationTarget);
  if (!configuration) return kExitFailure;
  if (context.json) {
    print_json(context.out, *configuration);
    return kExitOk;
  }
  auto state = get_list(context, kStateTarget);
  if (!state) return kExitFailure;
  auto nodes = get_list(context, kNodesTarget);
  if (!nodes) return kExitFailure;
  Table table({"ID", "NAME", "SIZE", "DRIVER", "PRIMARY", "ATTACHED", "PATH"});
  for (const auto& row : join_datasets(configuration->json, *state, *nodes, include_deleted)) {
    table.add_row({row.id, or_dash(row.name) + (row.deleted ? " (deleted)" : ""),
                   size_text(row.size_bytes), or_dash(row.driver), or_dash(row.primary_host),
                   or_dash(row.attached_host), or_dash(row.path)});
  }
  context.out << table.render();
  return kExitOk;
}

int dataset_show(const CommandContext& context, const std::string& dataset) {
  auto found = lookup_dataset(context, dataset);
  if (!found) return kExitFailure;
  if (context.json) {
    context.out << found->dump(2) << "\n";
    return kExitOk;
  }
  auto state = get_list(context, kStateTarget);
  if (!state) return kExitFailure;
  auto nodes = get_list(context, kNodesTarget);
  if (!nodes) return kExitFailure;
  auto rows = join_datasets(nlohmann::json::array({*found}), *state, *nodes, true);
  if (rows.empty()) {
    context.err << "the master described dataset " << dataset
                << " without a dataset_id: " << found->dump() << "\n";
    return kExitFailure;
  }
  print_dataset(context.out, rows.front());
  return kExitOk;
}

int dataset_move(const CommandContext& context, const std::string& dataset, const std::string& node,
                 const DatasetMoveOptions& options) {
  auto found = lookup_dataset(context, dataset);
  if (!found) return kExitFailure;
  auto target = lookup_node(context, node);
  if (!target) return kExitFailure;
  const std::string id = text_field(*found, "dataset_id");
  const std::string label = label_of(*found);
  const MonoTime started = context.env.now();
  nlohmann::json body = {{"primary", target->uuid}};
  auto answer = call_or_report(context, "POST", dataset_target(id), body.dump());
  if (!answer) return kExitFailure;
  if (context.json) print_json(context.out, *answer);
  if (options.no_wait) {
    context.notes() << "moving " << label << " to " << target->hostname << "; `berth dataset show "
                    << label << "` says where it is attached\n";
    return kExitOk;
  }
  return wait_for_move(context, id, label, *target, started,
                       std::chrono::seconds(options.timeout_seconds));
}

int dataset_destroy(const CommandContext& context, const std::string& dataset) {
  auto found = lookup_dataset(context, dataset);
  if (!found) return kExitFailure;
  const std::string id = text_field(*found, "dataset_id");
  auto answer = call_or_report(context, "DELETE", dataset_target(id));
  if (!answer) return kExitFailure;
  if (context.json) {
    print_json(context.out, *answer);
    return kExitOk;
  }
  context.out << "destroyed dataset " << label_of(*found) << " (" << id
              << "); the agents remove its data\n";
  return kExitOk;
}

}  // namespace berth::cli
