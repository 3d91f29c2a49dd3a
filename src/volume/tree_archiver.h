// A directory tree written as a tar stream piece by piece, so that a `local` dataset of any
// size can travel from one node to another over HTTP with flat memory (docs/fencing.md §5).
// The agent of the node holding the data archives it (local_transfer.h) while the agent of the
// new node extracts it as it arrives (tree_extractor.h).
//
// The stream is POSIX pax (libarchive's writer; names as raw bytes, `hdrcharset=BINARY`), so
// any tar reads it. Only what a task would notice travels: contents, directories, symbolic
// links, FIFOs, hard links, modes, modification times (to the nanosecond) and numeric owners;
// no user or group names, device or inode numbers, access times or extended attributes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"

namespace berth {

struct ArchiveStats {
  uint64_t entries = 0;     // every entry, the root directory included
  uint64_t file_bytes = 0;  // the contents of regular files
};

class TreeArchiver {
 public:
  // The stream of the tree under `dir`: the root as "./" (its mode and time travel too), the
  // others by their path relative to `dir`, each directory before its contents, children in
  // name order, the second and later names of a file as hard links to the first. Sockets and
  // device nodes are skipped, as copy_tree does. kNotFound when `dir` is not a directory (a
  // symbolic link to one is not followed); kInternal when libarchive cannot start.
  static Result<std::unique_ptr<TreeArchiver>> open(const std::filesystem::path& dir);
  ~TreeArchiver();

  TreeArchiver(const TreeArchiver&) = delete;
  TreeArchiver& operator=(const TreeArchiver&) = delete;

  // Appends the next part of the stream to `out`: about kPieceBytes (libarchive holds back
  // up to a 10 KiB block, and a header may come on top) read from the tree in one go. true while
  // more follows; false once the stream is complete (its end-of-archive marker is in `out`).
  // kInvalidArgument for a tree that cannot be archived (nested deeper than 256 directories),
  // kUnavailable when a file changed size while it was read, kInternal (naming the path) when
  // something cannot be read. After false or an error the stream is over: do not call again.
  Result<bool> next(std::string* out);

  // What the stream holds so far.
  const ArchiveStats& stats() const;

  static constexpr size_t kPieceBytes = size_t{1} << 20;

 private:
  struct State;
  explicit TreeArchiver(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth
