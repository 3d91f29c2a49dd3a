#include "agent/dataset_manager.h"

#include <spdlog/spdlog.h>

namespace berth::agent {

namespace {

// The `local` driver's pool is this node's own directory: a dataset it lists is a copy stored
// here even when nobody has it attached. Other drivers list a pool every node sees.
bool stores_copies_here(const std::string& driver) { return driver == "local"; }

void attach(VolumeDriver& driver, const DatasetChange& change, const std::string& node,
            DatasetErrors& errors) {
  auto attached = driver.attach(change.dataset_id, node, change.epoch);
  if (!attached) {
    errors[change.dataset_id] = attached.error().message;
  } else {
    spdlog::info("dataset {} attached at epoch {}: {}", change.dataset_id, change.epoch, *attached);
  }
}

// A dataset that exists already (created by an earlier pass) is attached all the same.
void create_and_attach(VolumeDriver& driver, const DatasetChange& change, const std::string& node,
                       DatasetErrors& errors) {
  auto created = driver.create(change.dataset_id, change.size_bytes);
  if (!created && created.error().code != ErrorCode::kConflict) {
    errors[change.dataset_id] = created.error().message;
    return;
  }
  attach(driver, change, node, errors);
}

void detach(VolumeDriver& driver, const DatasetChange& change, const std::string& node,
            DatasetErrors& errors) {
  Status detached = driver.detach(change.dataset_id, node);
  if (!detached) {
    errors[change.dataset_id] = detached.error().message;
  } else {
    spdlog::info("dataset {} detached", change.dataset_id);
  }
}

// A dataset that is gone already counts as destroyed.
void destroy(VolumeDriver& driver, const DatasetChange& change, DatasetErrors& errors) {
  Status destroyed = driver.destroy(change.dataset_id);
  if (!destroyed && destroyed.error().code != ErrorCode::kNotFound) {
    errors[change.dataset_id] = destroyed.error().message;
  }
}

}  // namespace

DatasetManager::DatasetManager(std::map<std::string, std::unique_ptr<VolumeDriver>> drivers,
                               DatasetReceiver* receiver)
    : drivers_(std::move(drivers)), receiver_(receiver) {}

void DatasetManager::set_node_id(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  node_id_ = node_id;
}

std::vector<LocalDataset> DatasetManager::discover() {
  std::vector<LocalDataset> out;
  std::string node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    node = node_id_;
  }
  for (const auto& [name, driver] : drivers_) {
    auto listed = driver->list();
    if (!listed) {
      spdlog::warn("listing {} datasets failed: {}", name, listed.error().message);
      continue;
    }
    for (const auto& v : *listed) {
      bool attached = v.attached_to && *v.attached_to == node;
      if (!attached && !stores_copies_here(name)) continue;
      LocalDataset l;
      l.dataset_id = v.dataset_id;
      l.driver = name;
      l.attached = attached;
      l.epoch = v.epoch;
      l.in_use = in_use(v.dataset_id);
      out.push_back(l);
    }
  }
  return out;
}

void DatasetManager::fence() {
  std::lock_guard<std::mutex> converging(converge_mu_);
  std::string node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fenced_ = true;
    ++fences_;
    users_.clear();
    node = node_id_;
  }
  for (const auto& l : discover()) {
    if (!l.attached) continue;
    Status detached = drivers_[l.driver]->detach(l.dataset_id, node);
    if (!detached) {
      spdlog::error("fencing: detaching dataset {} failed: {}", l.dataset_id,
                    detached.error().message);
    } else {
      spdlog::warn("fencing: dataset {} detached", l.dataset_id);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  reports_.clear();
}

uint64_t DatasetManager::fences() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fences_;
}

void DatasetManager::unfence() {
  std::lock_guard<std::mutex> lock(mu_);
  fenced_ = false;
}

void DatasetManager::converge(const std::vector<protocol::DatasetAssignment>& desired) {
  std::unique_lock<std::mutex> converging(converge_mu_);
  std::string node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fenced_) return;
    node = node_id_;
  }
  if (node.empty()) return;
  std::vector<LocalDataset> local = discover();
  DatasetErrors errors;
  for (const auto& change : compute_dataset_changes(desired, local)) {
    auto it = drivers_.find(change.driver);
    if (it == drivers_.end()) {
      errors[change.dataset_id] = "driver '" + change.driver + "' is not available on this node";
      continue;
    }
    VolumeDriver& driver = *it->second;
    switch (change.kind) {
      case DatasetChange::Kind::kCreateAndAttach:
        create_and_attach(driver, change, node, errors);
        break;
      case DatasetChange::Kind::kCopyAndAttach:
        if (!copy_and_attach(driver, change, node, converging, errors)) return;
        break;
      case DatasetChange::Kind::kDetach:
        detach(driver, change, node, errors);
        break;
      case DatasetChange::Kind::kDestroy:
        destroy(driver, change, errors);
        break;
    }
  }
  for (const auto& [id, message] : errors) spdlog::warn("dataset {}: {}", id, message);
  publish_reports(node, std::move(errors));
}

