// A directory tree as a tar stream (POSIX ustar, with pax headers for long names and large
// ids), so a `local` dataset can travel from one node to another over HTTP (docs/fencing.md §5).
// The agent of the node holding the data archives it; the agent of the new node extracts it into
// a fresh directory. Only what a task would notice is kept: contents, directories, symbolic
// links, FIFOs, hard links, modes, modification times (seconds) and, as root, owners.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth {

struct ArchiveStats {
  uint64_t entries = 0;     // every entry, the root directory included
  uint64_t file_bytes = 0;  // the contents of regular files
};

// The tree under `dir` as a tar stream. The root appears as "./" (its mode and time travel
// too); the others by their path relative to `dir`, each directory before its contents,
// children in name order. Sockets and device nodes are skipped, as copy_tree does.
// kInvalidArgument when the archive would be larger than `max_bytes` (checked before any
// content is read), or a file changed size while it was read; kNotFound when `dir` is not a
// directory; kInternal (naming the path) when something cannot be read.
Result<std::string> archive_tree(const std::filesystem::path& dir, uint64_t max_bytes,
                                 ArchiveStats* stats = nullptr);

// Extracts `tar` into `to`, which must not exist and is created. The whole stream is checked:
// header checksums, sizes within the stream, an end-of-archive marker (a truncated stream is
// an error), names that stay inside `to` (relative, no "..", every parent an earlier directory
// entry, no name twice) and hard links to earlier files only. Symbolic links are created as
// given and never followed. Directory modes and times are applied last, so read-only
// directories can still be filled. kInvalidArgument naming the entry for a malformed stream;
// kInternal for a failed write. On error `to` may be half filled: the caller removes it.
Result<ArchiveStats> extract_tree(std::string_view tar, const std::filesystem::path& to);

}  // namespace berth
