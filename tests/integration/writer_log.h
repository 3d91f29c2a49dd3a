// Test helpers for writers that append their task id to a log on their dataset: where the
// dataset is mounted, the log's lines, and the check that no two writers interleaved (which
// would mean two nodes wrote the dataset at once).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/cluster.h"

namespace berth::testing {

// A MESOS container with the berth dataset `volume` at /data (a dvdi external volume).
// `driver` (shared, loop, local) becomes the dataset's `berth/driver`; "" leaves the master's.
inline nlohmann::json mesos_container_with_volume(const std::string& volume,
                                                  const std::string& driver = "") {
  nlohmann::json options = {{"dvdi/driver", "berth"}};
  if (!driver.empty()) options["berth/driver"] = driver;
  return {{"type", "MESOS"},
          {"volumes",
           {{{"containerPath", "/data"},
             {"mode", "RW"},
             {"external", {{"name", volume}, {"provider", "dvdi"}, {"options", options}}}}}}};
}

// An app whose task appends its task id to `log` on the dataset `volume` five times a second:
// the writer the fencing checks read back.
inline std::string writer_app(const std::string& id, const std::string& volume,
                              const std::string& driver = "") {
  return nlohmann::json{
      {"id", id},
      {"cmd", "while true; do echo $MESOS_TASK_ID >> $BERTH_VOLUME_DATA/log; sleep 0.2; done"},
      {"cpus", 0.1},
      {"mem", 32},
      {"container", mesos_container_with_volume(volume, driver)}}
      .dump();
}

// Where the dataset named `volume` is attached now, per the master's state; "" when nowhere.
inline std::string dataset_mount_path(Cluster& cluster, const std::string& volume) {
  std::string id;
  auto config = cluster.call("GET", "/v1/configuration/datasets");
  if (!config.body.is_array()) return "";  // no master answered, or not with the list
  for (const auto& d : config.body) {
    if (d["metadata"].value("name", "") == volume) id = d["dataset_id"].get<std::string>();
  }
  auto state = cluster.call("GET", "/v1/state/datasets");
  if (!state.body.is_array()) return "";
  for (const auto& d : state.body) {
    if (d["dataset_id"].get<std::string>() == id && d.contains("path"))
      return d["path"].get<std::string>();
  }
  return "";
}

inline std::vector<std::string> read_log_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Fails when a task id reappears after another task wrote.
inline void expect_single_writer_at_a_time(const std::vector<std::string>& lines) {
  std::set<std::string> finished;
  std::string current;
  for (const auto& line : lines) {
    if (line == current) continue;
    ASSERT_FALSE(finished.count(line))
        << "task " << line << " wrote again after " << current << ": two nodes wrote the dataset";
    if (!current.empty()) finished.insert(current);
    current = line;
  }
}

}  // namespace berth::testing
