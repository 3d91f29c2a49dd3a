#include "agent/dataset_transfer.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/http_answers.h"
#include "agent/sha256.h"
#include "base/secret.h"
#include "json/bounded.h"
#include "volume/dataset_id.h"
#include "volume/local_transfer.h"

namespace berth::agent {
namespace {

constexpr std::string_view kPrefix = "/berth/v1/datasets/";
constexpr std::string_view kSuffix = "/archive";
constexpr const char* kEntriesField = "X-Berth-Archive-Entries";
constexpr const char* kDigestField = "X-Berth-Archive-Sha256";

std::string dataset_id_of(const std::string& path) {
  return path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
}

std::optional<uint64_t> number_in(const std::map<std::string, std::string>& fields,
                                  const std::string& name) {
  auto it = fields.find(name);
  if (it == fields.end() || it->second.empty()) return std::nullopt;
  uint64_t value = 0;
  const char* end = it->second.data() + it->second.size();
  auto [at, ec] = std::from_chars(it->second.data(), end, value);
  if (ec != std::errc() || at != end) return std::nullopt;
  return value;
}

// The sender's {"message"}, or the start of whatever it sent.
std::string message_of(const http::ClientResponse& answer) {
  auto body = json::parse_or_discarded(answer.body);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(answer.status) + " " + answer.body.substr(0, 200);
}

// Why the sender answered other than 200.
Error refusal(const http::ClientResponse& answer, const DatasetChange& change) {
  const std::string& node = change.copy_from_node;
  std::string message = message_of(answer);
  switch (answer.status) {
    case 404:
      return make_error(ErrorCode::kNotFound, "node " + node + " has no copy of dataset " +
                                                  change.dataset_id + ": " + message);
    case 409:
      return make_error(ErrorCode::kConflict, "node " + node + " has not released dataset " +
                                                  change.dataset_id + " yet: " + message);
    default:
      return make_error(ErrorCode::kUnavailable, "node " + node + " could not send dataset " +
                                                     change.dataset_id + ": " + message);
  }
}

// What the header of a 200 answer says of the copy, once it is known to come from the node
// that holds the dataset.
Result<LocalDatasetCopy> copy_of(const http::ClientResponse& head, const DatasetChange& change) {
  auto node = head.headers.find("x-berth-node-id");
  if (node == head.headers.end() || node->second != change.copy_from_node) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the agent that answered is node '" +
                          (node == head.headers.end() ? std::string() : node->second) +
                          "', not node " + change.copy_from_node + " which holds dataset " +
                          change.dataset_id + " (its address now belongs to another agent?)");
  }
  auto epoch = number_in(head.headers, "x-berth-dataset-epoch");
  auto size = number_in(head.headers, "x-berth-dataset-size");
  if (!epoch || !size) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the archive of dataset " + change.dataset_id + " from node " +
                          change.copy_from_node +
                          " lacks its X-Berth-Dataset-Epoch or X-Berth-Dataset-Size header");
  }
  return LocalDatasetCopy{*size, *epoch};
}

// The trailer's word on the stream against what arrived: `digest` of the body, `stats` of
// what was extracted.
Status check_trailer(const std::map<std::string, std::string>& trailer, const std::string& digest,
                     const ArchiveStats& stats, const DatasetChange& change) {
  auto entries = number_in(trailer, "x-berth-archive-entries");
  auto announced = trailer.find("x-berth-archive-sha256");
  const std::string from = "the archive from node " + change.copy_from_node;
  if (!entries || announced == trailer.end()) {
    return make_error(ErrorCode::kInvalidArgument, from + " ended without its " + kEntriesField +
                                                       " and " + kDigestField +
                                                       " trailer fields; it cannot be verified");
  }
  if (announced->second != digest) {
    return make_error(ErrorCode::kInvalidArgument, from + " is damaged: its SHA-256 is " + digest +
                                                       ", the sender announced " +
                                                       announced->second);
  }
  if (*entries != stats.entries) {
    return make_error(ErrorCode::kInvalidArgument,
                      from + " holds " + std::to_string(stats.entries) +
                          " entries where its sender announced " + std::to_string(*entries) +
                          "; it is incomplete");
  }
  return {};
}

// The body of the answer as an archive source, hashing every byte it hands on.
class HashingSource final : public ArchiveSource {
 public:
  explicit HashingSource(http::BodyReader& body) : body_(body) {}
  Result<std::string_view> read() override {
    Result<std::string_view> piece = body_.read();
    if (piece) digest_.update(*piece);
    return piece;
  }
  std::string digest() const { return digest_.hex(); }

 private:
  http::BodyReader& body_;
  Sha256 digest_;
};

// The state of one archive being sent, shared by the answer's stream and finish.
struct Sending {
  std::string dataset_id;
  std::string to;
  std::unique_ptr<LocalDatasetArchive> archive;
  Sha256 digest;
  bool ended = false;   // the last bytes went out
  bool failed = false;  // the archive broke off
};

