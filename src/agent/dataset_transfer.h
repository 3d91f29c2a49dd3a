// Moving `local` datasets between agents (docs/fencing.md §5: "moves only by copying while both
// nodes are up"). The agent of the node that holds the data answers, on its own HTTP port,
//
//   GET /berth/v1/datasets/{dataset_id}/archive
//   Authorization: Bearer <the cluster's join token>   (when the agents have one)
//
//   401 {"message"} without the token;
//   200 application/x-tar: the dataset's directory (volume/tree_archive.h), with headers
//       X-Berth-Node-Id (the answering node), X-Berth-Dataset-Epoch and X-Berth-Dataset-Size
//       (from its record), X-Berth-Archive-Entries and X-Berth-Archive-Checksum (FNV-1a 64 of
//       the body, 16 hex digits);
//   404 {"message"} when this node has no copy of the dataset (or the id is malformed);
//   409 {"message"} while the dataset is attached or in use here: only data nobody writes is
//       copied, so the master has the node detach it first;
//   413 {"message"} when the archive would exceed the size limit (kMaxDatasetArchiveBytes);
//   405 for other methods, 503/500 {"message"} when the data cannot be read.
//
// The agent of the new node (DatasetManager, through DatasetTransfer::receive) downloads it,
// checks every header against the body, unpacks it next to the local driver's directory and
// renames it into place (volume/local_transfer.h); only then is the dataset attached. The
// master says where to fetch from in the assignment (DatasetAssignment::copy_from).
//
// The archive is buffered in memory on both sides: about twice its size on the sender while
// it is answered, so it is bounded by kMaxDatasetArchiveBytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/dataset_manager.h"
#include "base/result.h"
#include "http/http.h"
#include "volume/local_transfer.h"

namespace berth::agent {

inline constexpr uint64_t kMaxDatasetArchiveBytes = uint64_t{1} << 30;  // 1 GiB

struct DatasetTransferOptions {
  // Only agents of the cluster may fetch its data: they send the join token and the sender
  // requires it. Empty: no token is sent or required.
  std::string join_token;
  uint64_t max_archive_bytes = kMaxDatasetArchiveBytes;
  // How long a download may take at each step (connect, send, receive the whole body).
  int download_timeout_ms = 300000;
};

// Whether `path` is GET /berth/v1/datasets/{id}/archive's path (any id).
bool is_dataset_archive_path(const std::string& path);

// FNV-1a 64 of `bytes`, as 16 lowercase hex digits: the archive's checksum header.
std::string archive_checksum(std::string_view bytes);

// The receiving side's checks of an answer: status 200, X-Berth-Node-Id equal to
// `expected_node`, and a body that matches its checksum and fits the limit. kNotFound (404),
// kConflict (409) and kInvalidArgument (413, a wrong node, a bad checksum or a missing
// header) carry the sender's message; other statuses are kUnavailable.
Result<LocalDatasetArchive> archive_from_answer(http::ClientResponse answer,
                                                const std::string& dataset_id,
                                                const std::string& expected_node,
                                                uint64_t max_archive_bytes);

// Both ends of a move of a local dataset, for the local driver's directory `local_dir`
// (the agent's <work_dir>/datasets). Thread-safe: serve() runs on HTTP server threads and
// receive() on the dataset loop; the per-dataset lock of the local driver orders them.
class DatasetTransfer final : public DatasetReceiver {
 public:
  explicit DatasetTransfer(std::string local_dir, DatasetTransferOptions options = {});

  // The answer to GET /berth/v1/datasets/{id}/archive on this node, `node_id`. `in_use` says
  // whether a task or a Docker mount uses a dataset here.
  http::Response serve(const http::Request& request, const std::string& node_id,
                       const std::function<bool(const std::string&)>& in_use) const;

  // Downloads change.dataset_id from change.copy_from, checks it came from
  // change.copy_from_node and installs it in `local_dir`, detached.
  Status receive(const DatasetChange& change) override;

 private:
  std::string local_dir_;
  DatasetTransferOptions options_;
};

}  // namespace berth::agent
