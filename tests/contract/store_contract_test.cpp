// The Store contract: every test in StoreContract runs against SqliteStore (a fresh file in a
// fresh temporary directory), EtcdStore (a fresh key prefix on a real etcd this process starts)
// and MemoryStore, so the fake cannot drift from the real thing. EtcdStore's tests are skipped,
// saying so, only where no etcd binary is installed; CI installs one.
// SqliteStoreFile holds what only a file-backed store can show: durability, WAL, path errors.
//
// Revisions are checked relative to the store's revision when the test starts: an etcd
// store's revision is etcd's, which starts at 1 and counts the writes of every prefix. Nothing
// else writes to the test's etcd while a test runs, so there too each committed change takes
// exactly the next revision.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/etcd_store.h"
#include "store/store.h"
#include "tests/support/etcd_process.h"
#include "tests/support/shared_etcd.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using EtcdProcess = berth::testing::EtcdProcess;
using berth::testing::SharedEtcd;

fs::path make_temp_directory() {
  std::string pattern = (fs::temp_directory_path() / "berth-store-XXXXXX").string();
  const char* made = mkdtemp(pattern.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
    return {};
  }
  return made;
}

// The value of an ok result; records a test failure (with the error) otherwise.
template <typename T>
T ok_value(Result<T> result) {
  EXPECT_TRUE(result.ok()) << result.error().message;
  if (!result.ok()) return T{};
  return std::move(result).value();
}

StoreOp put_op(std::string key, std::string value, std::optional<int64_t> expected = {}) {
  return StoreOp{StoreOp::Kind::kPut, std::move(key), std::move(value), expected};
}

StoreOp erase_op(std::string key, std::optional<int64_t> expected = {}) {
  return StoreOp{StoreOp::Kind::kErase, std::move(key), "", expected};
}

std::vector<std::string> keys_of(const std::vector<KeyValue>& kvs) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : kvs) keys.push_back(kv.key);
  return keys;
}

// Every byte value, repeated to `size` bytes: NULs and high bytes must survive.
std::string binary_value(size_t size, int seed) {
  std::string value(size, '\0');
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<char>((i * 31 + seed) & 0xff);
  return value;
}

// Records watch events; safe to call from any committing thread.
class EventLog {
 public:
  Store::WatchCallback callback() {
    return [this](const WatchEvent& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(event);
    };
  }
  std::vector<WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<WatchEvent> events_;
};

struct StoreKind {
  std::string name;
  std::function<std::unique_ptr<Store>(const fs::path& directory)> open;
  // True where a new store is at revision 0 and only its own writes move the revision.
  bool owns_its_revision = true;
};

std::unique_ptr<Store> open_sqlite_in(const fs::path& directory) {
  Result<std::unique_ptr<Store>> store = open_sqlite_store((directory / "store.db").string());
  if (!store.ok()) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  return std::move(*store);
}

// Names the implementation in failure messages instead of dumping the struct's bytes.
void PrintTo(const StoreKind& kind, std::ostream* out) { *out << kind.name; }

::testing::Environment* const kSharedEtcd = ::testing::AddGlobalTestEnvironment(new SharedEtcd);

std::unique_ptr<Store> open_etcd(const fs::path&) {
  static int prefixes = 0;
  std::string error;
  EtcdProcess* etcd = SharedEtcd::get(&error);
  if (etcd == nullptr) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  Result<std::unique_ptr<EtcdStore>> store = EtcdStore::open(
      EtcdStoreOptions{{etcd->client_url()}, "/contract-" + std::to_string(++prefixes) + "/"});
  if (!store.ok()) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  return std::move(*store);
}

const StoreKind kSqlite{"Sqlite", open_sqlite_in};
const StoreKind kEtcd{"Etcd", open_etcd, false};
const StoreKind kMemory{"Memory", [](const fs::path&) { return make_memory_store(); }};

