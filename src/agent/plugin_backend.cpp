#include "agent/plugin_backend.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "http/http.h"
#include "json/bounded.h"

namespace berth::agent {
namespace {

std::string describe(const http::ClientResponse& r) {
  auto body = json::parse_or_discarded(r.body);
  if (body.is_object()) {
    if (body.contains("description")) return body["description"].get<std::string>();
    if (body.contains("message")) return body["message"].get<std::string>();
  }
  return "HTTP " + std::to_string(r.status);
}

}  // namespace

Result<uint64_t> parse_volume_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double factor = 1;
  if (unit == "" || unit == "B")
    factor = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    factor = 1024.0;
  else if (unit == "M" || unit == "MiB" || unit == "m")
    factor = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB" || unit == "g")
    factor = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TiB" || unit == "t")
    factor = 1024.0 * 1024 * 1024 * 1024;
  else
    used = 0;
  if (used == 0 || value <= 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "invalid size '" + text + "': use bytes or a K, M, G or T suffix, e.g. size=1G");
  }
  return static_cast<uint64_t>(value * factor) / 1024 * 1024;
}

DatasetPluginBackend::DatasetPluginBackend(std::string master_url, DatasetManager& datasets,
                                           std::string volume_prefix)
    : masters_(master_url), datasets_(datasets), volume_prefix_(std::move(volume_prefix)) {}

std::optional<std::string> DatasetPluginBackend::dataset_name(const std::string& volume) const {
  if (volume.size() <= volume_prefix_.size() ||
      volume.compare(0, volume_prefix_.size(), volume_prefix_) != 0) {
    return std::nullopt;
  }
  return volume.substr(volume_prefix_.size());
}

void DatasetPluginBackend::set_node_id(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  node_id_ = node_id;
}

void DatasetPluginBackend::set_credential(const std::string& agent_secret) {
  std::lock_guard<std::mutex> lock(mu_);
  credential_ = agent_secret;
}

Result<http::ClientResponse> DatasetPluginBackend::call_master(const std::string& method,
                                                               const std::string& target,
                                                               const std::string& body,
                                                               int timeout_ms) {
  std::string credential;
  {
    std::lock_guard<std::mutex> lock(mu_);
    credential = credential_;
  }
  return masters_.request(method, target, body, timeout_ms,
                          {{"Authorization", "Bearer " + credential}});
}

void DatasetPluginBackend::refresh() {
  auto res = call_master("GET", "/v1/configuration/datasets", "", 2000);
  if (!res || res->status != 200) return;
  auto body = json::parse_or_discarded(res->body);
  if (!body.is_array()) return;
  std::map<std::string, Entry> fresh;
  for (const auto& d : body) {
    if (d.value("deleted", false) || !d.contains("metadata")) continue;
    std::string name = d["metadata"].value("name", "");
    if (name.empty()) continue;
    fresh[name] = Entry{d.value("dataset_id", ""), d.value("primary", "")};
  }
  std::lock_guard<std::mutex> lock(mu_);
  by_name_ = std::move(fresh);
}

std::optional<DatasetPluginBackend::Entry> DatasetPluginBackend::lookup(const std::string& volume) {
  auto name = dataset_name(volume);
  if (!name) return std::nullopt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_name_.find(*name);
    if (it != by_name_.end()) return it->second;
  }
  return std::nullopt;
}

plugin::PluginVolume DatasetPluginBackend::view(const std::string& name, const Entry& entry) const {
  plugin::PluginVolume v;
  v.name = name;
  auto path = datasets_.usable_path(entry.dataset_id);
  if (path) v.mountpoint = *path;
  v.status = {{"dataset_id", entry.dataset_id}, {"primary", entry.primary}};
  return v;
}

