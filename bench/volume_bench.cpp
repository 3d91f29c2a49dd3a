// berth-bench-volume: what the volume drivers add to a failover (docs/fencing.md §3: failover is
// about L + margin + attach + start). For the shared and loop drivers (loop only as root):
//
//   - attach (+ mount) and detach (unmount +) latency of one dataset, over N iterations;
//   - moving an idle dataset between two nodes: detach on node A, then attach on node B at
//     epoch + 1, right after A wrote D MiB into it (so the unmount has dirty data to flush).
//
// Two nodes are two driver instances over one pool in a temporary directory (for loop, each
// with its own mount directory), as in the contract tests. For reference it also times the
// same loop steps done with losetup(8) and mount(8), which the driver replaces with ioctls.
//
//   berth-bench-volume [iterations=20] [data_mib=8] [dir=$TMPDIR or /tmp]
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "volume/loop_device.h"
#include "volume/run_command.h"
#include "volume/volume_driver.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kDatasetSize = 256 * kMiB;
const std::string kId = "b3e1c0de-0000-4000-8000-000000000001";

struct Row {
  std::string driver;
  std::string step;
  std::vector<double> ms;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double since_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

fs::path g_root;  // The bench's temporary directory, cleaned up even when a step fails.

void clean_up() {
  if (g_root.empty()) return;
  std::string prefix = g_root.string() + "/";
  if (Result<std::vector<MountEntry>> mounts = read_mounts(); mounts.ok()) {
    for (auto it = mounts->rbegin(); it != mounts->rend(); ++it) {
      if (it->mount_point.rfind(prefix, 0) == 0) ::umount2(it->mount_point.c_str(), MNT_DETACH);
    }
  }
  if (Result<std::vector<LoopDevice>> devices = list_loop_devices(); devices.ok()) {
    for (const LoopDevice& device : *devices) {
      if (device.backing_file.rfind(prefix, 0) == 0) (void)detach_loop_device(device);
    }
  }
  std::error_code ec;
  fs::remove_all(g_root, ec);
}

[[noreturn]] void die(const std::string& what, const Error& error) {
  std::fprintf(stderr, "berth-bench-volume: %s: %s\n", what.c_str(), error.message.c_str());
  clean_up();
  std::exit(1);
}

template <typename T>
T must(Result<T> result, const std::string& what) {
  if (!result.ok()) die(what, result.error());
  return std::move(result).value();
}
void must(Status status, const std::string& what) {
  if (!status.ok()) die(what, status.error());
}

// Writes `bytes` of non-zero data (so nothing is sparse) without fsync: the unmount flushes.
void write_data(const std::string& dir, uint64_t bytes) {
  std::string path = dir + "/data.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open " + path, make_error(ErrorCode::kInternal, "cannot open"));
  std::vector<char> block(kMiB);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131 + 7);
  for (uint64_t done = 0; done < bytes; done += block.size()) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      die("write " + path, make_error(ErrorCode::kInternal, "short write"));
    }
  }
  ::close(fd);
}

void check_data(const std::string& dir, uint64_t bytes) {
  std::error_code ec;
  if (fs::file_size(dir + "/data.bin", ec) != bytes) {
    die("check " + dir, make_error(ErrorCode::kInternal, "the data did not move with the dataset"));
  }
}

std::vector<Row> bench_driver(const std::string& name, VolumeDriver& a, VolumeDriver& b,
                              int iterations, uint64_t data_bytes) {
  Row attach{name, "attach (+ mount)", {}}, detach{name, "detach (unmount +)", {}};
  Row move{name, "move idle dataset A->B", {}};
  must(a.create(kId, kDatasetSize), "create");
  uint64_t epoch = 1;
  for (int i = 0; i < iterations; ++i, ++epoch) {
    auto t0 = Clock::now();
    std::string dir = must(a.attach(kId, "a", epoch), "attach");
    attach.ms.push_back(since_ms(t0));
    write_data(dir, 4096);
    t0 = Clock::now();
    must(a.detach(kId, "a"), "detach");
    detach.ms.push_back(since_ms(t0));
  }
  for (int i = 0; i < iterations; ++i) {
    VolumeDriver& from = i % 2 == 0 ? a : b;
    VolumeDriver& to = i % 2 == 0 ? b : a;
    std::string from_node = i % 2 == 0 ? "a" : "b", to_node = i % 2 == 0 ? "b" : "a";
    write_data(must(from.attach(kId, from_node, epoch), "attach"), data_bytes);
    auto t0 = Clock::now();
    must(from.detach(kId, from_node), "detach");
    std::string dir = must(to.attach(kId, to_node, ++epoch), "attach on the other node");
    move.ms.push_back(since_ms(t0));
    check_data(dir, data_bytes);
    must(to.detach(kId, to_node), "detach");
  }
  must(a.destroy(kId), "destroy");
  return {attach, detach, move};
}

