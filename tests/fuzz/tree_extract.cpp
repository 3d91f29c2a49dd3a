// A tar stream as another node sends a `local` dataset (docs/fencing.md §5), through
// extract_tree: whatever the bytes, nothing is written outside the target directory, and a
// refusal says why.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "fuzz_input.h"
#include "volume/tree_extractor.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth;
  // Removed when the fuzzer exits.
  static const struct Base {
    fs::path path =
        fs::temp_directory_path() / ("berth-fuzz-extract-" + std::to_string(::getpid()));
    ~Base() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } scratch;
  const fs::path& base = scratch.path;
  const fs::path target = base / "tree";
  const fs::path beside = base / "beside";  // where a hostile name would aim: ../beside/x
  fs::create_directories(beside);
  BytesArchiveSource source(fuzz::as_text(data, size), 4096);
  Result<ArchiveStats> extracted = extract_tree(source, target);
  if (!extracted) fuzz::require(!extracted.error().message.empty(), "a refusal says why");
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(base)) {
    (void)entry;
    ++entries;
  }
  fuzz::require(entries == 2, "the extraction wrote nothing beside its target directory");
  fuzz::require(fs::is_empty(beside), "the extraction wrote nothing outside its target");
  fs::remove_all(target);  // symbolic links inside are removed, not followed
  return 0;
}
