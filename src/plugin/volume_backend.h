// VolumeBackend: what the Docker volume plugin (volume_plugin.h) asks of the node it runs
// on. The agent implements it over its datasets; tests use a fake. The plugin validates
// names (Docker's volume name rules) and mount ids before calling, tracks Docker's mount ids
// itself, and turns every error here into the `Err` text Docker shows the user, so messages
// should name the volume and say what to do.
//
// Threading: methods are called from the plugin server's connection threads, so concurrently
// for different volumes. For one volume the plugin serialises mount() and unmount(); create,
// remove, get, list and path may run alongside them.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::plugin {

struct PluginVolume {
  std::string name;
  std::string mountpoint;  // absolute host path; empty unless the volume is mounted on this node
  std::map<std::string, std::string> status;  // shown by `docker volume inspect` under Status
};

class VolumeBackend {
 public:
  virtual ~VolumeBackend() = default;

  // Creates volume `name` with Docker's `-o k=v` options (empty when none were given).
  // kInvalidArgument for options it does not understand; kConflict when the name is taken in a
  // way the options contradict. Creating an existing volume with compatible options is ok.
  virtual Status create(const std::string& name,
                        const std::map<std::string, std::string>& options) = 0;
  // Removes the volume and its data. kNotFound when absent; kConflict while in use anywhere.
  virtual Status remove(const std::string& name) = 0;
  // The volume, or nullopt when it does not exist. Docker calls this before every other call,
  // so it is answered from local state and must be fast (no network round trip).
  virtual std::optional<PluginVolume> get(const std::string& name) = 0;
  // Every volume known to the cluster, answered from local state, fast.
  virtual std::vector<PluginVolume> list() = 0;
  // Makes the volume usable on this node (attaching it here, moving it if it is idle on
  // another node) and returns its absolute host path. Called for each new Docker mount id
  // while earlier ones may still be active, so it must be idempotent while the volume is
  // mounted here. Must answer before `deadline` (Docker gives up at 120 s and never sends the
  // matching Unmount); slow work that cannot finish by then returns kUnavailable and goes on
  // in the background. kConflict, with a message naming the node, when the volume is in
  // exclusive use on another node; kNotFound when it does not exist.
  virtual Result<std::string> mount(const std::string& name, const std::string& mount_id,
                                    std::chrono::steady_clock::time_point deadline) = 0;
  // Called once the last Docker mount id of the volume on this node is released (with that
  // id); the backend may detach it. Not called for mount ids the plugin does not know.
  virtual Status unmount(const std::string& name, const std::string& mount_id) = 0;
  // The host path of a volume mounted here. kNotFound when it does not exist; kUnavailable
  // (saying where it is) when it is not mounted on this node.
  virtual Result<std::string> path(const std::string& name) = 0;
};

}  // namespace berth::plugin