http::Response streamed_answer(std::shared_ptr<Sending> sending, const std::string& node_id) {
  http::Response response;
  response.content_type = "application/x-tar";
  const LocalDatasetCopy& copy = sending->archive->copy();
  response.headers = {{"X-Berth-Node-Id", node_id},
                      {"X-Berth-Dataset-Epoch", std::to_string(copy.epoch)},
                      {"X-Berth-Dataset-Size", std::to_string(copy.size_bytes)},
                      {"Trailer", std::string(kEntriesField) + ", " + kDigestField}};
  response.stream = [sending](std::string* chunk) {
    if (sending->ended || sending->failed) return false;
    // Room for a piece, what libarchive held back and the server's CRLF: no reallocation.
    chunk->reserve(TreeArchiver::kPieceBytes + (64 << 10));
    Result<bool> more = sending->archive->next(chunk);
    if (!more) {
      spdlog::warn("sending dataset {} to {} broke off: {}", sending->dataset_id, sending->to,
                   more.error().message);
      sending->failed = true;
      return false;
    }
    sending->digest.update(*chunk);
    sending->ended = !*more;
    return true;  // the last bytes too: the server drops a chunk that comes with false
  };
  response.finish = [sending]() -> std::optional<http::Fields> {
    if (!sending->ended || sending->failed) return std::nullopt;
    const ArchiveStats& stats = sending->archive->stats();
    spdlog::info("sent dataset {} to {}: {} entries, {} bytes of files", sending->dataset_id,
                 sending->to, stats.entries, stats.file_bytes);
    return http::Fields{{kEntriesField, std::to_string(stats.entries)},
                        {kDigestField, sending->digest.hex()}};
  };
  return response;
}

}  // namespace

bool is_dataset_archive_path(const std::string& path) {
  return path.size() > kPrefix.size() + kSuffix.size() && path.starts_with(kPrefix) &&
         path.ends_with(kSuffix) && dataset_id_of(path).find('/') == std::string::npos;
}

DatasetTransfer::DatasetTransfer(std::string local_dir, DatasetTransferOptions options)
    : local_dir_(std::move(local_dir)), options_(options) {}

http::Response DatasetTransfer::serve(const http::Request& request, const std::string& node_id,
                                      const std::function<bool(const std::string&)>& in_use) const {
  if (!is_dataset_archive_path(request.path)) {
    return message_response(404, "no such endpoint: " + request.path);
  }
  if (request.method != "GET") {
    return message_response(
        405, "method " + request.method + " not allowed on " + request.path + ": use GET");
  }
  if (!options_.join_token.empty() &&
      !same_secret(request.header("authorization"), "Bearer " + options_.join_token)) {
    return message_response(
        401, "fetching a dataset needs the cluster's join token (Authorization: Bearer)");
  }
  std::string id = dataset_id_of(request.path);
  if (!validate_dataset_id(id)) {
    return message_response(404, "no dataset '" + id + "' here: dataset ids are lowercase UUIDs");
  }
  if (in_use(id)) {
    return message_response(409, "dataset " + id + " is in use on node " + node_id +
                                     " (a task or a Docker mount); it is copied once released");
  }
  Result<std::unique_ptr<LocalDatasetArchive>> archive = archive_local_dataset(local_dir_, id);
  if (!archive) return message_response(status_of(archive.error().code), archive.error().message);
  auto sending = std::make_shared<Sending>();
  sending->dataset_id = id;
  sending->to = request.remote_address;
  sending->archive = std::move(*archive);
  spdlog::info("sending dataset {} to {}", id, sending->to);
  return streamed_answer(std::move(sending), node_id);
}

Status DatasetTransfer::receive(const DatasetChange& change) {
  if (Status s = validate_dataset_id(change.dataset_id); !s) return s;
  std::string target = std::string(kPrefix) + change.dataset_id + std::string(kSuffix);
  std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/x-tar"},
                                                              {"TE", "trailers"}};
  if (!options_.join_token.empty())
    headers.emplace_back("Authorization", "Bearer " + options_.join_token);
  http::DownloadOptions download;
  download.header_timeout_ms = options_.answer_timeout_ms;
  download.stall_timeout_ms = options_.stall_timeout_ms;
  auto install = [&](const http::ClientResponse& head, http::BodyReader& body) -> Status {
    Result<LocalDatasetCopy> copy = copy_of(head, change);
    if (!copy) return copy.error();
    HashingSource source(body);
    return install_local_dataset(
        local_dir_, change.dataset_id, *copy, source, [&](const ArchiveStats& stats) {
          return check_trailer(body.trailer(), source.digest(), stats, change);
        });
  };
  Result<http::ClientResponse> answer =
      http::download(change.copy_from, target, headers, install, download);
  if (!answer) return answer.error();
  if (answer->status != 200) return refusal(*answer, change);
  return {};
}

}  // namespace berth::agent
