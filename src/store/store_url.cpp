#include "store/store_url.h"

#include <charconv>
#include <utility>

#include "store/etcd_store.h"

namespace berth {
namespace {

constexpr std::string_view kForms =
    "expected sqlite://PATH or etcd://HOST[:PORT][,HOST[:PORT]...][/PREFIX], e.g. "
    "etcd://10.0.0.1:2379,10.0.0.2:2379/prod";

Error bad_url(std::string_view url, std::string_view what) {
  return make_error(ErrorCode::kInvalidArgument, "invalid --store '" + std::string(url) +
                                                     "': " + std::string(what) + "; " +
                                                     std::string(kForms));
}

// "host", "host:port" or "[v6]:port" as an http:// base URL.
Result<std::string> parse_endpoint(std::string_view url, std::string_view host_port) {
  std::string_view host = host_port;
  std::string_view port;
  const size_t bracket = host_port.rfind(']');
  const size_t colon = host_port.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return bad_url(url, "an etcd host is empty");
  if (host.find_first_of("/?#@ ") != std::string_view::npos) {
    return bad_url(url, "'" + std::string(host) + "' is not a host name or address");
  }
  int number = kDefaultEtcdPort;
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < 1 ||
        number > 65535) {
      return bad_url(url, "port '" + std::string(port) + "' of host '" + std::string(host) +
                              "' is not a number from 1 to 65535");
    }
  }
  return "http://" + std::string(host) + ":" + std::to_string(number);
}

Result<StoreUrl> parse_etcd(std::string_view url, std::string_view rest) {
  StoreUrl out;
  out.kind = StoreUrl::Kind::kEtcd;
  const size_t slash = rest.find('/');
  const std::string_view hosts = rest.substr(0, slash);
  if (hosts.empty()) return bad_url(url, "no etcd hosts");
  for (size_t start = 0; start <= hosts.size();) {
    const size_t comma = std::min(hosts.find(',', start), hosts.size());
    Result<std::string> endpoint = parse_endpoint(url, hosts.substr(start, comma - start));
    if (!endpoint.ok()) return endpoint.error();
    out.endpoints.push_back(std::move(*endpoint));
    start = comma + 1;
  }
  if (slash == std::string_view::npos) {
    out.prefix = kDefaultEtcdPrefix;
    return out;
  }
  out.prefix = rest.substr(slash);
  if (out.prefix.find_first_not_of('/') == std::string::npos) {
    return bad_url(url,
                   "the key prefix is empty: give one after the hosts, e.g. /prod, or none "
                   "for " +
                       std::string(kDefaultEtcdPrefix));
  }
  if (out.prefix.find_first_of("?#") != std::string::npos ||
      out.prefix.find('\0') != std::string::npos) {
    return bad_url(url, "the key prefix '" + out.prefix + "' holds '?', '#' or a NUL byte");
  }
  if (!out.prefix.ends_with('/')) out.prefix += '/';
  return out;
}

}  // namespace

Result<StoreUrl> parse_store_url(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad_url(url, "no scheme");
  const std::string_view scheme = url.substr(0, scheme_end);
  const std::string_view rest = url.substr(scheme_end + 3);
  if (scheme == "sqlite") {
    if (rest.empty()) return bad_url(url, "the SQLite file's path is empty");
    StoreUrl out;
    out.sqlite_path = rest;
    return out;
  }
  if (scheme == "etcd") return parse_etcd(url, rest);
  return bad_url(url, "unknown scheme '" + std::string(scheme) + "'");
}

Result<std::unique_ptr<Store>> open_store(const StoreUrl& url) {
  if (url.kind == StoreUrl::Kind::kSqlite) return open_sqlite_store(url.sqlite_path);
  Result<std::unique_ptr<EtcdStore>> store =
      EtcdStore::open(EtcdStoreOptions{url.endpoints, url.prefix});
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace berth
