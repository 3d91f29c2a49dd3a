// CLI11 wiring of the `berth` client commands: the command tree, its options, and the
// process environment. The commands themselves live in app_commands.cpp,
// task_node_commands.cpp, task_logs_command.cpp and dataset_commands.cpp.
#include "cli/client_commands.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>
#include <utility>

#include "cli/app_commands.h"
#include "cli/command_context.h"
#include "cli/dataset_commands.h"
#include "cli/dataset_view.h"
#include "cli/events_command.h"
#include "cli/group_commands.h"
#include "cli/master_commands.h"
#include "cli/task_logs_command.h"
#include "cli/task_node_commands.h"
#include "cli/token_commands.h"
#include "http/http.h"

namespace berth::cli {
namespace {

constexpr const char* kDefaultMaster = "http://127.0.0.1:8080";

class ProcessEnvironment final : public ClientEnvironment {
 public:
  MonoTime now() const override { return clock_.mono_now(); }
  void sleep_for(std::chrono::milliseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
  std::istream& input() override { return std::cin; }
  std::optional<std::string> variable(const std::string& name) const override {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  }

 private:
  SystemClock clock_;
};

using Action = std::function<int(const CommandContext&)>;

// Builds the command tree; each leaf registers the action to run when it is the one parsed.
class CommandTree {
 public:
  CommandTree(const std::string& program, std::string default_master)
      : root_("berth client", program) {
    master_ = std::move(default_master);
    root_.require_subcommand(1);
    add_app_commands();
    add_group_commands();
    add_task_commands();
    add_node_commands();
    add_dataset_commands();
    add_token_commands();
    add_master_commands();
    CLI::App* stream =
        leaf(&root_, "events",
             "Print the master's events as they happen (/v2/events): tasks launched, lost, "
             "failed with their reason; deployments; health",
             [this](const CommandContext& c) { return events(c, events_); });
    stream->add_option(
        "--type", events_.types,
        "Only events of this type (repeatable), e.g. status_update_event, deployment_success");
  }

  CLI::App& root() { return root_; }
  const std::string& master() const { return master_; }
  const std::string& token() const { return token_; }
  const std::string& ca_cert() const { return ca_cert_; }
  bool json() const { return json_; }

  // The action of the parsed leaf command.
  const Action* chosen() const {
    for (const auto& [command, action] : leaves_) {
      if (command->parsed()) return &action;
    }
    return nullptr;
  }

 private:
  // `with_json` false: the command prints no tables (e.g. logs), so --json is a usage error.
  CLI::App* leaf(CLI::App* parent, const std::string& name, const std::string& description,
                 Action action, bool with_json = true) {
    CLI::App* command = parent->add_subcommand(name, description);
    command
        ->add_option("--master", master_,
                     "URL of the berth master, or several separated by commas (a master that does "
                     "not answer is left for the next); $BERTH_MASTER sets the default")
        ->capture_default_str();
    command->add_option(
        "--ca-cert", ca_cert_,
        "CA certificate of an https:// master; default $BERTH_CA_CERT, then the local "
        "berth up --tls CA (<data dir>/tls/ca.pem)");
    command->add_option(
        "--token", token_,
        "API token; default $BERTH_TOKEN, then the admin-token of the local berth up "
        "($BERTH_DATA_DIR or ./.berth)");
    if (with_json)
      command->add_flag("--json", json_, "Print the API's JSON answer instead of tables");
    leaves_.emplace_back(command, std::move(action));
    return command;
  }

  void add_change_options(CLI::App* command, bool with_force) {
    if (with_force)
      command->add_flag("--force", change_.force, "Cancel deployments that lock the app");
    command->add_flag("--no-wait", change_.no_wait, "Return once the master accepted the change");
    command->add_option("--timeout", change_.timeout_seconds, "Seconds to wait for the deployment")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }

