// run_command: runs a program with arguments, without a shell, and reports how it ended. The
// loop driver uses it for mkfs.ext4 only; everything else it does with system calls.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth {

// The absolute path of `name`, searched in $PATH and then /usr/sbin, /sbin, /usr/bin and
// /bin (an agent started without a login shell may lack the sbin directories); nullopt when
// it is not installed.
std::optional<std::string> find_executable(const std::string& name);

// Runs `argv` (argv[0] an absolute path) with stdin and stdout on /dev/null. Ok when it exits
// with status 0; kInternal otherwise, with the exit status and the first 2 KiB of stderr.
Status run_command(const std::vector<std::string>& argv);

}  // namespace berth