class StoreContract : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    if (GetParam().name == "Etcd" && EtcdProcess::binary().empty()) {
      GTEST_SKIP() << "no etcd binary: install Debian's etcd-server (scripts/install-deps) or "
                      "set BERTH_ETCD to run the Store contract against EtcdStore";
    }
    directory_ = make_temp_directory();
    ASSERT_FALSE(directory_.empty());
    store_ = GetParam().open(directory_);
    ASSERT_NE(store_, nullptr);
    base_ = revision();
    if (GetParam().owns_its_revision) {
      EXPECT_EQ(base_, 0) << "a new store is at revision 0";
    }
  }
  void TearDown() override {
    store_.reset();
    if (!directory_.empty()) fs::remove_all(directory_);
  }

  Store& store() { return *store_; }
  // The revision n commits after the test started.
  int64_t rev(int64_t n) const { return base_ + n; }
  int64_t put(const std::string& key, const std::string& value) {
    return ok_value(store().put(key, value));
  }
  std::optional<KeyValue> get(const std::string& key) { return ok_value(store().get(key)); }
  int64_t revision() { return ok_value(store().revision()); }
  std::vector<std::string> keys_under(const std::string& prefix) {
    return keys_of(ok_value(store().list(prefix)));
  }

 private:
  fs::path directory_;
  std::unique_ptr<Store> store_;
  int64_t base_ = 0;
};

TEST_P(StoreContract, GetReturnsNothingForAMissingKey) { EXPECT_EQ(get("jobs/web"), std::nullopt); }

TEST_P(StoreContract, GetReturnsWhatPutStoredWithItsRevisions) {
  const int64_t rev = put("jobs/web", "spec-1");
  const std::optional<KeyValue> kv = get("jobs/web");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->key, "jobs/web");
  EXPECT_EQ(kv->value, "spec-1");
  EXPECT_EQ(kv->create_revision, rev);
  EXPECT_EQ(kv->mod_revision, rev);
  EXPECT_EQ(kv->version, 1);
}

TEST_P(StoreContract, RevisionGrowsByOnePerWriteOrTransaction) {
  EXPECT_EQ(revision(), rev(0));
  EXPECT_EQ(put("a", "1"), rev(1));
  EXPECT_EQ(put("a", "2"), rev(2));
  EXPECT_EQ(ok_value(store().compare_and_swap("a", "3", rev(2))), rev(3));
  EXPECT_TRUE(ok_value(store().erase("a")));
  EXPECT_EQ(revision(), rev(4));
  EXPECT_EQ(ok_value(store().commit({put_op("x", "1"), put_op("y", "2"), erase_op("z")})), rev(5));
  EXPECT_EQ(revision(), rev(5));
}

TEST_P(StoreContract, OverwriteKeepsTheCreateRevisionAndIncrementsTheVersion) {
  const int64_t created = put("k", "1");
  put("other", "x");
  const int64_t modified = put("k", "2");
  const std::optional<KeyValue> kv = get("k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "2");
  EXPECT_EQ(kv->create_revision, created);
  EXPECT_EQ(kv->mod_revision, modified);
  EXPECT_EQ(kv->version, 2);
}

TEST_P(StoreContract, EraseReturnsWhetherTheKeyExisted) {
  EXPECT_FALSE(ok_value(store().erase("k")));
  EXPECT_EQ(revision(), rev(0)) << "erasing an absent key must not take a revision";
  put("k", "v");
  EXPECT_TRUE(ok_value(store().erase("k")));
  EXPECT_EQ(revision(), rev(2)) << "an erase records a revision";
  EXPECT_EQ(get("k"), std::nullopt);
  EXPECT_FALSE(ok_value(store().erase("k")));
}

TEST_P(StoreContract, AKeyPutAfterEraseStartsOverAsANewKey) {
  put("k", "1");
  put("k", "2");
  ASSERT_TRUE(ok_value(store().erase("k")));
  const int64_t recreated = put("k", "3");
  const std::optional<KeyValue> kv = get("k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->create_revision, recreated);
  EXPECT_EQ(kv->version, 1);
}

TEST_P(StoreContract, CompareAndSwapReplacesWhenTheModRevisionMatches) {
  const int64_t rev = put("k", "old");
  const int64_t swapped = ok_value(store().compare_and_swap("k", "new", rev));
  EXPECT_EQ(swapped, rev + 1);
  const std::optional<KeyValue> kv = get("k");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "new");
  EXPECT_EQ(kv->mod_revision, swapped);
  EXPECT_EQ(kv->version, 2);
}

TEST_P(StoreContract, CompareAndSwapConflictChangesNothing) {
  const int64_t first = put("jobs/web", "v1");
  put("jobs/web", "v2");
  const int64_t before = revision();
  Result<int64_t> result = store().compare_and_swap("jobs/web", "v3", first);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_NE(result.error().message.find("jobs/web"), std::string::npos) << result.error().message;
  EXPECT_EQ(get("jobs/web")->value, "v2");
  EXPECT_EQ(get("jobs/web")->version, 2);
  EXPECT_EQ(revision(), before);
}

TEST_P(StoreContract, CompareAndSwapWithZeroCreatesAMissingKey) {
  const int64_t created = ok_value(store().compare_and_swap("lock", "me", 0));
  EXPECT_EQ(created, rev(1));
  const std::optional<KeyValue> kv = get("lock");
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "me");
  EXPECT_EQ(kv->create_revision, created);
  EXPECT_EQ(kv->version, 1);
}

