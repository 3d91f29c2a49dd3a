#include "volume/local_transfer.h"

#include <algorithm>
#include <filesystem>

#include "volume/dataset_id.h"
#include "volume/directory_backend.h"
#include "volume/epoch_record.h"
#include "volume/tree_copy.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

fs::path normal(const std::string& dir) { return fs::absolute(dir).lexically_normal(); }

Error attached_here(const std::string& dataset_id, const EpochRecord& record) {
  return make_error(ErrorCode::kConflict, "dataset " + dataset_id + " is attached to node \"" +
                                              *record.holder + "\" at epoch " +
                                              std::to_string(record.epoch) +
                                              " on this node; it is copied only once detached");
}

// Under the dataset's lock, `staged` replaces the dataset's directory in `dir` and the record
// says `copy`, unattached, keeping a higher epoch recorded before.
Status put_in_place(const RecordDir& records, const fs::path& dir, const std::string& dataset_id,
                    const fs::path& staged, const LocalDatasetCopy& copy) {
  std::error_code ec;
  Result<RecordDir::Lock> lock = records.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> before = records.read(dataset_id);
  if (!before) return before.error();
  if (*before && (*before)->holder) return attached_here(dataset_id, **before);
  DirectoryBackend backend(dir, DirectoryBackend::Layout::kLocal);
  fs::path target = backend.data_dir(dataset_id);
  fs::path outgoing = records.dir() / ("replaced-" + dataset_id);
  if (Status s = remove_tree(outgoing); !s) return s;
  if (fs::exists(fs::symlink_status(target, ec))) {
    fs::rename(target, outgoing, ec);
    if (ec) {
      return make_error(ErrorCode::kInternal,
                        "cannot move " + target.string() + " aside: " + ec.message());
    }
  }
  fs::rename(staged, target, ec);
  if (ec) {
    return make_error(ErrorCode::kInternal, "cannot move the copy of dataset " + dataset_id +
                                                " into " + target.string() + ": " + ec.message());
  }
  EpochRecord record;
  record.size_bytes = copy.size_bytes;
  record.epoch = copy.epoch;
  if (*before) record.epoch = std::max(record.epoch, (*before)->epoch);
  if (Status s = records.write(dataset_id, record); !s) return s;
  return remove_tree(outgoing);
}

}  // namespace

Result<std::unique_ptr<LocalDatasetArchive>> archive_local_dataset(const std::string& node_dir,
                                                                   const std::string& dataset_id) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s.error();
  fs::path dir = normal(node_dir);
  std::error_code ec;
  auto missing = [&] {
    return make_error(ErrorCode::kNotFound,
                      "dataset " + dataset_id + " has no local copy in " + dir.string());
  };
  if (!fs::is_directory(dir / ".berth", ec)) return missing();
  RecordDir records(dir / ".berth", /*create_parent=*/false);
  Result<RecordDir::Lock> lock = records.lock(dataset_id);
  if (!lock) return lock.error();
  Result<std::optional<EpochRecord>> record = records.read(dataset_id);
  if (!record) return record.error();
  DirectoryBackend backend(dir, DirectoryBackend::Layout::kLocal);
  if (!*record || !fs::is_directory(backend.data_dir(dataset_id), ec)) return missing();
  if ((*record)->holder) return attached_here(dataset_id, **record);
  Result<std::unique_ptr<TreeArchiver>> archiver = TreeArchiver::open(backend.data_dir(dataset_id));
  if (!archiver) {
    Error e = archiver.error();
    e.message = "cannot archive dataset " + dataset_id + ": " + e.message;
    return e;
  }
  LocalDatasetCopy copy{(*record)->size_bytes, (*record)->epoch};
  return std::make_unique<LocalDatasetArchive>(std::move(*lock), copy, std::move(*archiver));
}

Status install_local_dataset(const std::string& node_dir, const std::string& dataset_id,
                             const LocalDatasetCopy& copy, ArchiveSource& source,
                             const std::function<Status(const ArchiveStats&)>& verify) {
  if (Status s = validate_dataset_id(dataset_id); !s) return s;
  fs::path dir = normal(node_dir);
  RecordDir records(dir / ".berth", /*create_parent=*/true);
  std::error_code ec;
  fs::create_directories(records.dir(), ec);
  if (ec) {
    return make_error(ErrorCode::kInternal,
                      "cannot create " + records.dir().string() + ": " + ec.message());
  }
  // Unpacked beside its final place, on the same filesystem, so the rename below is atomic:
  // the dataset's directory is never half copied.
  fs::path staged = records.dir() / ("received-" + dataset_id);
  if (Status s = remove_tree(staged); !s) return s;
  Result<ArchiveStats> stats = extract_tree(source, staged);
  Status checked = stats ? verify(*stats) : Status(stats.error());
  if (!checked) {
    (void)remove_tree(staged);
    Error e = checked.error();
    e.message = "cannot unpack the copy of dataset " + dataset_id + ": " + e.message;
    return e;
  }

  Status placed = put_in_place(records, dir, dataset_id, staged, copy);
  if (!placed) (void)remove_tree(staged);
  return placed;
}

}  // namespace berth
