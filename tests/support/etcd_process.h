// A real etcd cluster for tests, one member by default: the `etcd` binary (Debian's
// etcd-server, which scripts/install-deps installs), each member started on free loopback ports
// with a fresh data directory in one temporary directory, all killed (and the directory
// removed) when the object goes.
// Used by the Store contract suite and the integration test of `berth master --store etcd://`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace berth::testing {

class EtcdProcess {
 public:
  // The etcd binary: $BERTH_ETCD if set, else `etcd` on PATH; "" when there is none.
  static std::string binary();
  // Starts a cluster of `members` and waits until every member answers; nullptr (with the
  // reason in *error, the logs included) when one does not within 30 s. The limits are raised
  // so that the Store's own (kMaxValueBytes values) are the ones a test meets. Each member also
  // takes clients on `extra_client_hosts` (addresses of this host, e.g. the host's end of a veth
  // pair to a network namespace), on the same port as on loopback.
  static std::unique_ptr<EtcdProcess> start(
      std::string* error, int members = 1, const std::vector<std::string>& extra_client_hosts = {});
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // The first member's "http://127.0.0.1:PORT".
  const std::string& client_url() const { return client_urls_.front(); }
  const std::vector<std::string>& client_urls() const { return client_urls_; }
  // "127.0.0.1:PORT" of the first member, for an etcd:// store URL.
  std::string host_port() const { return client_url().substr(7); }
  // The first member's client port.
  int client_port() const { return std::stoi(host_port().substr(host_port().rfind(':') + 1)); }
  // etcd's current revision, asked of the first member: it grows with every write to etcd, and
  // only then; -1 when the member does not answer.
  int64_t revision() const;
  // The index of the member that leads the cluster now; 0 when no member says.
  size_t leader() const;
  // SIGKILLs member `index` (0-based).
  void kill_member(size_t index);
  // SIGSTOPs member `index`: it keeps its sockets but answers nothing, and its clock-driven work
  // (lease expiry included) stops too, until resume_member(index) SIGCONTs it.
  void pause_member(size_t index);
  void resume_member(size_t index);

 private:
  explicit EtcdProcess(std::string dir) : dir_(std::move(dir)) {}
  std::string logs() const;

  std::string dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> client_urls_;
};

}  // namespace berth::testing