TEST_P(StoreContract, CompareAndSwapWithZeroConflictsWhenTheKeyExists) {
  put("lock", "them");
  Result<int64_t> result = store().compare_and_swap("lock", "me", 0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_EQ(get("lock")->value, "them");
  EXPECT_EQ(revision(), rev(1));
}

TEST_P(StoreContract, CompareAndSwapOnAMissingKeyWithARevisionConflicts) {
  const int64_t created = put("k", "v");
  ASSERT_TRUE(ok_value(store().erase("k")));
  Result<int64_t> result = store().compare_and_swap("k", "again", created);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_EQ(get("k"), std::nullopt);
}

TEST_P(StoreContract, ConcurrentCompareAndSwapIncrementsLoseNoUpdate) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 10;
  put("counter", "0");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kIncrements;) {
        Result<std::optional<KeyValue>> kv = store().get("counter");
        if (!kv.ok() || !kv->has_value()) return;
        const int next = std::stoi((*kv)->value) + 1;
        Result<int64_t> swapped =
            store().compare_and_swap("counter", std::to_string(next), (*kv)->mod_revision);
        if (swapped.ok())
          ++done;
        else if (swapped.error().code != ErrorCode::kConflict)
          return;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(get("counter")->value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(get("counter")->version, kThreads * kIncrements + 1);
}

TEST_P(StoreContract, ListReturnsOnlyKeysUnderThePrefixInKeyOrder) {
  for (const char* key : {"b", "a/2", "a/10", "a0", "a/1", "a", "a/"}) put(key, key);
  EXPECT_EQ(keys_under("a/"), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2"}));
  EXPECT_EQ(keys_under("a"), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "a0"}));
  EXPECT_EQ(keys_under("a/1"), (std::vector<std::string>{"a/1", "a/10"}));
  EXPECT_TRUE(keys_under("c").empty());
  const std::vector<KeyValue> listed = ok_value(store().list("a/1"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].value, "a/1");
  EXPECT_EQ(listed[0].mod_revision, get("a/1")->mod_revision);
  EXPECT_EQ(listed[0].version, 1);
}

TEST_P(StoreContract, ListTreatsPercentAndUnderscoreAsPlainCharacters) {
  for (const char* key : {"x%y/1", "xAy/1", "x_y/1", "xzy/1", "x%/1", "X_y/1"}) put(key, "v");
  EXPECT_EQ(keys_under("x%"), (std::vector<std::string>{"x%/1", "x%y/1"}));
  EXPECT_EQ(keys_under("x_"), (std::vector<std::string>{"x_y/1"}));
  EXPECT_EQ(keys_under("x_y"), (std::vector<std::string>{"x_y/1"}));
}

TEST_P(StoreContract, ListWithAnEmptyPrefixReturnsEveryKey) {
  for (const char* key : {"c", "a", "b/1"}) put(key, "v");
  EXPECT_EQ(keys_under(""), (std::vector<std::string>{"a", "b/1", "c"}));
}

