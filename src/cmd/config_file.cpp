#include "cmd/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>

#include "base/check.h"
#include "cmd/service_commands.h"

namespace berth::cmd {
namespace {

constexpr size_t kMaxConfigBytes = size_t{1} << 20;
constexpr std::string_view kBlank = " \t\r";

Error problem(const std::string& text) { return make_error(ErrorCode::kInvalidArgument, text); }

Error at_line(const std::string& file, int line, const std::string& text) {
  return problem(file + ":" + std::to_string(line) + ": " + text);
}

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kBlank);
  return text.substr(begin, end - begin + 1);
}

bool blank_or_comment(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest[0] == '#';
}

std::string backticked(std::string_view text) { return "`" + std::string(text) + "`"; }

// A "double quoted" value, from just after its opening quote.
Result<std::string> double_quoted(std::string_view text) {
  std::string value;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      if (!blank_or_comment(text.substr(i + 1))) {
        return problem("text after the closing quote: " + backticked(trim(text.substr(i + 1))));
      }
      return value;
    }
    if (c == '\\') {
      if (i + 1 == text.size() || (text[i + 1] != '"' && text[i + 1] != '\\')) {
        return problem(
            "a double-quoted value takes only the escapes \\\" and \\\\ (a 'single-quoted' value "
            "is taken as it is)");
      }
      c = text[++i];
    }
    value.push_back(c);
  }
  return problem("the double quote is not closed");
}

// The value after `=`: quoted, or bare up to a comment that follows a blank.
Result<std::string> parse_value(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text[0] == '"') return double_quoted(text.substr(1));
  if (!text.empty() && text[0] == '\'') {
    size_t end = text.find('\'', 1);
    if (end == std::string_view::npos) return problem("the single quote is not closed");
    if (!blank_or_comment(text.substr(end + 1))) {
      return problem("text after the closing quote: " + backticked(trim(text.substr(end + 1))));
    }
    return std::string(text.substr(1, end - 1));
  }
  size_t end = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      end = i;
      break;
    }
  }
  std::string value(trim(text.substr(0, end)));
  if (value.empty()) {
    return problem("no value: write `key = \"\"` for an empty one, or comment the line out");
  }
  return value;
}

