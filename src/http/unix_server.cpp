// The unix-socket HTTP server behind serve_unix(): an acceptor on a connection engine (the
// same request loop, deadlines and worker threads as the TCP server). Its user is the Docker
// volume plugin, which Docker reaches over /run/docker/plugins/<name>.sock with persistent
// connections.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "http/connection_engine.h"
#include "http/http.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
using unix_stream = asio::local::stream_protocol;

// Only root can connect, so one client; these bound what a runaway one can hold.
constexpr size_t kMaxConnections = 1024;
constexpr size_t kMaxBusyConnections = 256;
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

ServerOptions unix_options(size_t max_body_bytes, std::chrono::milliseconds header_timeout,
                           std::chrono::milliseconds body_timeout) {
  ServerOptions options;
  options.max_connections = kMaxConnections;
  options.max_idle_connections = kMaxConnections;
  options.max_idle_connections_per_client = kMaxConnections;
  options.max_busy_connections = kMaxBusyConnections;
  options.max_busy_connections_per_client = kMaxBusyConnections;
  options.max_body_bytes = max_body_bytes;
  options.keep_alive_timeout = std::chrono::milliseconds(0);  // Docker keeps its connections
  options.header_timeout = header_timeout;
  options.body_timeout = body_timeout;
  return options;
}

// What sits at `path` now: nothing, a socket some process answers on, a stale socket, or
// something that is not a socket at all.
enum class PathState { kAbsent, kLiveSocket, kStaleSocket, kNotSocket };

PathState probe_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return PathState::kAbsent;
  if (!S_ISSOCK(st.st_mode)) return PathState::kNotSocket;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PathState::kStaleSocket;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return live ? PathState::kLiveSocket : PathState::kStaleSocket;
}

std::string peer_description(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return "unix";
  return "unix:pid=" + std::to_string(cred.pid) + ",uid=" + std::to_string(cred.uid);
}

class UnixServer final : public Server {
 public:
  UnixServer(std::string path, Handler handler, const ServerOptions& options)
      : path_(std::move(path)),
        engine_(options, std::move(handler), nullptr),
        acceptor_(engine_.io()),
        retry_timer_(engine_.io()) {}

  ~UnixServer() override { stop(); }

  Status start() {
    if (path_.empty() || path_.size() >= sizeof(sockaddr_un::sun_path)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "unix socket path '" + path_ + "' must be 1 to " +
                            std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes long");
    }
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    std::error_code fs_ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, fs_ec);
    if (fs_ec) {
      return make_error(ErrorCode::kUnavailable, "cannot create directory '" + parent.string() +
                                                     "' for socket: " + fs_ec.message());
    }
    switch (probe_path(path_)) {
      case PathState::kLiveSocket:
        return make_error(ErrorCode::kConflict, "another process is already serving '" + path_ +
                                                    "'; stop it or choose another socket path");
      case PathState::kNotSocket:
        return make_error(
            ErrorCode::kConflict,
            "'" + path_ + "' exists and is not a socket; remove it or choose another path");
      case PathState::kAbsent:
      case PathState::kStaleSocket:
        break;  // a stale socket is replaced by the rename below
    }
    // Binding under a temporary name and renaming means the final name never refers to a
    // socket with looser permissions, nor to nothing while a stale one is replaced.
    std::string temp = path_ + ".tmp" + std::to_string(::getpid());
    if (temp.size() >= sizeof(sockaddr_un::sun_path)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "unix socket path '" + path_ +
                            "' leaves no room for a temporary name; use a shorter path");
    }
    ::unlink(temp.c_str());
    boost::system::error_code ec;
    unix_stream::endpoint endpoint(temp);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    std::string failed_step = "bind";
    if (!ec && ::chmod(temp.c_str(), 0600) != 0) {
      ec.assign(errno, boost::system::system_category());
      failed_step = "chmod";
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      failed_step = "listen";
    }
    if (!ec && ::rename(temp.c_str(), path_.c_str()) != 0) {
      ec.assign(errno, boost::system::system_category());
      failed_step = "rename";
    }
    if (ec) {
      ::unlink(temp.c_str());
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return make_error(ErrorCode::kUnavailable, "cannot serve unix socket '" + path_ + "' (" +
                                                     failed_step + "): " + ec.message());
    }
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) inode_ = st.st_ino;
    accept_next();
    engine_.start();
    return {};
  }

  uint16_t port() const override { return 0; }

  void stop() override {
    if (engine_.stopping()) return;
    engine_.run_on_io([this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      retry_timer_.cancel();
    });
    remove_socket_file();
    engine_.stop();
  }

 private:
  // Removes the socket file only if it is still the one we bound: a newer server may have
  // replaced it, and its socket must stay.
  void remove_socket_file() {
    struct stat st {};
    if (inode_ != 0 && ::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_ino == inode_) {
      ::unlink(path_.c_str());
    }
  }

  void accept_next() {
    acceptor_.async_accept([this](boost::system::error_code ec, unix_stream::socket socket) {
      if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
      if (ec) {
        retry_timer_.expires_after(kAcceptRetryDelay);
        retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open()) accept_next();
        });
        return;
      }
      std::string remote = peer_description(socket.native_handle());
      engine_.adopt(std::move(socket), remote);
      accept_next();
    });
  }

  std::string path_;
  internal::ConnectionEngine engine_;
  unix_stream::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  ino_t inode_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> serve_unix(const std::string& socket_path, Handler handler,
                                           size_t max_body_bytes,
                                           std::chrono::milliseconds header_timeout,
                                           std::chrono::milliseconds body_timeout) {
  auto server = std::make_unique<UnixServer>(
      socket_path, std::move(handler), unix_options(max_body_bytes, header_timeout, body_timeout));
  Status started = server->start();
  if (!started) return started.error();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace berth::http
