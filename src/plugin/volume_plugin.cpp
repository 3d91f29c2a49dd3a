#include "plugin/volume_plugin.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "json/bounded.h"

namespace berth::plugin {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxMountIdBytes = 128;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_name_char(char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; }

Status validate_mount_id(const std::string& id) {
  bool ok = !id.empty() && id.size() <= kMaxMountIdBytes;
  for (char c : id) ok = ok && is_name_char(c);
  if (ok) return {};
  return make_error(
      ErrorCode::kInvalidArgument,
      "invalid mount ID '" + id.substr(0, kMaxMountIdBytes) +
          "': expected 1 to 128 letters, digits, '_', '.' or '-' (Docker sends 64 hex digits)");
}

bool is_absolute_path(const std::string& path) { return !path.empty() && path.front() == '/'; }

// The fields of one request body, checked. `method` names the endpoint in messages.
class Body {
 public:
  static Result<Body> parse(const std::string& method, const std::string& text) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "empty request body for " + method +
              "; Docker sends one when it retries a dropped request (moby#39331), so nothing "
              "was done; retry the docker command");
    }
    Result<json> parsed = berth::json::parse(text);
    if (!parsed.ok()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "request body for " + method + " is not a JSON object: " + parsed.error().message);
    }
    if (!parsed->is_object()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          "request body for " + method + " is not a JSON object: '" + text.substr(0, 200) + "'");
    }
    return Body(method, std::move(parsed).value());
  }

  // The volume name in "Name", validated.
  Result<std::string> name() const {
    auto it = json_.find("Name");
    if (it == json_.end() || !it->is_string()) {
      return make_error(ErrorCode::kInvalidArgument, method_ + " request has no \"Name\" string");
    }
    std::string name = it->get<std::string>();
    Status valid = validate_volume_name(name);
    if (!valid) return valid.error();
    return name;
  }

  // The mount id in "ID", validated.
  Result<std::string> mount_id() const {
    auto it = json_.find("ID");
    if (it == json_.end() || !it->is_string()) {
      return make_error(ErrorCode::kInvalidArgument, method_ + " request has no \"ID\" string");
    }
    std::string id = it->get<std::string>();
    Status valid = validate_mount_id(id);
    if (!valid) return valid.error();
    return id;
  }

  // "Opts": null or absent means none; otherwise an object of strings.
  Result<std::map<std::string, std::string>> options() const {
    std::map<std::string, std::string> options;
    auto it = json_.find("Opts");
    if (it == json_.end() || it->is_null()) return options;
    if (!it->is_object())
      return make_error(ErrorCode::kInvalidArgument, "\"Opts\" must be an object of strings");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return make_error(ErrorCode::kInvalidArgument, "option '" + key +
                                                           "' must be a string, got " +
                                                           berth::json::dump(value).substr(0, 200));
      }
      options[key] = value.get<std::string>();
    }
    return options;
  }

 private:
  Body(std::string method, json parsed) : method_(std::move(method)), json_(std::move(parsed)) {}

  std::string method_;
  json json_;
};

json volume_json(const PluginVolume& volume) {
  json out = {{"Name", volume.name}};
  if (!volume.mountpoint.empty()) out["Mountpoint"] = volume.mountpoint;
  if (!volume.status.empty()) out["Status"] = volume.status;
  return out;
}

}  // namespace

Status validate_volume_name(const std::string& name) {
  bool ok = name.size() >= 2 && name.size() <= kMaxNameBytes && is_alnum(name[0]);
  for (char c : name) ok = ok && is_name_char(c);
  if (ok) return {};
  return make_error(
      ErrorCode::kInvalidArgument,
      "invalid volume name '" + name.substr(0, kMaxNameBytes) +
          "': use 2 to 255 letters, digits, '_', '.' or '-', starting with a letter or digit");
}

VolumePlugin::VolumePlugin(VolumeBackend& backend, PluginOptions options)
    : backend_(backend), options_(std::move(options)) {}

MonoTime VolumePlugin::now() const {
  return options_.clock ? options_.clock->mono_now() : std::chrono::steady_clock::now();
}

