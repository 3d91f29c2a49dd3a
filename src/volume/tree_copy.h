// copy_tree: copies a directory tree, preserving what a task would notice when its local
// dataset moves to another node: contents, modes, owners (when permitted), modification
// times and symbolic links.
#pragma once

#include <filesystem>

#include "base/result.h"

namespace berth {

// Copies `from` (a directory) to `to`, which must not exist. Regular files, directories,
// symbolic links and FIFOs are copied; sockets and device nodes are skipped (they are
// runtime artefacts, not data). Owners are kept when running as root.
Status copy_tree(const std::filesystem::path& from, const std::filesystem::path& to);

// Removes `path` and everything below it; a path that does not exist is fine. kInternal names
// the path and the reason otherwise.
Status remove_tree(const std::filesystem::path& path);

}  // namespace berth