TEST_P(StoreContract, ListOrdersBytesAsUnsignedAndHandlesHighBytePrefixes) {
  for (const std::string key :
       {"k\xff", "k\x01", "k\x80", "k\x7f", "k\xff\x01", "k\xffz", "k\xfe", "l"}) {
    put(key, "v");
  }
  EXPECT_EQ(keys_under("k"), (std::vector<std::string>{"k\x01", "k\x7f", "k\x80", "k\xfe", "k\xff",
                                                       "k\xff\x01", "k\xffz"}));
  EXPECT_EQ(keys_under("k\xff"), (std::vector<std::string>{"k\xff", "k\xff\x01", "k\xffz"}));
}

TEST_P(StoreContract, CommitAppliesEveryOpUnderOneRevision) {
  const int64_t old = put("old", "x");
  const int64_t committed =
      ok_value(store().commit({put_op("a", "1"), put_op("b", "2", 0), erase_op("old", old)}));
  EXPECT_EQ(committed, rev(2));
  EXPECT_EQ(get("a")->mod_revision, committed);
  EXPECT_EQ(get("b")->mod_revision, committed);
  EXPECT_EQ(get("b")->value, "2");
  EXPECT_EQ(get("old"), std::nullopt);
}

TEST_P(StoreContract, CommitWithAFailingExpectationChangesNothing) {
  const int64_t a_rev = put("a", "1");
  put("b", "1");
  put("b", "2");
  Result<int64_t> result = store().commit({put_op("a", "changed", a_rev), erase_op("b"),
                                           put_op("c", "new", 0), put_op("d", "new", rev(99))});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_NE(result.error().message.find("\"d\""), std::string::npos) << result.error().message;
  EXPECT_EQ(get("a")->value, "1");
  EXPECT_EQ(get("a")->version, 1);
  EXPECT_EQ(get("b")->value, "2");
  EXPECT_EQ(get("c"), std::nullopt);
  EXPECT_EQ(revision(), rev(3));
}

TEST_P(StoreContract, CommitRejectsTheSameKeyTwiceAndChangesNothing) {
  Result<int64_t> result = store().commit({put_op("a", "1"), put_op("b", "1"), erase_op("a")});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(keys_under("").empty());
  EXPECT_EQ(revision(), rev(0));
}

TEST_P(StoreContract, CommitThatChangesNothingKeepsTheRevision) {
  put("a", "1");
  EXPECT_EQ(ok_value(store().commit({})), rev(1));
  EXPECT_EQ(ok_value(store().commit({erase_op("missing"), erase_op("absent", 0)})), rev(1));
  EXPECT_EQ(revision(), rev(1));
}

TEST_P(StoreContract, InvalidKeysAndValuesFailAndChangeNothing) {
  const std::string nul_key("a\0b", 3);
  for (Result<int64_t> result : {store().put("", "v"), store().put(nul_key, "v"),
                                 store().put(std::string(kMaxKeyBytes + 1, 'k'), "v"),
                                 store().put("k", std::string(kMaxValueBytes + 1, 'v')),
                                 store().compare_and_swap("k", "v", -1),
                                 store().commit({put_op("ok", "v"), put_op("", "")})}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().message;
  }
  EXPECT_EQ(store().erase(nul_key).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().get(nul_key).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().list(std::string("a\0", 2)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(keys_under("").empty());
  EXPECT_EQ(revision(), rev(0));
}

TEST_P(StoreContract, KeysAndValuesAtTheLimitsAreAccepted) {
  const std::string long_key(kMaxKeyBytes, 'k');
  put(long_key, "");
  ASSERT_TRUE(get(long_key).has_value());
  EXPECT_EQ(get(long_key)->value, "");
  EXPECT_EQ(keys_under("kk"), std::vector<std::string>{long_key});
}

TEST_P(StoreContract, LargeBinaryValuesRoundTrip) {
  constexpr size_t kMegabyte = 1024 * 1024;
  const std::string first = binary_value(kMegabyte, 1);
  const std::string second = binary_value(kMegabyte + 7, 2);
  put("blob", first);
  EXPECT_TRUE(get("blob")->value == first);
  put("blob", second);
  EXPECT_TRUE(get("blob")->value == second);
  const std::vector<KeyValue> listed = ok_value(store().list("bl"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed[0].value == second);
}

TEST_P(StoreContract, WatchDeliversPutsAndErasesUnderItsPrefixInCommitOrder) {
  EventLog log;
  store().watch("jobs/", log.callback());
  put("jobs/a", "1");
  put("nodes/x", "1");
  put("jobs/b", "1");
  ASSERT_TRUE(ok_value(store().erase("jobs/a")));
  ASSERT_FALSE(ok_value(store().erase("jobs/missing")));
  ok_value(store().commit({put_op("jobs/c", "2"), put_op("nodes/y", "2"), erase_op("jobs/b")}));

  const std::vector<WatchEvent> events = log.events();
  ASSERT_EQ(events.size(), 5u);
  using Kind = WatchEvent::Kind;
  const std::vector<std::tuple<Kind, std::string, int64_t>> expected = {
      {Kind::kPut, "jobs/a", rev(1)},
      {Kind::kPut, "jobs/b", rev(3)},
      {Kind::kErase, "jobs/a", rev(4)},
      {Kind::kPut, "jobs/c", rev(5)},
      {Kind::kErase, "jobs/b", rev(5)}};
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].kind, std::get<0>(expected[i])) << "event " << i;
    EXPECT_EQ(events[i].kv.key, std::get<1>(expected[i])) << "event " << i;
    EXPECT_EQ(events[i].kv.mod_revision, std::get<2>(expected[i])) << "event " << i;
  }
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[0].kv.version, 1);
  EXPECT_EQ(events[2].kv.value, "");
}

