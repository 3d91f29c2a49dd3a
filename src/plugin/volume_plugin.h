// The Docker volume plugin protocol v1 (docs/compatibility.md §4) over a VolumeBackend.
// Every berth agent serves it at /run/docker/plugins/berth.sock (http::serve_unix), so
// `docker run --volume-driver berth -v name:/data` and Marathon apps with dvdi volumes work.
//
// Endpoints (all POST, JSON bodies, HTTP 200 by default even for errors, which Docker then
// shows verbatim): /Plugin.Activate, /VolumeDriver.{Create,Remove,Mount,Unmount,Path,Get,
// List,Capabilities}. Other paths get 404, which Docker reads as "not implemented".
//
// Mount ids are tracked here, not in the backend: Docker sends a fresh random id per Mount
// and the same id on the matching Unmount. The plugin keeps the set of active ids per volume
// and calls backend.mount() for each new id (serialised per volume) but backend.unmount()
// only when the last active id goes. A repeated Mount of an active id returns the same path
// without calling the backend; an Unmount of an unknown id (a repeat, or one from before an
// agent restart) succeeds without calling it. Ids whose Unmount never comes (Docker timed
// out, daemon crash) stay active until the agent releases them through unmount() after
// comparing active_mounts() with Docker's containers (docs/compatibility.md §4.2).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "http/http.h"
#include "plugin/volume_backend.h"

namespace berth::plugin {

struct PluginOptions {
  // The deadline passed to backend.mount(): Docker abandons a Mount at 120 s without ever
  // sending its Unmount, so the answer must come well before that.
  std::chrono::milliseconds mount_budget = std::chrono::seconds(100);
  // HTTP status of replies that carry an Err. With 200 Docker shows the text as is; with 500
  // it prefixes it with the method ("VolumeDriver.Mount: ..."). Both work (docs/compatibility.md
  // §4.2).
  int error_status = 200;
  // Active mount ids one volume may have; further Mounts get an Err. Bounds the id sets
  // when Unmounts go missing.
  size_t max_mounts_per_volume = 1024;
  // Source of the Mount deadline; nullptr means the system's steady clock.
  const Clock* clock = nullptr;
};

// Validates a Docker volume name: [A-Za-z0-9][A-Za-z0-9_.-]+, at most 255 bytes (Docker's
// local driver's rule; names become paths, so nothing else is let through).
Status validate_volume_name(const std::string& name);

class VolumePlugin {
 public:
  explicit VolumePlugin(VolumeBackend& backend, PluginOptions options = {});

  // Answers one plugin protocol request. Thread-safe; blocks for as long as the backend does.
  http::Response handle(const http::Request& request);

  // Docker's active mount ids per volume on this node, for orphan reconciliation.
  std::map<std::string, std::set<std::string>> active_mounts() const;
  // Releases one mount id as Docker's Unmount would (calling backend.unmount() if it was the
  // last). Ok for unknown ids.
  Status unmount(const std::string& name, const std::string& mount_id);

 private:
  // One volume with active or in-flight mounts. `backend_mu` serialises backend.mount() and
  // backend.unmount() for the volume; `busy` counts requests that hold a pointer to this
  // state, so it is erased only when nobody uses it.
  struct MountState {
    std::mutex backend_mu;
    std::set<std::string> ids;  // guarded by VolumePlugin::mu_
    std::string mountpoint;     // guarded by VolumePlugin::mu_
    int busy = 0;               // guarded by VolumePlugin::mu_
  };

  Result<std::string> mount(const std::string& name, const std::string& mount_id);
  std::shared_ptr<MountState> acquire(const std::string& name);
  void release(const std::string& name, const std::shared_ptr<MountState>& state);
  MonoTime now() const;

  VolumeBackend& backend_;
  PluginOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<MountState>> mounts_;
};

// The HTTP handler for http::serve_unix: a VolumePlugin owned by the returned handler.
// `backend` must outlive it.
http::Handler make_volume_plugin_handler(VolumeBackend& backend, PluginOptions options = {});

}  // namespace berth::plugin
