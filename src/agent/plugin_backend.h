// The Docker volume plugin's view of datasets on this agent (docs/compatibility.md §4): Docker
// volume names are dataset names (metadata "name"). Get and List are answered from a cache
// refreshed with the heartbeats; Create, Remove and a Mount that must move a dataset here go to the
// master's Flocker API; a Mount then waits for the dataset loop to attach it. A mounted volume is
// in use, so it is never detached under a container, and the master refuses to move it elsewhere.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "agent/dataset_manager.h"
#include "agent/master_endpoints.h"
#include "http/http.h"
#include "plugin/volume_backend.h"

namespace berth::agent {

class DatasetPluginBackend final : public plugin::VolumeBackend {
 public:
  // Docker volume names are `volume_prefix` + the dataset's name ("" normally; agents sharing
  // one dockerd use distinct prefixes). Names without the prefix are unknown here.
  DatasetPluginBackend(std::string master_url, DatasetManager& datasets,
                       std::string volume_prefix = "");

  void set_node_id(const std::string& node_id);
  // The agent's secret from its registration: the master's Flocker API needs a credential.
  void set_credential(const std::string& agent_secret);
  // Re-reads the dataset configuration from the master (a few ms); called periodically.
  void refresh();

  Status create(const std::string& name,
                const std::map<std::string, std::string>& options) override;
  Status remove(const std::string& name) override;
  std::optional<plugin::PluginVolume> get(const std::string& name) override;
  std::vector<plugin::PluginVolume> list() override;
  Result<std::string> mount(const std::string& name, const std::string& mount_id,
                            std::chrono::steady_clock::time_point deadline) override;
  Status unmount(const std::string& name, const std::string& mount_id) override;
  Result<std::string> path(const std::string& name) override;

 private:
  struct Entry {
    std::string dataset_id;
    std::string primary;
  };
  std::optional<Entry> lookup(const std::string& name);
  plugin::PluginVolume view(const std::string& name, const Entry& entry) const;

  // The dataset name of a Docker volume name, or nullopt when it lacks the prefix.
  std::optional<std::string> dataset_name(const std::string& volume) const;

  // Calls the master's dataset API with the agent's credential.
  Result<http::ClientResponse> call_master(const std::string& method, const std::string& target,
                                           const std::string& body, int timeout_ms);

  MasterEndpoints masters_;  // the agent's --master list
  std::string credential_;   // guarded by mu_
  DatasetManager& datasets_;
  std::string volume_prefix_;
  std::mutex mu_;
  std::string node_id_;
  std::map<std::string, Entry> by_name_;
};

// Parses Docker's `-o size=...` (bytes or K/M/G/T suffixes); kInvalidArgument names the value.
Result<uint64_t> parse_volume_size(const std::string& text);

}  // namespace berth::agent