  void add_app_commands() {
    CLI::App* app = root_.add_subcommand("app", "Deploy and manage apps");
    app->require_subcommand(1);
    CLI::App* deploy =
        leaf(app, "deploy", "Create or update an app from a JSON definition and wait for it",
             [this](const CommandContext& c) { return app_deploy(c, file_, change_); });
    deploy->add_option("FILE", file_, "App definition file, or - for stdin")->required();
    add_change_options(deploy, true);
    leaf(app, "list", "List apps", [](const CommandContext& c) { return app_list(c); });
    CLI::App* show = leaf(app, "show", "Show an app and its tasks",
                          [this](const CommandContext& c) { return app_show(c, app_id_); });
    show->add_option("ID", app_id_, "App id, e.g. /prod/web")->required();
    CLI::App* scale = leaf(
        app, "scale", "Change the number of instances",
        [this](const CommandContext& c) { return app_scale(c, app_id_, instances_, change_); });
    scale->add_option("ID", app_id_, "App id")->required();
    scale->add_option("N", instances_, "Number of instances")
        ->required()
        ->check(CLI::NonNegativeNumber);
    add_change_options(scale, true);
    CLI::App* restart =
        leaf(app, "restart", "Replace every task of the app",
             [this](const CommandContext& c) { return app_restart(c, app_id_, change_); });
    restart->add_option("ID", app_id_, "App id")->required();
    add_change_options(restart, true);
    CLI::App* destroy =
        leaf(app, "destroy", "Stop every task of the app and remove it",
             [this](const CommandContext& c) { return app_destroy(c, app_id_, change_); });
    destroy->add_option("ID", app_id_, "App id")->required();
    add_change_options(destroy, false);
  }

  void add_group_commands() {
    CLI::App* group = root_.add_subcommand("group", "Deploy and manage groups of apps");
    group->require_subcommand(1);
    CLI::App* deploy =
        leaf(group, "deploy", "Create or replace a group (apps, subgroups, dependencies) from JSON",
             [this](const CommandContext& c) { return group_deploy(c, file_, change_); });
    deploy->add_option("FILE", file_, "Group definition file, or - for stdin")->required();
    add_change_options(deploy, true);
    leaf(group, "list", "List groups with their apps and dependencies",
         [](const CommandContext& c) { return group_list(c); });
    CLI::App* show = leaf(group, "show", "Show a group's apps and versions",
                          [this](const CommandContext& c) { return group_show(c, app_id_); });
    show->add_option("ID", app_id_, "Group id, e.g. /stack")->required();
    CLI::App* scale =
        leaf(group, "scale", "Scale every app of the group by a factor",
             [this](const CommandContext& c) { return group_scale(c, app_id_, factor_, change_); });
    scale->add_option("ID", app_id_, "Group id")->required();
    scale->add_option("FACTOR", factor_, "e.g. 2 doubles, 0.5 halves (rounded up)")
        ->required()
        ->check(CLI::NonNegativeNumber);
    add_change_options(scale, true);
    CLI::App* rollback = leaf(
        group, "rollback", "Put a group back as it was at one of its versions",
        [this](const CommandContext& c) { return group_rollback(c, app_id_, version_, change_); });
    rollback->add_option("ID", app_id_, "Group id")->required();
    rollback->add_option("VERSION", version_, "A version from 'berth group show'")->required();
    add_change_options(rollback, true);
    CLI::App* destroy =
        leaf(group, "destroy", "Stop every app of the group, dependents first, and remove it",
             [this](const CommandContext& c) { return group_destroy(c, app_id_, change_); });
    destroy->add_option("ID", app_id_, "Group id")->required();
    add_change_options(destroy, true);
  }

  void add_task_commands() {
    CLI::App* task = root_.add_subcommand("task", "List tasks, read their logs and kill them");
    task->require_subcommand(1);
    CLI::App* list = leaf(task, "list", "List the tasks of every app, or of one",
                          [this](const CommandContext& c) { return task_list(c, app_id_); });
    list->add_option("APP", app_id_, "Only the tasks of this app");
    CLI::App* kill =
        leaf(task, "kill", "Kill a task; its app replaces it unless --scale",
             [this](const CommandContext& c) { return task_kill(c, task_id_, scale_); });
    kill->add_option("ID", task_id_, "Task id")->required();
    kill->add_flag("--scale", scale_,
                   "Lower the app's instance count instead of replacing the task");
    CLI::App* logs = leaf(
        task, "logs", "Print a task's stdout (or stderr) as it wrote it",
        [this](const CommandContext& c) {
          TaskLogsOptions options = logs_;
          if (tail_lines_ >= 0) options.tail_lines = tail_lines_;
          return task_logs(c, task_id_, options);
        },
        /*with_json=*/false);
    logs->add_option("ID", task_id_, "Task id")->required();
    logs->add_flag("--stderr", logs_.stderr_stream,
                   "Print the task's stderr instead of its stdout");
    logs->add_flag("-f,--follow", logs_.follow, "Keep printing what the task writes until it ends");
    logs->add_option("--tail", tail_lines_, "Print only the last N lines")
        ->type_name("N")
        ->check(CLI::NonNegativeNumber);
  }

