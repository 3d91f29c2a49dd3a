// The durable half of berth-counter, the Moby Counter demo app: every click is one JSON line
// in <data_dir>/clicks.jsonl, written and fsync()ed before the click is acknowledged. The
// original demo rewrote a whole JSON array with no fsync (docs/compatibility.md §3.5), so a crash
// could lose or empty it; this log can lose at most one unacknowledged, torn final line.
//
// decode_click_log() and encode_click_line() are pure; ClickLog is the shell that owns the
// file. Used by counter_app (the HTTP handler) and main.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::counter {

struct Click {
  int64_t id = 0;  // 1, 2, 3, ... in log order
  int64_t x = 0;   // page coordinates in CSS pixels
  int64_t y = 0;
  int64_t ts_ms = 0;  // wall clock at the click, milliseconds since the Unix epoch

  bool operator==(const Click&) const = default;
};

// One log line, '\n' included: {"id":1,"ts":1700000000000,"x":10,"y":20}
std::string encode_click_line(const Click& click);

struct DecodedLog {
  std::vector<Click> clicks;
  size_t valid_bytes = 0;  // the prefix made of whole, well-formed lines
  size_t torn_bytes = 0;   // what follows it: a final line cut short by a crash
};

// Decodes a whole clicks.jsonl. Only the final line can be torn, because each line is synced
// before the next is written, so a final line that lacks its '\n' or does not parse is
// reported in torn_bytes rather than failing. Any earlier bad line, or ids that do not
// increase, is damage this code will not guess about: kInvalidArgument naming the line.
Result<DecodedLog> decode_click_log(std::string_view contents);

struct ClickLogOptions {
  size_t max_clicks = 100'000;       // appends beyond this get kNotAllowed
  size_t max_file_bytes = 64 << 20;  // open() refuses a larger file rather than load it all
};

class ClickLog {
 public:
  static constexpr const char* kFileName = "clicks.jsonl";

  // Opens <data_dir>/clicks.jsonl, creating the directory and the file if missing (and
  // fsyncing the directory that gained an entry), loads every click and truncates away a torn
  // final line. Holds an exclusive flock() on the file while open, so a second berth-counter
  // on the same directory gets kConflict. Other outcomes: kInvalidArgument for a damaged or
  // oversized file, kPermissionDenied or kUnavailable when the file system says no.
  static Result<std::unique_ptr<ClickLog>> open(const std::string& data_dir,
                                                ClickLogOptions options = {});
  ~ClickLog();
  ClickLog(const ClickLog&) = delete;
  ClickLog& operator=(const ClickLog&) = delete;

  // Appends a click with the next id and returns it once the line is on disk (write() then
  // fsync()). Safe to call from many threads; appends are serialised. Outcomes: the click;
  // kNotAllowed when the log holds max_clicks; kUnavailable when writing or syncing failed.
  // A failed write is truncated away and later appends may succeed; a failed fsync leaves the
  // file's state unknown, so every later append fails too until the process restarts.
  Result<Click> append(int64_t x, int64_t y, int64_t ts_ms);

  std::vector<Click> clicks() const;  // a snapshot, in id order
  size_t size() const;
  const std::string& path() const { return path_; }
  size_t torn_bytes_dropped() const { return torn_bytes_dropped_; }  // by open()

 private:
  ClickLog(int fd, std::string path, ClickLogOptions options, DecodedLog decoded);

  const int fd_;
  const std::string path_;
  const ClickLogOptions options_;
  const size_t torn_bytes_dropped_;

  std::mutex append_mu_;  // serialises writes to the file; held across write() and fsync()
  size_t end_offset_;     // guarded by append_mu_
  int64_t next_id_;       // guarded by append_mu_
  std::string failure_;   // guarded by append_mu_; set when an fsync failed

  mutable std::mutex clicks_mu_;  // readers never wait for an fsync
  std::vector<Click> clicks_;     // guarded by clicks_mu_
};

}  // namespace berth::counter
