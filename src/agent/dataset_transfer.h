// Moving `local` datasets between agents (docs/fencing.md §5: "moves only by copying while both
// nodes are up"). The agent of the node that holds the data answers, on its own HTTP port,
//
//   GET /berth/v1/datasets/{dataset_id}/archive
//   Authorization: Bearer <the cluster's join token>   (when the agents have one)
//
//   401 {"message"} without the token;
//   404 {"message"} when this node has no copy of the dataset (or the id is malformed);
//   409 {"message"} while the dataset is attached or in use here: only data nobody writes is
//       copied, so the master has the node detach it first;
//   405 for other methods, 503/500 {"message"} when the archive cannot be started;
//   200 application/x-tar in chunked transfer encoding: the dataset's directory as a pax tar
//       stream (volume/tree_archiver.h), written into the answer as the files are read. Its
//       headers say what is known before the first byte: X-Berth-Node-Id (the answering node),
//       X-Berth-Dataset-Epoch and X-Berth-Dataset-Size (from its record) and Trailer. Its
//       trailer, after the last chunk, what is known only after the last byte:
//       X-Berth-Archive-Entries (entries in the stream, the root directory included) and
//       X-Berth-Archive-Sha256 (SHA-256 of the body's bytes, 64 lowercase hex digits). A sender
//       that fails part way (a file changed or became unreadable) logs why and cuts the
//       connection without the last chunk, so the body never looks complete.
//
// The agent of the new node (DatasetManager, through DatasetTransfer::receive) checks the
// status and X-Berth-Node-Id before it reads any of the body, then extracts the body as it
// arrives into a staging directory beside the local driver's (volume/local_transfer.h),
// hashing the same bytes. The extraction's own checks keep even an unverified stream inside the
// staging directory. The copy is renamed into place only when the chunked body ended with its
// last chunk, the tar with its end-of-archive marker, the trailer's digest equals the one
// computed here and its entry count equals the entries extracted; any failure removes the
// staging directory, and the dataset loop tries again. Only then is the dataset attached. The
// master says where to fetch from in the assignment (DatasetAssignment::copy_from).
//
// Neither side holds more than a few pieces of the stream (TreeArchiver::kPieceBytes) in
// memory, so a dataset may be as large as the disks hold. The sender holds the dataset's lock
// for the whole stream, so an attach there waits; a receiver that accepts no byte for 30 s
// (http::kStreamStallLimitMs) is cut off, and a sender that sends none for
// stall_timeout_ms is given up on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "agent/dataset_manager.h"
#include "base/result.h"
#include "http/http.h"

namespace berth::agent {

struct DatasetTransferOptions {
  // Only agents of the cluster may fetch its data: they send the join token and the sender
  // requires it. Empty: no token is sent or required.
  std::string join_token;
  // Connecting to the sender and receiving its answer's header, each step. The sender takes
  // the dataset's lock before it answers, which may take up to its lock timeout (30 s).
  int answer_timeout_ms = 60000;
  // While the archive arrives: the copy fails when no byte comes for this long.
  int stall_timeout_ms = 60000;
};

// Whether `path` is GET /berth/v1/datasets/{id}/archive's path (any id).
bool is_dataset_archive_path(const std::string& path);

// Both ends of a move of a local dataset, for the local driver's directory `local_dir`
// (the agent's <work_dir>/datasets). Thread-safe: serve() and its streams run on HTTP server
// threads and receive() on the dataset loop; the per-dataset lock of the local driver orders
// them.
class DatasetTransfer final : public DatasetReceiver {
 public:
  explicit DatasetTransfer(std::string local_dir, DatasetTransferOptions options = {});

  // The answer to GET /berth/v1/datasets/{id}/archive on this node, `node_id`. `in_use` says
  // whether a task or a Docker mount uses a dataset here. A 200 answer is streamed
  // (http::Response::stream and finish) and holds the dataset's lock until the server is done
  // with it.
  http::Response serve(const http::Request& request, const std::string& node_id,
                       const std::function<bool(const std::string&)>& in_use) const;

  // Fetches change.dataset_id from change.copy_from, checks it came whole from
  // change.copy_from_node and installs it in `local_dir`, detached. kNotFound (404) and
  // kConflict (409) carry the sender's message; kInvalidArgument for an answer from another
  // node, a damaged or hostile stream; kUnavailable when the sender cannot be reached, answers
  // otherwise, or the stream breaks or stalls.
  Status receive(const DatasetChange& change) override;

 private:
  std::string local_dir_;
  DatasetTransferOptions options_;
};

}  // namespace berth::agent