TEST_P(StoreContract, WatchStopsAfterUnwatch) {
  EventLog stopped;
  EventLog kept;
  const uint64_t id = store().watch("k", stopped.callback());
  store().watch("k", kept.callback());
  put("k1", "1");
  store().unwatch(id);
  put("k2", "2");
  store().unwatch(id);
  store().unwatch(12345);
  EXPECT_EQ(stopped.events().size(), 1u);
  EXPECT_EQ(kept.events().size(), 2u);
}

TEST_P(StoreContract, WatchSeesOnlyChangesCommittedAfterItStarted) {
  put("k/old", "1");
  EventLog log;
  store().watch("k/", log.callback());
  put("k/new", "2");
  ASSERT_EQ(log.events().size(), 1u);
  EXPECT_EQ(log.events()[0].kv.key, "k/new");
}

TEST_P(StoreContract, WatchSeesNothingFromConflictsOrRejectedWrites) {
  put("k", "1");
  EventLog log;
  store().watch("", log.callback());
  EXPECT_FALSE(store().compare_and_swap("k", "2", 0).ok());
  EXPECT_FALSE(store().commit({put_op("j", "1"), put_op("k", "2", rev(99))}).ok());
  EXPECT_FALSE(store().put("", "v").ok());
  EXPECT_TRUE(log.events().empty());
}

TEST_P(StoreContract, ConcurrentWritersGetDistinctRevisionsThatWatchesSeeInOrder) {
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 25;
  EventLog log;
  store().watch("w/", log.callback());
  std::vector<std::vector<int64_t>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        Result<int64_t> rev = store().put("w/" + std::to_string(t) + "/" + std::to_string(i), "v");
        if (rev.ok()) revisions[t].push_back(*rev);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<int64_t> all;
  for (const auto& some : revisions) all.insert(all.end(), some.begin(), some.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(kThreads * kWritesPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = rev(static_cast<int64_t>(i) + 1);
  EXPECT_EQ(all, expected);

  std::vector<int64_t> delivered;
  for (const WatchEvent& event : log.events()) delivered.push_back(event.kv.mod_revision);
  EXPECT_EQ(delivered, expected) << "watch events must arrive in commit order";
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreContract, ::testing::Values(kSqlite, kEtcd, kMemory),
                         [](const ::testing::TestParamInfo<StoreKind>& info) {
                           return info.param.name;
                         });

// What only EtcdStore can show: its endpoints and its key prefix.
class EtcdStoreEndpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdProcess::binary().empty()) GTEST_SKIP() << "no etcd binary (scripts/install-deps)";
    std::string error;
    etcd_ = SharedEtcd::get(&error);
    ASSERT_NE(etcd_, nullptr) << error;
  }
  std::unique_ptr<Store> open(std::vector<std::string> endpoints, std::string prefix) {
    Result<std::unique_ptr<EtcdStore>> store =
        EtcdStore::open(EtcdStoreOptions{std::move(endpoints), std::move(prefix)});
    if (!store.ok()) {
      ADD_FAILURE() << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }

  EtcdProcess* etcd_ = nullptr;
};

