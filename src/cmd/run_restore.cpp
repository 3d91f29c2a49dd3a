// `berth restore FILE --data-dir DIR [--store URL]` (docs/architecture.md §5): a `berth backup`
// put back into an empty store, with the join token beside it, so `berth master --data-dir DIR`
// starts with every app, version, group, deployment, dataset, token and subscription of the
// backup, and the agents that held its join token rejoin it and have their tasks adopted.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/marathon_api.h"
#include "cmd/commands.h"
#include "store/store.h"
#include "store/store_url.h"

namespace berth::cmd {
namespace {

// The entries of the backup in `file`, or an error naming what is wrong with it.
Result<std::vector<StoreOp>> read_backup(const std::string& file, std::string* join_token) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + file);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json backup = nlohmann::json::parse(text.str(), nullptr, false);
  if (!backup.is_object() || backup.value("format", "") != api::kBackupFormat ||
      !backup.contains("entries") || !backup["entries"].is_array()) {
    return make_error(ErrorCode::kInvalidArgument,
                      file + " is not a berth backup (a JSON object with \"format\": \"" +
                          std::string(api::kBackupFormat) +
                          "\" and \"entries\", as `berth "
                          "backup` writes)");
  }
  std::vector<StoreOp> ops;
  for (const auto& e : backup["entries"]) {
    if (!e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("value") ||
        !e["value"].is_string()) {
      return make_error(ErrorCode::kInvalidArgument,
                        file + ": entry " + std::to_string(ops.size()) +
                            " is not {\"key\": string, \"value\": string}");
    }
    StoreOp op;
    op.key = e["key"].get<std::string>();
    op.value = e["value"].get<std::string>();
    ops.push_back(std::move(op));
  }
  if (backup.contains("joinToken") && backup["joinToken"].is_string())
    *join_token = backup["joinToken"].get<std::string>();
  return ops;
}

// Writes the join token where `berth master --data-dir` reads it, unless one is there.
void keep_join_token(const std::string& data_dir, const std::string& token) {
  if (token.empty()) return;
  std::string path = data_dir + "/join-token";
  std::ifstream existing(path);
  std::string there;
  if (existing >> there) {
    if (there != token) {
      std::cerr << "berth restore: " << path << " already holds another join token and is kept; "
                << "agents that joined the backed-up master need that master's token\n";
    }
    return;
  }
  if (!write_private_file(path, token + "\n", /*replace=*/false))
    std::cerr << "berth restore: cannot write " << path << "\n";
}

}  // namespace

int run_restore(const std::string& file, const std::string& data_dir, const std::string& store) {
  std::string join_token;
  auto ops = read_backup(file, &join_token);
  if (!ops) {
    std::cerr << "berth restore: " << ops.error().message << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  std::string url = store.empty() ? "sqlite://" + data_dir + "/berth.db" : store;
  auto parsed = parse_store_url(url);
  auto opened = parsed ? open_store(*parsed) : Result<std::unique_ptr<Store>>(parsed.error());
  if (!opened) {
    std::cerr << "berth restore: cannot open the store " << url << ": " << opened.error().message
              << "\n";
    return 1;
  }
  Store& target = **opened;
  auto existing = target.list("");
  if (!existing || !existing->empty()) {
    std::cerr << "berth restore: the store " << url << " is not empty ("
              << (existing ? std::to_string(existing->size()) + " keys" : existing.error().message)
              << "); a backup goes into an empty data directory or store only\n";
    return 1;
  }
  // In batches: etcd takes a bounded number of operations per transaction.
  constexpr size_t kBatch = 64;
  for (size_t i = 0; i < ops->size(); i += kBatch) {
    std::vector<StoreOp> batch(
        ops->begin() + static_cast<std::ptrdiff_t>(i),
        ops->begin() + static_cast<std::ptrdiff_t>(std::min(ops->size(), i + kBatch)));
    auto committed = target.commit(batch);
    if (!committed) {
      std::cerr << "berth restore: writing to " << url << " failed after " << i
                << " keys: " << committed.error().message << "\n";
      return 1;
    }
  }
  keep_join_token(data_dir, join_token);
  std::cout << "restored " << ops->size() << " keys from " << file << " into " << url
            << "\nstart the master with: berth master --data-dir " << data_dir
            << (store.empty() ? "" : " --store " + store) << "\n";
  return 0;
}

}  // namespace berth::cmd