// The same loop steps through the command-line tools, for comparison.
std::vector<Row> bench_loop_tools(const fs::path& root, int iterations) {
  std::optional<std::string> losetup = find_executable("losetup");
  std::optional<std::string> mount = find_executable("mount");
  std::optional<std::string> umount = find_executable("umount");
  std::optional<std::string> mkfs = find_executable("mkfs.ext4");
  if (!losetup || !mount || !umount || !mkfs) return {};
  std::string image = (root / "tools.img").string();
  std::string dir = (root / "tools-mnt").string();
  fs::create_directories(dir);
  { std::ofstream touch(image); }
  fs::resize_file(image, kDatasetSize);
  must(run_command({*mkfs, "-F", "-q", "-E", "nodiscard", image}), "mkfs.ext4");
  Row attach{"loop via losetup(8)+mount(8)", "attach (+ mount)", {}};
  Row detach{"loop via losetup(8)+mount(8)", "detach (unmount +)", {}};
  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    must(run_command({*losetup, "--find", image}), "losetup --find");
    std::vector<LoopDevice> devices = must(loop_devices_for(image), "list loop devices");
    if (devices.empty()) die("losetup", make_error(ErrorCode::kInternal, "no device bound"));
    must(run_command({*mount, "-t", "ext4", devices[0].path(), dir}), "mount");
    attach.ms.push_back(since_ms(t0));
    write_data(dir, 4096);
    t0 = Clock::now();
    must(run_command({*umount, dir}), "umount");
    must(run_command({*losetup, "-d", devices[0].path()}), "losetup -d");
    detach.ms.push_back(since_ms(t0));
  }
  return {attach, detach};
}

void print(const std::vector<Row>& rows, int iterations, uint64_t data_mib) {
  std::printf(
      "\n%d iterations; move = detach on A + attach on B at epoch+1 after A wrote %llu MiB\n\n",
      iterations, static_cast<unsigned long long>(data_mib));
  std::printf("| %-30s | %-24s | %9s | %9s | %9s | %9s |\n", "driver", "step", "median ms",
              "p90 ms", "min ms", "max ms");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(32, '-').c_str(), std::string(26, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str(),
              std::string(11, '-').c_str(), std::string(11, '-').c_str());
  for (const Row& row : rows) {
    std::printf("| %-30s | %-24s | %9.2f | %9.2f | %9.2f | %9.2f |\n", row.driver.c_str(),
                row.step.c_str(), percentile(row.ms, 0.5), percentile(row.ms, 0.9),
                percentile(row.ms, 0), percentile(row.ms, 1));
  }
}

int run(int argc, char** argv) {
  int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  uint64_t data_mib = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 8;
  const char* tmp = std::getenv("TMPDIR");
  fs::path base = argc > 3 ? fs::path(argv[3]) : fs::path(tmp ? tmp : "/tmp");
  if (iterations < 1 || iterations > 10000 || data_mib > kDatasetSize / kMiB / 2) {
    std::fprintf(stderr,
                 "usage: berth-bench-volume [iterations 1..10000] [data_mib <= %llu] [dir]\n",
                 static_cast<unsigned long long>(kDatasetSize / kMiB / 2));
    return 2;
  }
  std::string pattern = (base / "berth-bench-volume-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  fs::path root = fs::canonical(pattern);
  g_root = root;
  fs::create_directories(root / "pool");
  std::printf("pool %s on %s\n", (root / "pool").c_str(), base.c_str());

  std::vector<Row> rows;
  {
    auto a = make_shared_driver((root / "pool").string());
    auto b = make_shared_driver((root / "pool").string());
    for (Row& row : bench_driver("shared", *a, *b, iterations, data_mib * kMiB))
      rows.push_back(row);
  }
  auto a = make_loop_driver((root / "pool").string(), (root / "mnt-a").string());
  auto b = make_loop_driver((root / "pool").string(), (root / "mnt-b").string());
  if (Status available = a->available(); !available.ok()) {
    std::printf("loop skipped: %s\n", available.error().message.c_str());
  } else {
    for (Row& row : bench_driver("loop", *a, *b, iterations, data_mib * kMiB)) rows.push_back(row);
    for (Row& row : bench_loop_tools(root, iterations)) rows.push_back(row);
  }
  print(rows, iterations, data_mib);
  clean_up();
  return 0;
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv) { return berth::run(argc, argv); }
