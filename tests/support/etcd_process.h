// A real, single-member etcd for tests: the `etcd` binary (Debian's etcd-server, which
// scripts/install-deps installs) started on free loopback ports with a fresh data directory
// in a temporary directory, and killed (with the directory removed) when the object goes.
// Used by the Store contract suite and the integration test of `berth master --store etcd://`.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace berth::testing {

class EtcdProcess {
 public:
  // The etcd binary: $BERTH_ETCD if set, else `etcd` on PATH; "" when there is none.
  static std::string binary();
  // Starts etcd and waits until it answers; nullptr (with the reason in *error, its log
  // included) when it does not within 30 s. The limits are raised so that the Store's own
  // (kMaxValueBytes values) are the ones a test meets.
  static std::unique_ptr<EtcdProcess> start(std::string* error);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "http://127.0.0.1:PORT"
  const std::string& client_url() const { return client_url_; }
  // "127.0.0.1:PORT", for an etcd:// store URL.
  std::string host_port() const { return client_url_.substr(7); }

 private:
  EtcdProcess(pid_t pid, std::string dir, std::string client_url)
      : pid_(pid), dir_(std::move(dir)), client_url_(std::move(client_url)) {}

  pid_t pid_;
  std::string dir_;
  std::string client_url_;
};

}  // namespace berth::testing