TEST_F(EtcdStoreEndpoints, ReadsAndWritesMoveOnFromAnEndpointThatCannotBeReached) {
  // Nothing listens on port 1 of loopback, so connecting fails and the write never left.
  std::unique_ptr<Store> store = open({"http://127.0.0.1:1", etcd_->client_url()}, "/failover/");
  ASSERT_NE(store, nullptr);
  const int64_t rev = ok_value(store->put("k", "v"));
  const std::optional<KeyValue> kv = ok_value(store->get("k"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->mod_revision, rev);
  EXPECT_EQ(ok_value(store->commit({put_op("k", "w", rev)})), rev + 1);
}

TEST_F(EtcdStoreEndpoints, AThreeMemberClusterKeepsServingWhenTheLeaderItUsesDies) {
  std::string error;
  std::unique_ptr<EtcdProcess> cluster = EtcdProcess::start(&error, 3);
  ASSERT_NE(cluster, nullptr) << error;
  // The leader first, so that the store's member dies and the others must elect a new leader.
  const size_t leader = cluster->leader();
  std::vector<std::string> endpoints = {cluster->client_urls()[leader]};
  for (size_t i = 0; i < 3; ++i) {
    if (i != leader) endpoints.push_back(cluster->client_urls()[i]);
  }
  std::unique_ptr<Store> store = open(endpoints, "/ha/");
  ASSERT_NE(store, nullptr);
  const int64_t before = ok_value(store->put("apps/web", "v1"));
  cluster->kill_member(leader);
  // The first write after that waits for etcd's request timeout (about 7 s with etcd's
  // defaults) and fails as unavailable, its outcome unknown: the store passes that on with
  // nothing acknowledged, and a retry succeeds once the other two have elected a leader.
  Result<int64_t> after = make_error(ErrorCode::kInternal, "not tried");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    after = store->put("apps/web", "v2");
    if (after.ok()) break;
    ASSERT_EQ(after.error().code, ErrorCode::kUnavailable) << after.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_GT(*after, before);
  const std::optional<KeyValue> kv = ok_value(store->get("apps/web"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v2");
  EXPECT_EQ(kv->mod_revision, *after);
}

TEST_F(EtcdStoreEndpoints, ClustersWithDifferentPrefixesDoNotSeeEachOther) {
  std::unique_ptr<Store> a = open({etcd_->client_url()}, "/cluster-a/");
  std::unique_ptr<Store> ab = open({etcd_->client_url()}, "/cluster-ab/");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(ab, nullptr);
  ok_value(a->put("apps/web", "a"));
  ok_value(ab->put("apps/web", "ab"));
  EXPECT_EQ(ok_value(a->get("apps/web"))->value, "a");
  EXPECT_EQ(keys_of(ok_value(a->list(""))), std::vector<std::string>{"apps/web"});
  EXPECT_TRUE(ok_value(a->erase("apps/web")));
  EXPECT_EQ(ok_value(ab->get("apps/web"))->value, "ab");
}

TEST_F(EtcdStoreEndpoints, OpeningRefusesNoEndpointsAndPrefixesThatCouldOverlap) {
  for (const EtcdStoreOptions& options :
       {EtcdStoreOptions{{}, "/berth/"}, EtcdStoreOptions{{etcd_->client_url()}, ""},
        EtcdStoreOptions{{etcd_->client_url()}, "/berth"},
        EtcdStoreOptions{{"127.0.0.1:2379"}, "/berth/"}}) {
    Result<std::unique_ptr<EtcdStore>> store = EtcdStore::open(options);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << store.error().message;
  }
}

// What only a file-backed store can show.
class SqliteStoreFile : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = make_temp_directory();
    ASSERT_FALSE(directory_.empty());
  }
  void TearDown() override {
    if (directory_.empty()) return;
    fs::permissions(directory_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(directory_);
  }

  fs::path directory_;
};

// Runs a one-row query on a separate read-only connection and returns the first column.
std::string query_on_second_connection(const fs::path& file, const char* sql) {
  sqlite3* db = nullptr;
  std::string answer;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      answer = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(statement);
  } else {
    ADD_FAILURE() << "cannot open " << file << ": " << sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  return answer;
}

TEST_F(SqliteStoreFile, KeepsDataAndRevisionAcrossReopening) {
  const std::string path = (directory_ / "store.db").string();
  {
    std::unique_ptr<Store> store = ok_value(open_sqlite_store(path));
    ASSERT_NE(store, nullptr);
    ok_value(store->put("jobs/web", "v1"));
    ok_value(store->put("jobs/web", "v2"));
    ok_value(store->put("jobs/db", "v1"));
    ASSERT_TRUE(ok_value(store->erase("jobs/db")));
  }
  std::unique_ptr<Store> store = ok_value(open_sqlite_store(path));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ok_value(store->revision()), 4);
  const std::optional<KeyValue> kv = ok_value(store->get("jobs/web"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->value, "v2");
  EXPECT_EQ(kv->create_revision, 1);
  EXPECT_EQ(kv->mod_revision, 2);
  EXPECT_EQ(kv->version, 2);
  EXPECT_EQ(ok_value(store->get("jobs/db")), std::nullopt);
  EXPECT_EQ(ok_value(store->put("jobs/api", "v1")), 5);
}

TEST_F(SqliteStoreFile, UsesWriteAheadLoggingAndEtcdShapedRows) {
  const fs::path path = directory_ / "store.db";
  std::unique_ptr<Store> store = ok_value(open_sqlite_store(path.string()));
  ASSERT_NE(store, nullptr);
  ok_value(store->put("jobs/web", "spec"));
  ok_value(store->put("jobs/web", "spec2"));
  EXPECT_EQ(query_on_second_connection(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_on_second_connection(
                path,
                "SELECT value || ' ' || create_rev || ' ' || mod_rev || ' ' || version "
                "FROM kv WHERE key = 'jobs/web'"),
            "spec2 1 2 2");
  EXPECT_EQ(query_on_second_connection(path, "SELECT value FROM meta WHERE name = 'revision'"),
            "2");
}

TEST_F(SqliteStoreFile, OpeningInAMissingDirectoryFailsAndNamesIt) {
  const fs::path missing = directory_ / "no-such-dir";
  const std::string path = (missing / "store.db").string();
  Result<std::unique_ptr<Store>> store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kNotFound);
  EXPECT_NE(store.error().message.find(missing.string() + " does not exist"), std::string::npos)
      << store.error().message;
  EXPECT_FALSE(fs::exists(missing)) << "the store must not create its directory";
}

TEST_F(SqliteStoreFile, OpeningUnderARegularFileFailsClearly) {
  const fs::path file = directory_ / "plain-file";
  std::ofstream(file) << "not a directory";
  Result<std::unique_ptr<Store>> store = open_sqlite_store((file / "store.db").string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(file.string() + " is not a directory"), std::string::npos)
      << store.error().message;
}

TEST_F(SqliteStoreFile, OpeningADirectoryFailsClearly) {
  Result<std::unique_ptr<Store>> store = open_sqlite_store(directory_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(directory_.string() + " is a directory"), std::string::npos)
      << store.error().message;
}

TEST_F(SqliteStoreFile, OpeningAFileThatIsNotAStoreFailsAndLeavesItAlone) {
  const fs::path file = directory_ / "notes.txt";
  const std::string content(4096, 'x');
  std::ofstream(file) << content;
  Result<std::unique_ptr<Store>> store = open_sqlite_store(file.string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find(file.string()), std::string::npos) << store.error().message;
  EXPECT_NE(store.error().message.find("not a database"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(fs::file_size(file), content.size());
}

TEST_F(SqliteStoreFile, OpeningInAReadOnlyDirectoryIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root can write to read-only directories";
  fs::permissions(directory_, fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = (directory_ / "store.db").string();
  Result<std::unique_ptr<Store>> store = open_sqlite_store(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(store.error().message.find(path), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace berth
