#include "cli/dataset_view.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <string>

namespace berth::cli {
namespace {

constexpr const char* kSizeUnits = "KMGT";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "";
  return object[key].get<std::string>();
}

bool deleted(const nlohmann::json& dataset) {
  return dataset.is_object() && dataset.contains("deleted") && dataset["deleted"].is_boolean() &&
         dataset["deleted"].get<bool>();
}

std::optional<uint64_t> size_field(const nlohmann::json& object) {
  if (!object.is_object() || !object.contains("maximum_size")) return std::nullopt;
  const auto& size = object["maximum_size"];
  if (!size.is_number_integer() || size.get<int64_t>() < 0) return std::nullopt;
  return size.get<uint64_t>();
}

std::string name_of(const nlohmann::json& dataset) {
  return dataset.is_object()
             ? string_field(dataset.value("metadata", nlohmann::json::object()), "name")
             : "";
}

// The entry of /v1/state/datasets for `dataset_id`, or null.
nlohmann::json state_entry(const nlohmann::json& state, const std::string& dataset_id) {
  if (!state.is_array()) return nullptr;
  for (const auto& entry : state) {
    if (string_field(entry, "dataset_id") == dataset_id) return entry;
  }
  return nullptr;
}

std::string joined_ids(const std::vector<nlohmann::json>& objects, const char* id_key) {
  std::string text;
  for (const auto& object : objects)
    text += (text.empty() ? "" : ", ") + string_field(object, id_key);
  return text;
}

}  // namespace

std::optional<uint64_t> parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 20) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (digits == text.size()) return value;
  const char* unit = std::char_traits<char>::find(
      kSizeUnits, 4, static_cast<char>(std::toupper(static_cast<unsigned char>(text[digits]))));
  std::string rest = lower(text.substr(digits + 1));
  if (unit == nullptr || !(rest.empty() || rest == "b" || rest == "ib")) return std::nullopt;
  int shift = 10 * static_cast<int>(unit - kSizeUnits + 1);
  if (value > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

std::string human_size(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + "B";
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%c", value, kSizeUnits[unit]);
  return text;
}

std::vector<DatasetRow> join_datasets(const nlohmann::json& configuration,
                                      const nlohmann::json& state, const nlohmann::json& nodes,
                                      bool include_deleted) {
  std::vector<DatasetRow> rows;
  if (!configuration.is_array()) return rows;
  for (const auto& dataset : configuration) {
    DatasetRow row;
    row.id = string_field(dataset, "dataset_id");
    if (row.id.empty()) continue;
    row.deleted = deleted(dataset);
    if (row.deleted && !include_deleted) continue;
    row.name = name_of(dataset);
    if (dataset.contains("metadata") && dataset["metadata"].is_object())
      row.metadata = dataset["metadata"];
    row.driver = string_field(dataset, "driver");
    row.primary_id = string_field(dataset, "primary");
    if (!row.primary_id.empty()) row.primary_host = hostname_of(nodes, row.primary_id);
    const nlohmann::json observed = state_entry(state, row.id);
    row.size_bytes = size_field(dataset);
    if (!row.size_bytes) row.size_bytes = size_field(observed);
    row.attached_id = string_field(observed, "primary");
    if (!row.attached_id.empty()) row.attached_host = hostname_of(nodes, row.attached_id);
    row.path = string_field(observed, "path");
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const DatasetRow& a, const DatasetRow& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  });
  return rows;
}

Result<nlohmann::json> find_dataset(const nlohmann::json& configuration,
                                    const std::string& id_or_name) {
  std::vector<nlohmann::json> named;
  if (configuration.is_array()) {
    for (const auto& dataset : configuration) {
      if (string_field(dataset, "dataset_id") == id_or_name) return dataset;
      if (!deleted(dataset) && name_of(dataset) == id_or_name) named.push_back(dataset);
    }
  }
  if (named.size() == 1) return named.front();
  if (named.empty()) {
    return make_error(ErrorCode::kNotFound, "no dataset has the id or name '" + id_or_name +
                                                "'; `berth dataset list` shows them");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "the name '" + id_or_name + "' belongs to " + std::to_string(named.size()) +
                        " datasets (" + joined_ids(named, "dataset_id") + "); give the id instead");
}

Result<nlohmann::json> find_node(const nlohmann::json& nodes, const char* id_key,
                                 const std::string& id_or_hostname) {
  std::vector<nlohmann::json> named;
  if (nodes.is_array()) {
    for (const auto& node : nodes) {
      if (string_field(node, id_key) == id_or_hostname) return node;
      if (string_field(node, "hostname") == id_or_hostname) named.push_back(node);
    }
  }
  if (named.size() == 1) return named.front();
  if (named.empty()) {
    return make_error(ErrorCode::kNotFound, "no node has the id or hostname '" + id_or_hostname +
                                                "'; `berth node list` shows them");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "the hostname '" + id_or_hostname + "' names " + std::to_string(named.size()) +
                        " nodes (" + joined_ids(named, id_key) + "); give the node id instead");
}

std::string hostname_of(const nlohmann::json& nodes, const std::string& uuid) {
  if (nodes.is_array()) {
    for (const auto& node : nodes) {
      if (string_field(node, "uuid") != uuid) continue;
      std::string hostname = string_field(node, "hostname");
      return hostname.empty() ? uuid : hostname;
    }
  }
  return uuid;
}

std::string attached_node(const nlohmann::json& state, const std::string& dataset_id) {
  return string_field(state_entry(state, dataset_id), "primary");
}

}  // namespace berth::cli
