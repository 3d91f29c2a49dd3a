// What `berth dataset ...` shows and accepts, computed from Flocker v1 answers without any
// I/O: byte sizes typed by users, the join of configuration (/v1/configuration/datasets),
// state (/v1/state/datasets) and nodes (/v1/state/nodes) into rows, and lookups of a dataset
// or node by id or name. Used by dataset_commands.cpp and node commands; tested on its own.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::cli {

// "1073741824", "512M", "1G", "1GiB", "2t": whole bytes or a whole number with a binary K,
// M, G or T suffix (case-insensitive, optionally followed by "iB" or "B"). nullopt for
// anything else, including a value that does not fit in 64 bits.
std::optional<uint64_t> parse_size(const std::string& text);

// "1.0G", "512.0M", "100B": one decimal in the largest binary unit that fits.
std::string human_size(uint64_t bytes);

// One dataset as the table and `dataset show` present it. Host names fall back to the node
// uuid when the node is not in /v1/state/nodes (e.g. it is lost).
struct DatasetRow {
  std::string id;
  std::string name;  // metadata.name, or "" when it has none
  std::optional<uint64_t> size_bytes;
  std::string driver;
  std::string primary_id, primary_host;    // the configured node; "" when none
  std::string attached_id, attached_host;  // where the state says it is attached; "" when nowhere
  std::string path;                        // the mount path on the attached node; "" when unknown
  bool deleted = false;
  nlohmann::json metadata = nlohmann::json::object();
};

// One row per configured dataset, sorted by name then id; deleted ones only when
// `include_deleted`. Entries of the wrong shape are skipped.
std::vector<DatasetRow> join_datasets(const nlohmann::json& configuration,
                                      const nlohmann::json& state, const nlohmann::json& nodes,
                                      bool include_deleted);

// The configuration entry whose dataset_id is `id_or_name`, else the only live (not deleted)
// one whose metadata.name is. kNotFound when there is none; kInvalidArgument when the name
// belongs to several. The message says what to do.
Result<nlohmann::json> find_dataset(const nlohmann::json& configuration,
                                    const std::string& id_or_name);

// The node object in `nodes` whose `id_key` field ("id" for /berth/v1/nodes, "uuid" for
// /v1/state/nodes) equals `id_or_hostname`, else the only one whose hostname does.
// kNotFound when there is none; kInvalidArgument when the hostname names several nodes.
Result<nlohmann::json> find_node(const nlohmann::json& nodes, const char* id_key,
                                 const std::string& id_or_hostname);

// The hostname /v1/state/nodes gives for `uuid`; the uuid itself when it is not listed.
std::string hostname_of(const nlohmann::json& nodes, const std::string& uuid);

// The node /v1/state/datasets says `dataset_id` is attached on; "" when nowhere.
std::string attached_node(const nlohmann::json& state, const std::string& dataset_id);

}  // namespace berth::cli
