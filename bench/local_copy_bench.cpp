// berth-bench-local-copy: a `local` dataset moved from one agent's transfer code to another's
// (agent/dataset_transfer.h), over HTTP on loopback, as the agent of the new node fetches it
// from the agent holding it: the sender's TreeArchiver and SHA-256, the chunked answer, the
// receiver's extraction and digest, the rename into place. Both ends run in this one process,
// so its peak memory covers both.
//
//   berth-bench-local-copy [gib=10] [files=4] [dir=$TMPDIR or /tmp]
//
// Node a's dataset holds `gib` GiB of generated data (every block written, no holes) in
// `files` files of equal size, written before the clock starts. Prints the time, throughput,
// CPU time and the growth of the process's peak resident memory (VmHWM, reset first through
// /proc/self/clear_refs) during the copy, then checks the copy's sizes and sampled blocks.
// Needs about twice `gib` free on `dir`'s filesystem; removes everything it wrote.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "agent/dataset_transfer.h"
#include "http/http.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = uint64_t{1} << 20;
const std::string kId = "b3e1c0de-0000-4000-8000-00000000c0de";

uint64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

double cpu_seconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Block `index` of file `file`: pseudo-random bytes, different for every block.
void fill_block(std::vector<char>* block, uint64_t file, uint64_t index) {
  std::mt19937_64 random(file * 1000003 + index);
  auto* words = reinterpret_cast<uint64_t*>(block->data());
  for (size_t i = 0; i < block->size() / 8; ++i) words[i] = random();
}

bool write_files(const fs::path& data, uint64_t files, uint64_t mib_each) {
  std::vector<char> block(kMiB);
  for (uint64_t f = 0; f < files; ++f) {
    std::ofstream out(data / ("part-" + std::to_string(f)), std::ios::binary);
    for (uint64_t i = 0; i < mib_each; ++i) {
      fill_block(&block, f, i);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    if (!out) return false;
  }
  return true;
}

// Sizes, and 16 blocks per file read back and compared with what was written.
bool check_copy(const fs::path& data, uint64_t files, uint64_t mib_each) {
  std::vector<char> expected(kMiB), got(kMiB);
  for (uint64_t f = 0; f < files; ++f) {
    fs::path path = data / ("part-" + std::to_string(f));
    if (fs::file_size(path) != mib_each * kMiB) return false;
    std::ifstream in(path, std::ios::binary);
    for (uint64_t k = 0; k < 16; ++k) {
      uint64_t index = (k * 7919) % mib_each;
      fill_block(&expected, f, index);
      in.seekg(static_cast<std::streamoff>(index * kMiB));
      in.read(got.data(), static_cast<std::streamsize>(got.size()));
      if (!in || got != expected) return false;
    }
  }
  return true;
}

int run(uint64_t gib, uint64_t files, const fs::path& base) {
  fs::path root = base / ("berth-bench-local-copy-" + std::to_string(::getpid()));
  fs::create_directories(root);
  auto a = make_local_driver((root / "a").string());
  auto b = make_local_driver((root / "b").string());
  uint64_t mib_each = gib * 1024 / files;
  Result<VolumeInfo> created = a->create(kId, gib << 30);
  Result<std::string> path = created ? a->attach(kId, "node-a", 1) : created.error();
  if (!path || !write_files(*path, files, mib_each) || !a->detach(kId, "node-a").ok()) {
    std::fprintf(stderr, "cannot write the dataset under %s\n", root.c_str());
    fs::remove_all(root);
    return 1;
  }
  agent::DatasetTransfer sender((root / "a").string());
  auto server = http::serve({"127.0.0.1", 0}, [&](const http::Request& request) {
    return sender.serve(request, "node-a", [](const std::string&) { return false; });
  });
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  agent::DatasetChange change;
  change.kind = agent::DatasetChange::Kind::kCopyAndAttach;
  change.dataset_id = kId;
  change.driver = "local";
  change.copy_from = "http://127.0.0.1:" + std::to_string((*server)->port());
  change.copy_from_node = "node-a";

  uint64_t rss_before = status_bytes("VmRSS");
  bool reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
  uint64_t baseline = reset ? rss_before : std::max(rss_before, status_bytes("VmHWM"));
  double cpu_before = cpu_seconds();
  auto start = Clock::now();
  Status received = agent::DatasetTransfer((root / "b").string()).receive(change);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double cpu = cpu_seconds() - cpu_before;
  uint64_t peak = status_bytes("VmHWM");
  if (!received) {
    std::fprintf(stderr, "copy failed: %s\n", received.error().message.c_str());
    fs::remove_all(root);
    return 1;
  }
  double mib = static_cast<double>(files * mib_each);
  std::printf("moved %.0f MiB in %llu files: %.1f s, %.0f MiB/s, cpu %.1f s (%.2f s per GiB)\n",
              mib, static_cast<unsigned long long>(files), seconds, mib / seconds, cpu,
              cpu / (mib / 1024));
  std::printf("resident memory: %.1f MiB before, peak %.1f MiB during (%s), growth %.1f MiB\n",
              rss_before / 1048576.0, peak / 1048576.0,
              reset ? "VmHWM reset first" : "VmHWM not resettable: peak since start",
              (peak > baseline ? peak - baseline : 0) / 1048576.0);
  bool intact = check_copy(root / "b" / kId, files, mib_each);
  std::printf("copy %s\n", intact ? "intact (sizes and sampled blocks)" : "DIFFERS");
  fs::remove_all(root);
  return intact ? 0 : 1;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) {
  uint64_t gib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10;
  uint64_t files = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 4;
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path dir = argc > 3 ? argv[3] : (tmp ? tmp : "/tmp");
  if (gib == 0 || files == 0 || gib * 1024 < files) {
    std::fprintf(stderr, "usage: berth-bench-local-copy [gib>=1] [files>=1] [dir]\n");
    return 2;
  }
  return berth::run(gib, files, dir);
}
