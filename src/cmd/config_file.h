// berth's config file, read by `berth master --config FILE` and `berth agent --config FILE` (or
// $BERTH_CONFIG) before their flags are parsed (docs/deploy.md §1):
//
//   # a comment
//   [master]
//   port = 8080
//   data-dir = "/var/lib/berth/master"
//   [agent]
//   work-dir = /var/lib/berth/agent
//
// A key is a flag's long name without `--`; every flag of both commands but --config can be set.
// Each command applies its own section by setting the flag's BERTH_... environment variable
// where the environment does not set it already, and CLI11 then reads flags, then environment
// variables: so flags win over the environment, which wins over the file, which wins over the
// built-in defaults. (CLI11's own config files would win over the environment.)
//
// The whole file is checked, both sections, before anything is set: an unknown key (with the
// closest flag suggested), a key in the other command's section, a key given twice, a malformed
// line or a value its flag refuses is an error naming the file and the line, and the command
// exits before doing anything.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace berth::cmd {

struct ConfigEntry {
  std::string section;  // "master" or "agent"
  std::string key;      // a long flag name without `--`
  std::string value;    // unquoted
  int line = 0;         // 1-based
};

// Parses a config file's text; pure. Blank lines and lines starting with `#` are ignored; a
// line is `[section]` or `key = value`, the value bare (up to a ` #` comment), "double quoted"
// (with \" and \\) or 'single quoted' (as is). kInvalidArgument, "FILE:LINE: problem", for any
// other line, a section other than [master] and [agent], a key before the first section or
// given twice in one section, or an empty bare value. Keys are not checked here (check_config).
Result<std::vector<ConfigEntry>> parse_config(const std::string& text, const std::string& file);

// Checks every entry against the flags of `berth master` and `berth agent`: the key names a flag
// of its section's command (else the message suggests the closest flag, or the section where the
// key belongs), and the flag accepts the value. kInvalidArgument, "FILE:LINE: problem".
Status check_config(const std::vector<ConfigEntry>& entries, const std::string& file);

// For each entry of `section`, sets its flag's environment variable unless the environment
// already gives it a non-empty value. An empty value (`key = ""`) sets nothing: the flag keeps
// its default, as with an empty environment variable. The entries must have passed
// check_config.
void apply_config_section(const std::vector<ConfigEntry>& entries, const std::string& section);

// Whether a process of `uid` may trust a config file of this owner, group and mode: the file
// sets the join token and where data lives, so only root and the running user may write it.
// kPermissionDenied, naming `file` and what to change, for a file anyone may write, one whose
// group (other than root's) may write, or one owned by neither root nor `uid`.
Status check_config_permissions(const std::string& file, uid_t owner, gid_t group, mode_t mode,
                                uid_t uid);

// The text of `file` (a regular file of at most 1 MiB, with trusted permissions), or
// kInvalidArgument / kPermissionDenied naming it and the problem.
Result<std::string> read_config_file(const std::string& file);

// The config file `args` (berth's argv, args[1] being the command) name with --config FILE or
// --config=FILE (the last one given), else $BERTH_CONFIG, else "".
std::string config_file_argument(const std::vector<std::string>& args);

// `berth master` and `berth agent`: reads, checks and applies the config file `args` name, if
// any, for the command args[1]. Errors as read_config_file and check_config.
Status load_config(const std::vector<std::string>& args);

}  // namespace berth::cmd