bool valid_key(std::string_view key) {
  return !key.empty() && key[0] != '-' && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// `[section]`: the section's name, or the problem.
Result<std::string> parse_section(std::string_view line) {
  size_t close = line.find(']');
  if (close == std::string_view::npos) return problem("the section header has no closing ]");
  if (!blank_or_comment(line.substr(close + 1))) {
    return problem("text after the section header: " + backticked(trim(line.substr(close + 1))));
  }
  std::string name(trim(line.substr(1, close - 1)));
  if (name != "master" && name != "agent") {
    return problem("unknown section [" + name + "]: berth reads [master] and [agent]");
  }
  return name;
}

// `key = value` into `entry` (key and value only), or the problem.
Status parse_key_value(std::string_view line, ConfigEntry& entry) {
  size_t equals = line.find('=');
  if (equals == std::string_view::npos) {
    return problem("expected `key = value`, a [section] or a # comment, not " + backticked(line));
  }
  std::string_view key = trim(line.substr(0, equals));
  if (key.starts_with("--") && valid_key(key.substr(2))) {
    return problem("write the key without `--`: " + backticked(key.substr(2)) + " = ...");
  }
  if (!valid_key(key)) {
    return problem("expected `key = value` with a flag's long name as the key, not " +
                   backticked(line));
  }
  auto value = parse_value(line.substr(equals + 1));
  if (!value) return value.error();
  entry.key = std::string(key);
  entry.value = *value;
  return {};
}

CLI::App* command_of(const ServiceCommands& commands, const std::string& section) {
  return section == "master" ? commands.master : commands.agent;
}

// The flag `key` of `command`, or null; --help and --config are no keys.
CLI::Option* flag_of(CLI::App* command, const std::string& key) {
  if (!valid_key(key) || key == "config") return nullptr;
  CLI::Option* option = command->get_option_no_throw("--" + key);
  if (option == nullptr || option == command->get_help_ptr()) return nullptr;
  return option;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_key(const ConfigEntry& entry, const ServiceCommands& commands) {
  if (entry.key == "config") return "`config` cannot be set in a config file";
  std::string other = entry.section == "master" ? "agent" : "master";
  if (flag_of(command_of(commands, other), entry.key) != nullptr) {
    return backticked(entry.key) + " is a flag of `berth " + other + "`, not of `berth " +
           entry.section + "`: move it to the [" + other + "] section";
  }
  std::string closest;
  size_t best = std::string::npos;
  for (const CLI::Option* option : command_of(commands, entry.section)->get_options()) {
    for (const std::string& name : option->get_lnames()) {
      if (name == "help" || name == "config") continue;
      size_t distance = edit_distance(entry.key, name);
      if (distance < best) {
        best = distance;
        closest = name;
      }
    }
  }
  std::string text = "unknown key " + backticked(entry.key) + " in [" + entry.section + "]";
  if (best <= std::max<size_t>(2, entry.key.size() / 3)) {
    return text + "; did you mean " + backticked(closest) + "?";
  }
  return text + ": `berth " + entry.section + " --help` lists the flags";
}

// What the flag says of `entry`'s value, parsed alone in a fresh command line with no
// environment variables; nullopt when it takes it.
std::optional<std::string> value_problem(const ConfigEntry& entry) {
  CLI::App app;
  ServiceFlags flags;
  ServiceCommands commands = add_service_commands(app, flags);
  for (CLI::App* command : {commands.master, commands.agent}) {
    for (CLI::Option* option : command->get_options()) option->envname("");
  }
  try {
    // CLI11 takes the arguments in reverse order.
    app.parse(std::vector<std::string>{"--" + entry.key + "=" + entry.value, entry.section});
  } catch (const CLI::RequiredError&) {
    return std::nullopt;  // another flag is missing, not this one's fault
  } catch (const CLI::ParseError& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<ConfigEntry>> parse_config(const std::string& text, const std::string& file) {
  std::vector<ConfigEntry> entries;
  std::map<std::pair<std::string, std::string>, int> first_line;
  std::string section;
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line = trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    ++number;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      auto name = parse_section(line);
      if (!name) return at_line(file, number, name.error().message);
      section = *name;
      continue;
    }
    ConfigEntry entry;
    if (Status parsed = parse_key_value(line, entry); !parsed) {
      return at_line(file, number, parsed.error().message);
    }
    if (section.empty()) {
      return at_line(
          file, number,
          backticked(entry.key) + " is outside a section: put it under [master] or [agent]");
    }
    auto [previous, inserted] = first_line.emplace(std::pair{section, entry.key}, number);
    if (!inserted) {
      return at_line(file, number,
                     backticked(entry.key) + " is given twice in [" + section +
                         "] (first on line " + std::to_string(previous->second) + ")");
    }
    entry.section = section;
    entry.line = number;
    entries.push_back(std::move(entry));
  }
  return entries;
}

Status check_config(const std::vector<ConfigEntry>& entries, const std::string& file) {
  CLI::App app;
  ServiceFlags flags;
  ServiceCommands commands = add_service_commands(app, flags);
  for (const ConfigEntry& entry : entries) {
    CLI::Option* option = flag_of(command_of(commands, entry.section), entry.key);
    if (option == nullptr) return at_line(file, entry.line, unknown_key(entry, commands));
    BERTH_CHECK(!option->get_envname().empty());  // how the file sets it
    if (entry.value.empty()) continue;  // the default, as an empty environment variable is
    if (auto refused = value_problem(entry)) {
      return at_line(file, entry.line,
                     entry.key + " = \"" + entry.value + "\" is refused: " + *refused);
    }
  }
  return {};
}

void apply_config_section(const std::vector<ConfigEntry>& entries, const std::string& section) {
  CLI::App app;
  ServiceFlags flags;
  ServiceCommands commands = add_service_commands(app, flags);
  for (const ConfigEntry& entry : entries) {
    if (entry.section != section || entry.value.empty()) continue;
    CLI::Option* option = flag_of(command_of(commands, section), entry.key);
    BERTH_CHECK(option != nullptr);
    std::string name = option->get_envname();
    const char* current = std::getenv(name.c_str());
    if (current != nullptr && *current != '\0') continue;  // the environment wins
    ::setenv(name.c_str(), entry.value.c_str(), 1);
  }
}

Status check_config_permissions(const std::string& file, uid_t owner, gid_t group, mode_t mode,
                                uid_t uid) {
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & 07777));
  std::string why =
      " (mode " + std::string(octal) + "), and it sets the join token and where data lives: ";
  if (mode & S_IWOTH) {
    return make_error(
        ErrorCode::kPermissionDenied,
        "refusing config file " + file + ": anyone may write it" + why + "chmod o-w " + file);
  }
  if ((mode & S_IWGRP) && group != 0) {
    return make_error(ErrorCode::kPermissionDenied, "refusing config file " + file + ": group " +
                                                        std::to_string(group) + " may write it" +
                                                        why + "chmod g-w " + file);
  }
  if (owner != 0 && owner != uid) {
    return make_error(ErrorCode::kPermissionDenied,
                      "refusing config file " + file + ": it is owned by uid " +
                          std::to_string(owner) +
                          ", neither root nor the user running berth (uid " + std::to_string(uid) +
                          "), who may write it" + why + "chown root " + file);
  }
  return {};
}

Result<std::string> read_config_file(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return problem("cannot read config file " + file + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return problem("config file " + file + " is not a regular file");
  }
  if (Status trusted =
          check_config_permissions(file, st.st_uid, st.st_gid, st.st_mode, ::geteuid());
      !trusted) {
    ::close(fd);
    return trusted.error();
  }
  std::string text;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return problem("cannot read config file " + file + ": " + std::strerror(error));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return problem("config file " + file + " is larger than 1 MiB: is it the right file?");
    }
  }
  ::close(fd);
  return text;
}

std::string config_file_argument(const std::vector<std::string>& args) {
  std::optional<std::string> given;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--config" && i + 1 < args.size()) {
      given = args[++i];
    } else if (args[i].starts_with("--config=")) {
      given = args[i].substr(9);
    }
  }
  if (given) return *given;
  const char* from_env = std::getenv("BERTH_CONFIG");
  return from_env != nullptr ? from_env : "";
}

Status load_config(const std::vector<std::string>& args) {
  if (args.size() < 2 || (args[1] != "master" && args[1] != "agent")) return {};
  std::string file = config_file_argument(args);
  if (file.empty()) return {};
  auto text = read_config_file(file);
  if (!text) return text.error();
  auto entries = parse_config(*text, file);
  if (!entries) return entries.error();
  if (Status checked = check_config(*entries, file); !checked) return checked;
  apply_config_section(*entries, args[1]);
  return {};
}

}  // namespace berth::cmd