http::Response VolumePlugin::handle(const http::Request& request) {
  const std::string& path = request.path;
  // berth::json::dump, because messages quote what Docker sent cut to a length, which can
  // split a UTF-8 sequence; nlohmann's own dump would throw on it.
  auto reply = [](const json& body) {
    return http::Response{200, "application/json", {}, berth::json::dump(body)};
  };
  auto fail = [this](const std::string& message) {
    return http::Response{
        options_.error_status, "application/json", {}, berth::json::dump(json{{"Err", message}})};
  };
  auto fail_error = [&](const Error& error) { return fail(error.message); };

  if (path == "/Plugin.Activate") return reply({{"Implements", {"VolumeDriver"}}});
  if (path == "/VolumeDriver.Capabilities") return reply({{"Capabilities", {{"Scope", "global"}}}});
  if (path == "/VolumeDriver.List") {
    json volumes = json::array();
    for (const auto& volume : backend_.list()) volumes.push_back(volume_json(volume));
    return reply({{"Volumes", volumes}, {"Err", ""}});
  }
  static const std::set<std::string> kWithName = {"/VolumeDriver.Create", "/VolumeDriver.Remove",
                                                  "/VolumeDriver.Mount",  "/VolumeDriver.Unmount",
                                                  "/VolumeDriver.Path",   "/VolumeDriver.Get"};
  if (!kWithName.count(path)) {
    json err{{"Err", "unknown endpoint '" + path + "'; this plugin implements VolumeDriver"}};
    return http::Response{404, "application/json", {}, berth::json::dump(err)};
  }

  auto body = Body::parse(path.substr(1), request.body);
  if (!body) return fail_error(body.error());
  auto name = body->name();
  if (!name) return fail_error(name.error());

  if (path == "/VolumeDriver.Get") {
    auto volume = backend_.get(*name);
    if (!volume) return fail("no such volume: " + *name);
    return reply({{"Volume", volume_json(*volume)}, {"Err", ""}});
  }
  if (path == "/VolumeDriver.Create") {
    auto options = body->options();
    if (!options) return fail_error(options.error());
    Status created = backend_.create(*name, *options);
    if (!created) return fail_error(created.error());
    return reply({{"Err", ""}});
  }
  if (path == "/VolumeDriver.Remove") {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = mounts_.find(*name);
      if (it != mounts_.end() && !it->second->ids.empty()) {
        return fail("volume '" + *name + "' is still mounted on this node (" +
                    std::to_string(it->second->ids.size()) +
                    " active mount(s)); stop the containers using it first");
      }
    }
    Status removed = backend_.remove(*name);
    if (!removed) return fail_error(removed.error());
    return reply({{"Err", ""}});
  }
  if (path == "/VolumeDriver.Path") {
    auto host_path = backend_.path(*name);
    if (!host_path) return fail_error(host_path.error());
    if (!is_absolute_path(*host_path)) {
      return fail("volume '" + *name + "' has no absolute host path (got '" + *host_path + "')");
    }
    return reply({{"Mountpoint", *host_path}, {"Err", ""}});
  }

  auto mount_id = body->mount_id();
  if (!mount_id) return fail_error(mount_id.error());
  if (path == "/VolumeDriver.Mount") {
    auto mounted = mount(*name, *mount_id);
    if (!mounted) return fail_error(mounted.error());
    return reply({{"Mountpoint", *mounted}, {"Err", ""}});
  }
  Status unmounted = unmount(*name, *mount_id);  // /VolumeDriver.Unmount
  if (!unmounted) return fail_error(unmounted.error());
  return reply({{"Err", ""}});
}

std::shared_ptr<VolumePlugin::MountState> VolumePlugin::acquire(const std::string& name) {
  // Called with mu_ held.
  auto& state = mounts_[name];
  if (!state) state = std::make_shared<MountState>();
  ++state->busy;
  return state;
}

void VolumePlugin::release(const std::string& name, const std::shared_ptr<MountState>& state) {
  std::lock_guard<std::mutex> lock(mu_);
  --state->busy;
  // Nobody else holds a pointer once busy is 0 (pointers are only taken under mu_ through
  // acquire), so the entry can go without breaking backend_mu's serialisation.
  if (state->busy == 0 && state->ids.empty()) mounts_.erase(name);
}

Result<std::string> VolumePlugin::mount(const std::string& name, const std::string& mount_id) {
  std::shared_ptr<MountState> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mounts_.find(name);
    if (it != mounts_.end() && it->second->ids.count(mount_id)) return it->second->mountpoint;
    if (it != mounts_.end() && it->second->ids.size() >= options_.max_mounts_per_volume) {
      return make_error(
          ErrorCode::kConflict,
          "volume '" + name + "' already has " + std::to_string(it->second->ids.size()) +
              " active mounts on this node, the most allowed; stop containers using it");
    }
    state = acquire(name);
  }
  MonoTime deadline = now() + options_.mount_budget;
  std::optional<Result<std::string>> result;
  {
    std::lock_guard<std::mutex> backend_lock(state->backend_mu);
    {
      // A repeat of this id may have finished while we waited for the volume.
      std::lock_guard<std::mutex> lock(mu_);
      if (state->ids.count(mount_id)) result.emplace(state->mountpoint);
    }
    if (!result) {
      result.emplace(backend_.mount(name, mount_id, deadline));
      if (result->ok() && !is_absolute_path(result->value())) {
        result.emplace(make_error(ErrorCode::kInternal, "the backend gave volume '" + name +
                                                            "' no absolute host path (got '" +
                                                            result->value() + "')"));
      }
      if (result->ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        state->ids.insert(mount_id);
        state->mountpoint = result->value();
      }
    }
  }
  release(name, state);
  return std::move(*result);
}

Status VolumePlugin::unmount(const std::string& name, const std::string& mount_id) {
  std::shared_ptr<MountState> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mounts_.find(name);
    // Unknown ids are a repeated Unmount or one from before a restart: nothing to release.
    if (it == mounts_.end() || it->second->ids.erase(mount_id) == 0) return {};
    if (!it->second->ids.empty()) return {};  // other containers still use the volume here
    state = acquire(name);
  }
  Status status;
  {
    std::lock_guard<std::mutex> backend_lock(state->backend_mu);
    bool still_used;
    {
      // A Mount that held backend_mu before us may have added an id back.
      std::lock_guard<std::mutex> lock(mu_);
      still_used = !state->ids.empty();
    }
    if (!still_used) status = backend_.unmount(name, mount_id);
  }
  release(name, state);
  return status;
}

std::map<std::string, std::set<std::string>> VolumePlugin::active_mounts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [name, state] : mounts_) {
    if (!state->ids.empty()) out[name] = state->ids;
  }
  return out;
}

http::Handler make_volume_plugin_handler(VolumeBackend& backend, PluginOptions options) {
  auto plugin = std::make_shared<VolumePlugin>(backend, std::move(options));
  return [plugin](const http::Request& request) { return plugin->handle(request); };
}

}  // namespace berth::plugin
