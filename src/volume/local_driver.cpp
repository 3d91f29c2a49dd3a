// make_local_driver and copy_local_dataset: the `local` driver (docs/architecture.md §6), a
// directory per dataset on this node. Its epoch records live in `<node_dir>/.berth/`, so they fence
// only callers on this node; a local dataset is never visible to two nodes in the first place.
#include <algorithm>
#include <memory>

#include "volume/dataset_id.h"
#include "volume/directory_backend.h"
#include "volume/recorded_driver.h"
#include "volume/tree_copy.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

fs::path normal(const std::string& dir) { return fs::absolute(dir).lexically_normal(); }

// Replaces `to_dir/<id>` with a copy of `from_dir/<id>`. The copy is made beside the target
// under a temporary name and renamed into place, so the target is never half copied.
Status replace_with_copy(const fs::path& from_data, const fs::path& to_data,
                         const fs::path& scratch_dir, const std::string& dataset_id) {
  fs::path incoming = scratch_dir / ("incoming-" + dataset_id);
  fs::path outgoing = scratch_dir / ("outgoing-" + dataset_id);
  if (Status s = remove_tree(incoming); !s) return s;
  if (Status s = remove_tree(outgoing); !s) return s;
  if (Status s = copy_tree(from_data, incoming); !s) return s;
  std::error_code ec;
  if (fs::exists(to_data, ec)) {
    fs::rename(to_data, outgoing, ec);
    if (ec) {
      return make_error(ErrorCode::kInternal,
                        "cannot move " + to_data.string() + " aside: " + ec.message());
    }
  }
  fs::rename(incoming, to_data, ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot move the copy into " + to_data.string() + ": " + ec.message());
  }
  return remove_tree(outgoing);
}

}  // namespace

std::unique_ptr<VolumeDriver> make_local_driver(const std::string& node_dir) {
  fs::path dir = normal(node_dir);
  return std::make_unique<RecordedDriver>(
      std::make_unique<DirectoryBackend>(dir, DirectoryBackend::Layout::kLocal),
      RecordDir(dir / ".berth", /*create_parent=*/true));
}

Status copy_local_dataset(const std::string& from_node_dir, const std::string& to_node_dir,
                          const std::string& dataset_id) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s;
  fs::path from = normal(from_node_dir);
  fs::path to = normal(to_node_dir);
  std::error_code ec;
  if (from == to || fs::equivalent(from, to, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot copy dataset " + dataset_id + " from " + from.string() +
                          " onto itself; give the other node's directory");
  }
  if (!fs::is_directory(from, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "node directory " + from.string() + " does not exist; nothing to copy");
  }
  RecordDir from_records(from / ".berth", /*create_parent=*/false);
  RecordDir to_records(to / ".berth", /*create_parent=*/true);
  // Both locks, always taken in path order, so two copies in opposite directions cannot
  // deadlock.
  bool from_first = from.string() < to.string();
  Result<RecordDir::Lock> first = (from_first ? from_records : to_records).lock(dataset_id);
  if (!first) return first.error();
  Result<RecordDir::Lock> second = (from_first ? to_records : from_records).lock(dataset_id);
  if (!second) return second.error();

  Result<std::optional<EpochRecord>> source = from_records.read(dataset_id);
  if (!source) return source.error();
  DirectoryBackend from_backend(from, DirectoryBackend::Layout::kLocal);
  if (!*source || !fs::is_directory(from_backend.data_dir(dataset_id), ec)) {
    return make_error(ErrorCode::kNotFound, "dataset " + dataset_id + " does not exist in " +
                                                from.string() + "; nothing to copy");
  }
  Result<std::optional<EpochRecord>> target = to_records.read(dataset_id);
  if (!target) return target.error();

  DirectoryBackend to_backend(to, DirectoryBackend::Layout::kLocal);
  if (Status s = replace_with_copy(from_backend.data_dir(dataset_id),
                                   to_backend.data_dir(dataset_id), to_records.dir(), dataset_id);
      !s) {
    return s;
  }
  // The copy keeps the highest epoch either side has seen, so an attach at an epoch the
  // source already used stays refused on the destination too. A holder on the destination
  // stays; the source's holder is a node elsewhere and means nothing here.
  EpochRecord record = **source;
  record.holder.reset();
  if (*target) {
    record.epoch = std::max(record.epoch, (*target)->epoch);
    record.holder = (*target)->holder;
  }
  return to_records.write(dataset_id, record);
}

}  // namespace berth