  void add_node_commands() {
    CLI::App* node = root_.add_subcommand("node", "Inspect the cluster's nodes");
    node->require_subcommand(1);
    leaf(node, "list", "List nodes with their resources",
         [](const CommandContext& c) { return node_list(c); });
    CLI::App* drain =
        leaf(node, "drain", "Place nothing new on a node and move its tasks elsewhere",
             [this](const CommandContext& c) { return node_drain(c, node_name_, true); });
    drain->add_option("ID", node_name_, "Node id or hostname")->required();
    CLI::App* undrain =
        leaf(node, "undrain", "Let a drained node take tasks again",
             [this](const CommandContext& c) { return node_drain(c, node_name_, false); });
    undrain->add_option("ID", node_name_, "Node id or hostname")->required();
  }

  void add_dataset_commands() {
    CLI::App* dataset =
        root_.add_subcommand("dataset", "Create, move and remove datasets (Flocker v1 API)");
    dataset->require_subcommand(1);
    CLI::App* create =
        leaf(dataset, "create", "Create a dataset on a node",
             [this](const CommandContext& c) { return dataset_create(c, dataset_name_, create_); });
    create->add_option("NAME", dataset_name_, "Dataset name (metadata.name), e.g. the volume name")
        ->required();
    create
        ->add_option("--size", create_.size,
                     "Maximum size: bytes, or with K, M, G or T (binary), e.g. 1G")
        ->check(CLI::Validator(
            [](const std::string& text) {
              return parse_size(text) ? std::string()
                                      : "bad size '" + text +
                                            "': give whole bytes or a number with K, M, G or T, "
                                            "e.g. 512M";
            },
            "SIZE"));
    create->add_option("--node", create_.node,
                       "Node id or hostname to hold it; default: the first active node");
    create->add_option("--driver", create_.driver, "Storage driver; default: the master's")
        ->check(CLI::IsMember({"shared", "loop", "local"}));
    CLI::App* list = leaf(dataset, "list", "List datasets with where they are attached",
                          [this](const CommandContext& c) { return dataset_list(c, all_); });
    list->add_flag("--all", all_, "Include deleted datasets");
    CLI::App* show = leaf(dataset, "show", "Show one dataset", [this](const CommandContext& c) {
      return dataset_show(c, dataset_name_);
    });
    show->add_option("ID", dataset_name_, "Dataset id or name")->required();
    CLI::App* move =
        leaf(dataset, "move", "Move a dataset to another node and wait until it is attached there",
             [this](const CommandContext& c) {
               return dataset_move(c, dataset_name_, node_name_, move_);
             });
    move->add_option("ID", dataset_name_, "Dataset id or name")->required();
    move->add_option("NODE", node_name_, "Node id or hostname")->required();
    move->add_flag("--no-wait", move_.no_wait, "Return once the master accepted the new primary");
    move->add_option("--timeout", move_.timeout_seconds,
                     "Seconds to wait for the dataset to attach")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    CLI::App* destroy =
        leaf(dataset, "destroy", "Delete a dataset and its data",
             [this](const CommandContext& c) { return dataset_destroy(c, dataset_name_); });
    destroy->add_option("ID", dataset_name_, "Dataset id or name")->required();
  }

