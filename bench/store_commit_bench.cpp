// berth-bench-store: how long the master waits for its store to acknowledge a write
// (docs/architecture.md §5), for SqliteStore (a file in a temporary directory, synchronous=FULL)
// and EtcdStore (a single-member etcd with its data directory in a temporary directory, started
// by the bench, or the etcd at the URL given). Times, one at a time, N commits of each shape:
//
//   - put: one key with a 1 KiB value;
//   - app: the commit of a new app version (the app, its version, a deployment, 3 keys of
//     4 KiB), as MasterCore::persist_app_change writes it;
//   - cas: a compare-and-swap on one key.
//
//   berth-bench-store [commits=200] [etcd client URL]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/etcd_store.h"
#include "store/store.h"
#include "tests/support/etcd_process.h"

namespace {

using berth::Store;
using berth::StoreOp;
using Clock = std::chrono::steady_clock;

void report(const char* store, const char* shape, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
  double sum = 0;
  for (double m : ms) sum += m;
  std::printf(
      "RESULT store=%s shape=%s commits=%zu median_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
      "max_ms=%.2f commits_per_s=%.0f\n",
      store, shape, ms.size(), at(0.5), at(0.9), at(0.99), ms.back(), 1000.0 * ms.size() / sum);
}

// Times `commits` calls of write(i); false if one failed.
bool time_shape(const char* name, const char* shape, int commits,
                const std::function<bool(int)>& write) {
  std::vector<double> ms;
  for (int i = 0; i < commits; ++i) {
    const auto start = Clock::now();
    if (!write(i)) {
      std::fprintf(stderr, "%s %s: commit %d failed\n", name, shape, i);
      return false;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  report(name, shape, ms);
  return true;
}

bool run(const char* name, Store& store, int commits) {
  const std::string small(1024, 's');
  const std::string spec(4096, 'a');
  int64_t cas_revision = store.put("bench/cas", "0").value();
  return time_shape(
             name, "put", commits,
             [&](int i) { return store.put("bench/put/" + std::to_string(i % 16), small).ok(); }) &&
         time_shape(
             name, "app", commits,
             [&](int i) {
               const std::string v = std::to_string(i);
               return store
                   .commit(
                       {StoreOp{StoreOp::Kind::kPut, "/apps/bench", spec, std::nullopt},
                        StoreOp{StoreOp::Kind::kPut, "/versions/bench@" + v, spec, std::nullopt},
                        StoreOp{StoreOp::Kind::kPut, "/deployments/" + v, spec, std::nullopt}})
                   .ok();
             }) &&
         time_shape(name, "cas", commits, [&](int i) {
           berth::Result<int64_t> swapped =
               store.compare_and_swap("bench/cas", std::to_string(i + 1), cas_revision);
           if (swapped.ok()) cas_revision = *swapped;
           return swapped.ok();
         });
}

}  // namespace

int main(int argc, char** argv) {
  const int commits = argc > 1 ? std::atoi(argv[1]) : 200;
  if (commits < 2) {
    std::fprintf(stderr, "usage: %s [commits>=2] [etcd client URL]\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("berth-bench-store-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  bool ok = false;
  {
    auto sqlite = berth::open_sqlite_store((dir / "store.db").string());
    ok = sqlite.ok() && run("sqlite", **sqlite, commits);
  }
  fs::remove_all(dir);

  std::unique_ptr<berth::testing::EtcdProcess> etcd;
  std::string url = argc > 2 ? argv[2] : "";
  if (url.empty()) {
    std::string error;
    etcd = berth::testing::EtcdProcess::start(&error);
    if (!etcd) {
      std::fprintf(stderr, "etcd: %s\n", error.c_str());
      return 1;
    }
    url = etcd->client_url();
  }
  auto store = berth::EtcdStore::open({{url}, "/berth-bench-" + std::to_string(::getpid()) + "/"});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  ok = ok && run("etcd", **store, commits);
  return ok ? 0 : 1;
}
