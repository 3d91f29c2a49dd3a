// Where the master keeps its state, as given by `berth master --store URL`
// (docs/architecture.md §5): `sqlite://PATH` for the embedded SqliteStore (the default, a file
// in the data directory) or `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]` for an EtcdStore on an
// etcd cluster. Called by the master's main; parsing is pure, opening does the I/O.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace berth {

inline constexpr int kDefaultEtcdPort = 2379;
inline constexpr std::string_view kDefaultEtcdPrefix = "/berth/";

struct StoreUrl {
  enum class Kind { kSqlite, kEtcd };
  Kind kind = Kind::kSqlite;
  std::string sqlite_path;             // kSqlite: the database file
  std::vector<std::string> endpoints;  // kEtcd: "http://host:port", in the order given
  std::string prefix;                  // kEtcd: every key's prefix, ending with '/'
};

// Parses a --store URL. `etcd://` hosts are separated by commas, each with an optional port
// (default 2379); the optional path is the key prefix ("/prod" becomes "/prod/", none gives
// "/berth/"). kInvalidArgument, naming the URL and showing the accepted forms, for anything
// else: another scheme, an empty path, host or port, a port outside 1-65535.
Result<StoreUrl> parse_store_url(std::string_view url);

// Opens the store `url` names; errors as open_sqlite_store() and EtcdStore::open().
Result<std::unique_ptr<Store>> open_store(const StoreUrl& url);

}  // namespace berth