  void add_token_commands() {
    CLI::App* token = root_.add_subcommand("token", "Create, list and revoke API tokens (admin)");
    token->require_subcommand(1);
    CLI::App* create =
        leaf(token, "create", "Create a token; its secret is printed once",
             [this](const CommandContext& c) { return token_create(c, role_, token_name_); });
    create->add_option("--role", role_, "admin, operator or viewer")
        ->required()
        ->check(CLI::IsMember({"admin", "operator", "viewer"}));
    create->add_option("--name", token_name_, "What the token is for, shown by 'berth token list'");
    leaf(token, "list", "List tokens (never their secrets)",
         [](const CommandContext& c) { return token_list(c); });
    CLI::App* revoke = leaf(token, "revoke", "Revoke a token: it stops working at once",
                            [this](const CommandContext& c) { return token_revoke(c, token_id_); });
    revoke->add_option("ID", token_id_, "Token id (berth token list)")->required();
  }

  void add_master_commands() {
    CLI::App* backup_command =
        leaf(&root_, "backup", "Save the master's state and join token to FILE (admin)",
             [this](const CommandContext& c) { return backup(c, file_); });
    backup_command->add_option("FILE", file_, "Where to write the backup")->required();
    CLI::App* master = root_.add_subcommand("master", "Inspect the cluster's masters");
    master->require_subcommand(1);
    leaf(master, "list",
         "Whether each master of --master (comma-separated) answers, and which one leads",
         [](const CommandContext& c) { return master_list(c); });
  }

  CLI::App root_;
  std::vector<std::pair<CLI::App*, Action>> leaves_;
  std::string master_;
  std::string token_;
  std::string ca_cert_;
  std::string role_, token_name_, token_id_;
  bool json_ = false;
  std::string file_, app_id_, task_id_, node_name_, dataset_name_;
  int64_t instances_ = 0;
  double factor_ = 1;
  std::string version_;
  bool scale_ = false;
  TaskLogsOptions logs_;
  EventsOptions events_;
  int64_t tail_lines_ = -1;  // -1: no --tail
  ChangeOptions change_;
  bool all_ = false;
  DatasetCreateOptions create_;
  DatasetMoveOptions move_;
};

// The directory of a local `berth up`: $BERTH_DATA_DIR or ./.berth.
std::string local_data_dir(const ClientEnvironment& environment) {
  std::string dir = environment.variable("BERTH_DATA_DIR").value_or("");
  return dir.empty() ? "./.berth" : dir;
}

// --ca-cert, then $BERTH_CA_CERT, then the CA a local `berth up --tls` made; "" for none.
std::string resolve_ca_cert(const std::string& flag, const ClientEnvironment& environment) {
  if (!flag.empty()) return flag;
  std::string from_env = environment.variable("BERTH_CA_CERT").value_or("");
  if (!from_env.empty()) return from_env;
  std::string local = local_data_dir(environment) + "/tls/ca.pem";
  return std::ifstream(local).good() ? local : "";
}

// --token, then $BERTH_TOKEN, then the admin token a local `berth up` wrote.
std::string resolve_token(const std::string& flag, const ClientEnvironment& environment) {
  if (!flag.empty()) return flag;
  std::string from_env = environment.variable("BERTH_TOKEN").value_or("");
  if (!from_env.empty()) return from_env;
  std::ifstream in(local_data_dir(environment) + "/admin-token");
  std::string token;
  in >> token;
  return token;
}

}  // namespace

int run_client_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ProcessEnvironment environment;
  return run_client_command(args, out, err, environment);
}

int run_client_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                       ClientEnvironment& environment) {
  std::string default_master = environment.variable("BERTH_MASTER").value_or("");
  if (default_master.empty()) default_master = kDefaultMaster;
  CommandTree tree(args.empty() ? "berth" : args[0], default_master);
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  if (argv.empty()) argv.push_back("berth");
  try {
    tree.root().parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return tree.root().exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  const Action* action = tree.chosen();
  if (action == nullptr) {
    err << "no command given; run with --help for the list\n";
    return kExitUsage;
  }
  std::string ca_cert = resolve_ca_cert(tree.ca_cert(), environment);
  if (!ca_cert.empty()) http::set_client_ca_file(ca_cert);
  ApiClient api(tree.master(), 10000, resolve_token(tree.token(), environment));
  CommandContext context{api, tree.json(), out, err, environment};
  return (*action)(context);
}

}  // namespace berth::cli
