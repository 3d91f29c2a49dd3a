// The Docker volume plugin's request handler (plugin/volume_plugin.h) over an in-memory
// backend, driven the way the plugin socket's server calls it. An input is one or more
// requests separated by a line "----"; each is a target line (e.g. /VolumeDriver.Mount) and
// the body after it, so a sequence (Create, Mount, Mount, Unmount, Remove) reaches the mount
// bookkeeping. Every answer must be JSON with a string "Err" when it fails.
#include <map>
#include <set>
#include <string>

#include "fuzz_input.h"
#include "json/bounded.h"
#include "plugin/volume_plugin.h"

namespace {

using namespace berth;

// Volumes in a map; "fail" in Create's options makes the backend refuse, so error paths run.
class MemoryBackend final : public plugin::VolumeBackend {
 public:
  Status create(const std::string& name,
                const std::map<std::string, std::string>& options) override {
    if (options.count("fail"))
      return make_error(ErrorCode::kInvalidArgument, "option fail for " + name);
    volumes_.emplace(name, options);
    return {};
  }
  Status remove(const std::string& name) override {
    if (mounted_.count(name)) return make_error(ErrorCode::kConflict, name + " is in use");
    if (!volumes_.erase(name)) return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    return {};
  }
  std::optional<plugin::PluginVolume> get(const std::string& name) override {
    if (!volumes_.count(name)) return std::nullopt;
    return volume(name);
  }
  std::vector<plugin::PluginVolume> list() override {
    std::vector<plugin::PluginVolume> out;
    for (const auto& entry : volumes_) out.push_back(volume(entry.first));
    return out;
  }
  Result<std::string> mount(const std::string& name, const std::string&,
                            std::chrono::steady_clock::time_point) override {
    if (!volumes_.count(name)) return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    mounted_.insert(name);
    return "/fake/" + name;
  }
  Status unmount(const std::string& name, const std::string&) override {
    fuzz::require(mounted_.erase(name) == 1, "the plugin unmounts only what it mounted");
    return {};
  }
  Result<std::string> path(const std::string& name) override {
    if (!mounted_.count(name))
      return make_error(ErrorCode::kUnavailable, name + " is not mounted here");
    return "/fake/" + name;
  }

 private:
  plugin::PluginVolume volume(const std::string& name) {
    return {name, mounted_.count(name) ? "/fake/" + name : "", {{"node", "n1"}}};
  }

  std::map<std::string, std::map<std::string, std::string>> volumes_;
  std::set<std::string> mounted_;
};

void handle_one(plugin::VolumePlugin& plugin, std::string_view text) {
  size_t newline = text.find('\n');
  http::Request request;
  request.method = "POST";
  request.target = std::string(text.substr(0, newline));
  if (newline != std::string_view::npos) request.body = std::string(text.substr(newline + 1));
  http::split_target(request.target, &request.path, &request.query);
  http::Response response = plugin.handle(request);
  Result<nlohmann::json> answer = json::parse(response.body);
  fuzz::require(answer.ok() && answer->is_object(), "the plugin answers a JSON object");
  if (answer.ok() && answer->contains("Err")) {
    fuzz::require((*answer)["Err"].is_string(), "Err is a string");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemoryBackend backend;
  plugin::PluginOptions options;
  options.max_mounts_per_volume = 3;
  plugin::VolumePlugin plugin(backend, options);
  std::string_view input = fuzz::as_text(data, size);
  constexpr std::string_view kSeparator = "\n----\n";
  for (int requests = 0; requests < 32; ++requests) {
    size_t end = input.find(kSeparator);
    handle_one(plugin, input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + kSeparator.size());
  }
  // Everything still mounted goes through the release path an agent uses at reconciliation.
  for (const auto& [name, ids] : plugin.active_mounts()) {
    for (const std::string& id : ids)
      fuzz::require(plugin.unmount(name, id).ok(), "releasing a mount id succeeds");
  }
  fuzz::require(plugin.active_mounts().empty(), "no mount id is left after releasing them all");
  return 0;
}