bool DatasetManager::copy_and_attach(VolumeDriver& driver, const DatasetChange& change,
                                     const std::string& node,
                                     std::unique_lock<std::mutex>& converging,
                                     DatasetErrors& errors) {
  // Attached only once the whole copy is in place: an empty or partial dataset never
  // stands in for the data that lives on the other node. A download may take minutes;
  // a fence meanwhile must not wait for it (it touches nothing attached), but then
  // nothing is attached after it.
  Status received = make_error(ErrorCode::kUnavailable, "this agent cannot fetch dataset copies");
  if (receiver_) {
    uint64_t fences_before = fences();
    converging.unlock();
    received = receiver_->receive(change);
    converging.lock();
    if (fences() != fences_before) return false;  // the next pass starts from what is true now
  }
  if (!received) {
    errors[change.dataset_id] = "copying from node " + change.copy_from_node + " at " +
                                change.copy_from + " failed: " + received.error().message +
                                " (retrying)";
    return true;
  }
  spdlog::info("dataset {} copied from node {} at {}", change.dataset_id, change.copy_from_node,
               change.copy_from);
  attach(driver, change, node, errors);
  return true;
}

void DatasetManager::publish_reports(const std::string& node, DatasetErrors errors) {
  // Report what is true now.
  std::map<std::string, protocol::DatasetReport> reports;
  for (const auto& l : discover()) {
    protocol::DatasetReport r;
    r.dataset_id = l.dataset_id;
    r.driver = l.driver;
    r.attached = l.attached;
    r.epoch = l.epoch;
    r.local_copy = stores_copies_here(l.driver);
    if (l.attached) {
      auto path = drivers_[l.driver]->path(l.dataset_id, node, l.epoch);
      r.path = path ? *path : "";
    }
    r.in_use = in_use(l.dataset_id);
    reports[l.dataset_id] = r;
  }
  for (const auto& [id, message] : errors) {
    reports[id].dataset_id = id;
    reports[id].error = message;
  }
  std::lock_guard<std::mutex> lock(mu_);
  reports_ = std::move(reports);
  errors_ = std::move(errors);
}

std::vector<protocol::DatasetReport> DatasetManager::report() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<protocol::DatasetReport> out;
  for (const auto& [id, r] : reports_) {
    protocol::DatasetReport copy = r;
    auto u = users_.find(id);
    copy.in_use = u != users_.end() && !u->second.empty();
    out.push_back(copy);
  }
  return out;
}

Result<std::string> DatasetManager::usable_path(const std::string& dataset_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reports_.find(dataset_id);
  if (it == reports_.end() || !it->second.attached) {
    std::string why =
        it != reports_.end() && !it->second.error.empty() ? ": " + it->second.error : "";
    return make_error(ErrorCode::kUnavailable,
                      "dataset " + dataset_id + " is not attached on this node" + why);
  }
  auto driver = drivers_.find(it->second.driver);
  if (driver == drivers_.end())
    return make_error(ErrorCode::kUnavailable, "no driver " + it->second.driver);
  return driver->second->path(dataset_id, node_id_, it->second.epoch);
}

void DatasetManager::set_on_use_change(std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  on_use_change_ = std::move(callback);
}

void DatasetManager::acquire(const std::string& dataset_id, const std::string& user) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& users = users_[dataset_id];
    if (users.empty()) notify = on_use_change_;
    users.insert(user);
  }
  if (notify) notify();
}

void DatasetManager::release(const std::string& dataset_id, const std::string& user) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(dataset_id);
    if (it == users_.end()) return;
    it->second.erase(user);
    if (it->second.empty()) {
      users_.erase(it);
      notify = on_use_change_;
    }
  }
  if (notify) notify();
}

bool DatasetManager::in_use(const std::string& dataset_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = users_.find(dataset_id);
  return it != users_.end() && !it->second.empty();
}

}  // namespace berth::agent
