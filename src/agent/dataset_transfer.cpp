#include "agent/dataset_transfer.h"

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/http_answers.h"
#include "base/secret.h"
#include "json/bounded.h"
#include "volume/dataset_id.h"

namespace berth::agent {
namespace {

constexpr std::string_view kPrefix = "/berth/v1/datasets/";
constexpr std::string_view kSuffix = "/archive";

std::string dataset_id_of(const std::string& path) {
  return path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
}

std::optional<uint64_t> header_number(const http::ClientResponse& answer, const std::string& name) {
  auto it = answer.headers.find(name);
  if (it == answer.headers.end()) return std::nullopt;
  uint64_t value = 0;
  const char* end = it->second.data() + it->second.size();
  auto [at, ec] = std::from_chars(it->second.data(), end, value);
  if (ec != std::errc() || at != end || it->second.empty()) return std::nullopt;
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

}  // namespace

bool is_dataset_archive_path(const std::string& path) {
  return path.size() > kPrefix.size() + kSuffix.size() && path.starts_with(kPrefix) &&
         path.ends_with(kSuffix) && dataset_id_of(path).find('/') == std::string::npos;
}

std::string archive_checksum(std::string_view bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<LocalDatasetArchive> archive_from_answer(http::ClientResponse answer,
                                                const std::string& dataset_id,
                                                const std::string& expected_node,
                                                uint64_t max_archive_bytes) {
  if (answer.status != 200) {
    std::string message = message_of(answer);
    switch (answer.status) {
      case 404:
        return make_error(
            ErrorCode::kNotFound,
            "node " + expected_node + " has no copy of dataset " + dataset_id + ": " + message);
      case 409:
        return make_error(ErrorCode::kConflict, "node " + expected_node +
                                                    " has not released dataset " + dataset_id +
                                                    " yet: " + message);
      case 413:
        return make_error(ErrorCode::kInvalidArgument, message);
      default:
        return make_error(
            ErrorCode::kUnavailable,
            "node " + expected_node + " could not send dataset " + dataset_id + ": " + message);
    }
  }
  auto node = answer.headers.find("x-berth-node-id");
  if (node == answer.headers.end() || node->second != expected_node) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the agent that answered is node '" +
                          (node == answer.headers.end() ? std::string() : node->second) +
                          "', not node " + expected_node + " which holds dataset " + dataset_id +
                          " (its address now belongs to another agent?)");
  }
  auto epoch = header_number(answer, "x-berth-dataset-epoch");
  auto size = header_number(answer, "x-berth-dataset-size");
  auto entries = header_number(answer, "x-berth-archive-entries");
  auto checksum = answer.headers.find("x-berth-archive-checksum");
  if (!epoch || !size || !entries || checksum == answer.headers.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the archive of dataset " + dataset_id + " from node " + expected_node +
                          " lacks its X-Berth-Dataset-Epoch, X-Berth-Dataset-Size, "
                          "X-Berth-Archive-Entries or X-Berth-Archive-Checksum header");
  }
  if (answer.body.size() > max_archive_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "the archive of dataset " + dataset_id + " is " +
                                                       std::to_string(answer.body.size()) +
                                                       " bytes, more than the limit of " +
                                                       std::to_string(max_archive_bytes));
  }
  std::string actual = archive_checksum(answer.body);
  if (actual != checksum->second) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the archive of dataset " + dataset_id + " from node " + expected_node +
                          " is damaged: checksum " + actual + ", announced " + checksum->second);
  }
  LocalDatasetArchive archive;
  archive.tar = std::move(answer.body);
  archive.epoch = *epoch;
  archive.size_bytes = *size;
  archive.entries = *entries;
  return archive;
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
  Result<LocalDatasetArchive> archive =
      archive_local_dataset(local_dir_, id, options_.max_archive_bytes);
  if (!archive) {
    // archive_local_dataset's kInvalidArgument means the tree cannot be archived within the
    // limits (too large, nested too deep, changing while read): 413, not the table's 500.
    const ErrorCode code = archive.error().code;
    return message_response(code == ErrorCode::kInvalidArgument ? 413 : status_of(code),
                            archive.error().message);
  }
  http::Response response;
  response.content_type = "application/x-tar";
  response.headers = {{"X-Berth-Node-Id", node_id},
                      {"X-Berth-Dataset-Epoch", std::to_string(archive->epoch)},
                      {"X-Berth-Dataset-Size", std::to_string(archive->size_bytes)},
                      {"X-Berth-Archive-Entries", std::to_string(archive->entries)},
                      {"X-Berth-Archive-Checksum", archive_checksum(archive->tar)}};
  response.body = std::move(archive->tar);
  return response;
}

Status DatasetTransfer::receive(const DatasetChange& change) {
  if (Status s = validate_dataset_id(change.dataset_id); !s) return s;
  std::string target = std::string(kPrefix) + change.dataset_id + std::string(kSuffix);
  std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/x-tar"}};
  if (!options_.join_token.empty())
    headers.emplace_back("Authorization", "Bearer " + options_.join_token);
  auto answer = http::request(change.copy_from, "GET", target, "", options_.download_timeout_ms,
                              headers, options_.max_archive_bytes);
  if (!answer) return answer.error();
  Result<LocalDatasetArchive> archive = archive_from_answer(
      std::move(*answer), change.dataset_id, change.copy_from_node, options_.max_archive_bytes);
  if (!archive) return archive.error();
  return install_local_dataset(local_dir_, change.dataset_id, *archive);
}

}  // namespace berth::agent