Status DatasetPluginBackend::create(const std::string& name,
                                    const std::map<std::string, std::string>& options) {
  auto dataset = dataset_name(name);
  if (!dataset) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "volume names of this plugin start with '" + volume_prefix_ + "' (then the dataset name)");
  }
  nlohmann::json body = {{"metadata", {{"name", *dataset}}}};
  for (const auto& [key, value] : options) {
    if (key == "size") {
      auto size = parse_volume_size(value);
      if (!size) return size.error();
      body["maximum_size"] = *size;
    } else if (key == "driver") {
      body["driver"] = value;
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown option '" + key + "': berth volumes take size and driver");
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    body["primary"] = node_id_;
  }
  auto res = call_master("POST", "/v1/configuration/datasets", body.dump(), 10000);
  if (!res) return res.error();
  if (res->status != 201 && !(res->status == 409 && lookup(name))) {
    std::string why = describe(*res);
    // A dataset of that name that this cache has not seen yet is fine too.
    if (res->status == 409 && why.find("already exists") != std::string::npos) {
      refresh();
      return {};
    }
    return make_error(res->status == 400 ? ErrorCode::kInvalidArgument : ErrorCode::kConflict, why);
  }
  refresh();
  return {};
}

Status DatasetPluginBackend::remove(const std::string& name) {
  auto entry = lookup(name);
  if (!entry) return make_error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  std::string me;
  {
    std::lock_guard<std::mutex> lock(mu_);
    me = node_id_;
  }
  // A container here that just let the volume go (`docker run --rm` then `docker volume rm`) is
  // still "in use" to the master until this node's next heartbeat, which the release already
  // asked for: while nothing here uses it, retry for a few heartbeats before refusing.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (true) {
    auto res = call_master("DELETE", "/v1/configuration/datasets/" + entry->dataset_id, "", 10000);
    if (!res) return res.error();
    if (res->status == 200) break;
    std::string why = describe(*res);
    bool stale_here = res->status == 409 && entry->primary == me &&
                      why.find(" is in use on node ") != std::string::npos &&
                      !datasets_.in_use(entry->dataset_id);
    if (!stale_here || std::chrono::steady_clock::now() >= deadline) {
      return make_error(ErrorCode::kConflict, why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  refresh();
  return {};
}

std::optional<plugin::PluginVolume> DatasetPluginBackend::get(const std::string& name) {
  auto entry = lookup(name);
  if (!entry) return std::nullopt;
  return view(name, *entry);
}

std::vector<plugin::PluginVolume> DatasetPluginBackend::list() {
  std::map<std::string, Entry> copy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    copy = by_name_;
  }
  std::vector<plugin::PluginVolume> out;
  for (const auto& [name, entry] : copy) out.push_back(view(volume_prefix_ + name, entry));
  return out;
}

Result<std::string> DatasetPluginBackend::mount(const std::string& name,
                                                const std::string& mount_id,
                                                std::chrono::steady_clock::time_point deadline) {
  (void)mount_id;
  auto entry = lookup(name);
  if (!entry) {
    refresh();
    entry = lookup(name);
  }
  if (!entry) return make_error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  std::string me;
  {
    std::lock_guard<std::mutex> lock(mu_);
    me = node_id_;
  }
  if (entry->primary != me) {
    auto res = call_master("POST", "/v1/configuration/datasets/" + entry->dataset_id,
                           nlohmann::json{{"primary", me}}.dump(), 10000);
    if (!res) return res.error();
    if (res->status != 200) {
      return make_error(ErrorCode::kConflict,
                        "volume " + name + " cannot move to this node: " + describe(*res));
    }
    refresh();
  }
  // Mark it in use first, so that once attached here it is never detached under the container.
  datasets_.acquire(entry->dataset_id, "docker");
  // The wait may last: the plugin server's other calls take other threads meanwhile.
  http::WaitingScope waiting;
  while (true) {
    auto path = datasets_.usable_path(entry->dataset_id);
    if (path) return *path;
    if (std::chrono::steady_clock::now() >= deadline) {
      datasets_.release(entry->dataset_id, "docker");
      return make_error(ErrorCode::kUnavailable,
                        "volume " + name + " is not attached here yet: " + path.error().message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

Status DatasetPluginBackend::unmount(const std::string& name, const std::string& mount_id) {
  (void)mount_id;
  auto entry = lookup(name);
  if (!entry) return {};
  datasets_.release(entry->dataset_id, "docker");
  return {};
}

Result<std::string> DatasetPluginBackend::path(const std::string& name) {
  auto entry = lookup(name);
  if (!entry) return make_error(ErrorCode::kNotFound, "volume " + name + " does not exist");
  return datasets_.usable_path(entry->dataset_id);
}

}  // namespace berth::agent
