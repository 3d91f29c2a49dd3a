// Extracting a tar stream (tree_archiver.h writes them) into a fresh directory as its bytes
// arrive, for the agent of the node a `local` dataset moves to (local_transfer.h). The stream
// comes from another machine and is checked as it is read, so that it can never write outside
// the directory, whatever it holds; only what tree_archiver.h keeps is restored.
//
// libarchive parses the stream and writes the files with ARCHIVE_EXTRACT_SECURE_SYMLINKS,
// SECURE_NODOTDOT and NO_AUTODIR. It is handed absolute names under the canonical target (a
// multi-threaded agent cannot chdir), so SECURE_NOABSOLUTEPATHS cannot serve and our own checks
// stand in front of it, stricter where libarchive is lenient: it replaces an entry that
// appears twice, and accepts a stream cut at an entry's boundary as complete.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"
#include "volume/tree_archiver.h"

namespace berth {

// Where extract_tree reads a stream from: a socket, or bytes in memory in tests.
class ArchiveSource {
 public:
  virtual ~ArchiveSource() = default;
  // The next bytes of the stream, valid until the next call; empty at its end. An error (it
  // says what broke) ends the extraction with it.
  virtual Result<std::string_view> read() = 0;
};

// Bytes in memory as an ArchiveSource, handed out `piece_bytes` at a time. The bytes must
// outlive it.
class BytesArchiveSource final : public ArchiveSource {
 public:
  explicit BytesArchiveSource(std::string_view bytes, size_t piece_bytes = size_t{1} << 16)
      : bytes_(bytes), piece_bytes_(std::max<size_t>(piece_bytes, 1)) {}
  Result<std::string_view> read() override {
    std::string_view piece = bytes_.substr(0, piece_bytes_);
    bytes_.remove_prefix(piece.size());
    return piece;
  }

 private:
  std::string_view bytes_;
  size_t piece_bytes_;
};

// Extracts the stream `source` holds into `to`, which must not exist and is created. Names
// must be plain relative paths (no "..", ".", empty or absolute parts; at most 4,096 bytes)
// whose parent is an earlier directory entry; no name may appear twice; a hard link must point
// to an earlier regular file of the stream. Symbolic links are created as given and never
// followed. Directory modes and times are applied last (deepest first), so read-only
// directories can still be filled; owners only when running as root. The stream must end with
// its end-of-archive marker, followed by nothing but zeros. kInvalidArgument, naming the entry
// or the byte, for a malformed, hostile or truncated stream; the source's own error when it
// breaks; kInternal for a failed write. On error `to` may be half filled (but every directory
// in it writable again): the caller removes it.
Result<ArchiveStats> extract_tree(ArchiveSource& source, const std::filesystem::path& to);

}  // namespace berth
