#include "volume/memory_driver.h"

#include "volume/dataset_id.h"

namespace berth {
namespace {

constexpr char kPathPrefix[] = "/memory/";

std::string memory_path(const std::string& dataset_id) { return kPathPrefix + dataset_id; }

Error not_found(const std::string& dataset_id) {
  return make_error(
      ErrorCode::kNotFound,
      "dataset " + dataset_id + " does not exist in the memory pool; create it first");
}

}  // namespace

class MemoryDriver final : public VolumeDriver {
 public:
  explicit MemoryDriver(std::shared_ptr<MemoryVolumePool> pool) : pool_(std::move(pool)) {}

  std::string name() const override { return "memory"; }
  Status available() const override { return {}; }

  Result<VolumeInfo> create(const std::string& dataset_id, uint64_t size_bytes) override {
    if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
    if (size_bytes == 0) {
      return make_error(ErrorCode::kInvalidArgument, "maximum_size must be at least 1 byte, got 0");
    }
    std::lock_guard lock(pool_->mutex_);
    auto [it, inserted] = pool_->datasets_.try_emplace(dataset_id);
    if (inserted) it->second.record.size_bytes = size_bytes;
    const EpochRecord& record = it->second.record;
    if (record.size_bytes != size_bytes) {
      return make_error(ErrorCode::kConflict,
                        "dataset " + dataset_id + " already exists with size " +
                            std::to_string(record.size_bytes) + " bytes, not " +
                            std::to_string(size_bytes) +
                            "; use another id or destroy the existing dataset first");
    }
    return to_volume_info(dataset_id, record);
  }

  Status destroy(const std::string& dataset_id) override {
    if (Status s = validate_dataset_id(dataset_id); !s) return s;
    std::lock_guard lock(pool_->mutex_);
    auto it = pool_->datasets_.find(dataset_id);
    if (it == pool_->datasets_.end()) return not_found(dataset_id);
    const EpochRecord& record = it->second.record;
    if (record.holder) {
      return make_error(ErrorCode::kConflict, "dataset " + dataset_id + " is attached to node \"" +
                                                  *record.holder + "\" at epoch " +
                                                  std::to_string(record.epoch) +
                                                  "; detach it before destroying it");
    }
    pool_->datasets_.erase(it);
    return {};
  }

  Result<std::string> attach(const std::string& dataset_id, const std::string& node_id,
                             uint64_t epoch) override {
    if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
    if (Status s = validate_node_id(node_id); !s) return s.error();
    std::lock_guard lock(pool_->mutex_);
    auto it = pool_->datasets_.find(dataset_id);
    if (it == pool_->datasets_.end()) return not_found(dataset_id);
    Result<EpochRecord> next = decide_attach(dataset_id, it->second.record, node_id, epoch);
    if (!next) return next.error();
    it->second.record = *next;
    return memory_path(dataset_id);
  }

  Status detach(const std::string& dataset_id, const std::string& node_id) override {
    if (Status s = validate_dataset_id(dataset_id); !s) return s;
    if (Status s = validate_node_id(node_id); !s) return s;
    std::lock_guard lock(pool_->mutex_);
    auto it = pool_->datasets_.find(dataset_id);
    if (it != pool_->datasets_.end()) it->second.record = decide_detach(it->second.record, node_id);
    return {};
  }

  Result<std::vector<VolumeInfo>> list() override {
    std::lock_guard lock(pool_->mutex_);
    std::vector<VolumeInfo> out;
    for (const auto& [id, dataset] : pool_->datasets_)
      out.push_back(to_volume_info(id, dataset.record));
    return out;
  }

  Result<std::string> path(const std::string& dataset_id, const std::string& node_id,
                           uint64_t epoch) override {
    if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
    if (Status s = validate_node_id(node_id); !s) return s.error();
    std::lock_guard lock(pool_->mutex_);
    auto it = pool_->datasets_.find(dataset_id);
    if (it == pool_->datasets_.end()) return not_found(dataset_id);
    if (Status s = check_path(dataset_id, it->second.record, node_id, epoch); !s) return s.error();
    return memory_path(dataset_id);
  }

 private:
  std::shared_ptr<MemoryVolumePool> pool_;
};

Status MemoryVolumePool::write_file(const std::string& path, const std::string& name,
                                    std::string content) {
  std::lock_guard lock(mutex_);
  std::string id = path.rfind(kPathPrefix, 0) == 0 ? path.substr(sizeof kPathPrefix - 1) : "";
  auto it = datasets_.find(id);
  if (it == datasets_.end() || !it->second.record.holder) {
    return make_error(ErrorCode::kNotFound, "no dataset is attached at " + path);
  }
  it->second.files[name] = std::move(content);
  return {};
}

Result<std::string> MemoryVolumePool::read_file(const std::string& path,
                                                const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::string id = path.rfind(kPathPrefix, 0) == 0 ? path.substr(sizeof kPathPrefix - 1) : "";
  auto it = datasets_.find(id);
  if (it == datasets_.end() || !it->second.record.holder) {
    return make_error(ErrorCode::kNotFound, "no dataset is attached at " + path);
  }
  auto file = it->second.files.find(name);
  if (file == it->second.files.end()) {
    return make_error(ErrorCode::kNotFound, "no file \"" + name + "\" in " + path);
  }
  return file->second;
}

std::unique_ptr<VolumeDriver> make_memory_driver(std::shared_ptr<MemoryVolumePool> pool) {
  return std::make_unique<MemoryDriver>(std::move(pool));
}

std::unique_ptr<VolumeDriver> make_memory_driver() {
  return make_memory_driver(std::make_shared<MemoryVolumePool>());
}

}  // namespace berth
