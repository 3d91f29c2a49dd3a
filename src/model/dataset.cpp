#include "model/dataset.h"

#include <nlohmann/json.hpp>

namespace berth::model {
namespace {

Error invalid(const std::string& message) {
  return make_error(ErrorCode::kInvalidArgument, message);
}

Result<std::map<std::string, std::string>> parse_metadata(const nlohmann::json& j) {
  if (!j.is_object()) return invalid("metadata must be an object of strings, got " + j.dump());
  if (j.size() > 16)
    return invalid("metadata has " + std::to_string(j.size()) + " keys; at most 16 are allowed");
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key().empty() || it.key().size() > 256) {
      return invalid("metadata key '" + it.key().substr(0, 64) + "' must be 1 to 256 characters");
    }
    if (!it.value().is_string()) {
      return invalid("metadata value of '" + it.key() + "' must be a string, got " +
                     it.value().dump());
    }
    std::string value = it.value().get<std::string>();
    if (value.size() > 256)
      return invalid("metadata value of '" + it.key() + "' is longer than 256 characters");
    out[it.key()] = value;
  }
  return out;
}

Result<std::optional<uint64_t>> parse_size(const nlohmann::json& j) {
  if (j.is_null()) return std::optional<uint64_t>{};
  if (!j.is_number_integer() || j.get<int64_t>() < 0) {
    return invalid("maximum_size must be a whole number of bytes, got " + j.dump());
  }
  uint64_t size = j.get<uint64_t>();
  Status ok = validate_maximum_size(size);
  if (!ok) return ok.error();
  return std::optional<uint64_t>(size);
}

}  // namespace

bool is_uuid(const std::string& t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = t[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status validate_maximum_size(uint64_t size) {
  if (size < kMinimumDatasetSize) {
    return invalid("maximum_size " + std::to_string(size) + " is too small: at least " +
                   std::to_string(kMinimumDatasetSize) + " bytes (64 MiB)");
  }
  if (size % 1024 != 0) {
    return invalid("maximum_size " + std::to_string(size) + " must be a multiple of 1024");
  }
  return {};
}

Result<Dataset> parse_dataset_create(const nlohmann::json& body, const std::string& generated_id,
                                     const std::string& default_driver) {
  if (!body.is_object())
    return invalid("The provided JSON doesn't match the required schema: expected an object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k != "primary" && k != "dataset_id" && k != "maximum_size" && k != "metadata" &&
        k != "driver") {
      return invalid("unknown field '" + k +
                     "': allowed are primary, dataset_id, maximum_size, metadata, driver");
    }
  }
  Dataset d;
  d.driver = default_driver;
  if (!body.contains("primary") || !body["primary"].is_string() ||
      !is_uuid(body["primary"].get<std::string>())) {
    return invalid("primary is required and must be a node UUID, got " +
                   (body.contains("primary") ? body["primary"].dump() : std::string("nothing")));
  }
  d.primary = body["primary"].get<std::string>();
  if (body.contains("dataset_id")) {
    if (!body["dataset_id"].is_string() || !is_uuid(body["dataset_id"].get<std::string>())) {
      return invalid("dataset_id must be a lowercase UUID, got " + body["dataset_id"].dump());
    }
    d.dataset_id = body["dataset_id"].get<std::string>();
  } else {
    d.dataset_id = generated_id;
  }
  if (body.contains("maximum_size")) {
    auto size = parse_size(body["maximum_size"]);
    if (!size) return size.error();
    d.maximum_size = *size;
  }
  if (body.contains("metadata")) {
    auto md = parse_metadata(body["metadata"]);
    if (!md) return md.error();
    d.metadata = *md;
  }
  if (body.contains("driver")) {
    if (!body["driver"].is_string())
      return invalid("driver must be a string, got " + body["driver"].dump());
    std::string drv = body["driver"].get<std::string>();
    if (drv != "shared" && drv != "loop" && drv != "local") {
      return invalid("unknown driver '" + drv + "': use shared, loop or local");
    }
    d.driver = drv;
  }
  d.epoch = 1;
  return d;
}

Result<DatasetUpdate> parse_dataset_update(const nlohmann::json& body) {
  if (!body.is_object())
    return invalid("The provided JSON doesn't match the required schema: expected an object");
  DatasetUpdate u;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (it.key() == "primary") {
      if (!it.value().is_string() || !is_uuid(it.value().get<std::string>())) {
        return invalid("primary must be a node UUID, got " + it.value().dump());
      }
      u.primary = it.value().get<std::string>();
    } else if (it.key() == "maximum_size") {
      auto size = parse_size(it.value());
      if (!size) return size.error();
      if (!*size) return invalid("maximum_size cannot be removed");
      u.maximum_size = *size;
    } else {
      return invalid("field '" + it.key() +
                     "' cannot be changed: only primary and maximum_size can");
    }
  }
  return u;
}

nlohmann::json dataset_to_json(const Dataset& d) {
  nlohmann::json j = {{"dataset_id", d.dataset_id}, {"primary", d.primary}, {"deleted", d.deleted},
                      {"metadata", d.metadata},     {"driver", d.driver},   {"epoch", d.epoch}};
  if (d.maximum_size) j["maximum_size"] = *d.maximum_size;
  if (!d.moving_from.empty()) j["moving_from"] = d.moving_from;
  return j;
}

Result<Dataset> dataset_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("dataset_id"))
    return invalid("stored dataset lacks dataset_id");
  // berth wrote the copy, but a damaged one must come back as an error: nlohmann's value()
  // throws on a wrong type, and casts a float into `epoch` with undefined behaviour.
  Dataset d;
  auto damaged = [&](const std::string& key, const char* expected) {
    return invalid("stored dataset " + d.dataset_id + " is damaged: " + key + " is not " +
                   expected);
  };
  const std::pair<const char*, std::string*> strings[] = {{"dataset_id", &d.dataset_id},
                                                          {"primary", &d.primary},
                                                          {"driver", &d.driver},
                                                          {"moving_from", &d.moving_from}};
  for (const auto& [key, out] : strings) {
    auto it = j.find(key);
    if (it == j.end()) continue;
    if (!it->is_string()) return damaged(key, "a string");
    *out = it->get<std::string>();
  }
  if (auto it = j.find("deleted"); it != j.end()) {
    if (!it->is_boolean()) return damaged("deleted", "true or false");
    d.deleted = it->get<bool>();
  }
  if (auto it = j.find("epoch"); it != j.end()) {
    if (!it->is_number_unsigned()) return damaged("epoch", "a whole number");
    d.epoch = it->get<uint64_t>();
  }
  if (auto it = j.find("metadata"); it != j.end()) {
    if (!it->is_object()) return damaged("metadata", "an object");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) return damaged("metadata " + key, "a string");
      d.metadata[key] = value.get<std::string>();
    }
  }
  if (j.contains("maximum_size") && j["maximum_size"].is_number_unsigned())
    d.maximum_size = j["maximum_size"].get<uint64_t>();
  return d;
}

}  // namespace berth::model
