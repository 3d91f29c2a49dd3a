// The connection engine (connection_engine.h): admitting connections, and starting and stopping
// the I/O thread and the workers. The connections themselves are in engine_session.h.
#include "http/connection_engine.h"

#include <boost/asio/post.hpp>
#include <future>

#include "http/engine_session.h"

namespace berth::http::internal {

namespace {

// Makes room for a connection from `client` by closing idle ones; false when there is none.
bool make_room(EngineCore& core, const std::string& client) {
  while (true) {
    ConnectionBook::Room room = core.book.make_room(client);
    if (room.kind == ConnectionBook::Room::kAdmit) return true;
    if (room.kind == ConnectionBook::Room::kRefuse) return false;
    auto it = core.open.find(room.victim);
    std::shared_ptr<SessionBase> victim = it == core.open.end() ? nullptr : it->second.lock();
    if (victim) {
      victim->close();
    } else {
      core.book.remove(room.victim);
      if (it != core.open.end()) core.open.erase(it);
    }
  }
}

template <class Stream, class... Args>
void admit(EngineCore& core, const std::string& client, std::string remote, Args&&... stream_args) {
  if (core.stopping || !make_room(core, client)) return;  // the caller's socket closes
  uint64_t id = core.next_id++;
  auto session = std::make_shared<Session<Stream>>(core, id, std::move(remote),
                                                   std::forward<Args>(stream_args)...);
  core.book.add(id, client);
  core.open.emplace(id, session);
  session->start();
}

}  // namespace

ConnectionEngine::ConnectionEngine(const ServerOptions& options, Handler handler,
                                   std::shared_ptr<ssl::context> tls)
    : core_(std::make_unique<EngineCore>(options, std::move(handler), std::move(tls))) {}

ConnectionEngine::~ConnectionEngine() { stop(); }

asio::io_context& ConnectionEngine::io() { return core_->io; }

void ConnectionEngine::start() {
  io_thread_ = std::thread([core = core_.get()] { core->io.run(); });
}

bool ConnectionEngine::stopping() const { return core_->stopping; }

void ConnectionEngine::adopt(tcp::socket socket) {
  error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;
  asio::ip::address address = peer.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  std::string client = address.to_string();
  std::string remote = client + ":" + std::to_string(peer.port());
  socket.set_option(tcp::no_delay(true), ec);
  if (core_->tls) {
    admit<ssl::stream<tcp::socket>>(*core_, client, std::move(remote), std::move(socket),
                                    *core_->tls);
  } else {
    admit<tcp::socket>(*core_, client, std::move(remote), std::move(socket));
  }
}

void ConnectionEngine::adopt(unix_stream::socket socket, const std::string& remote) {
  admit<unix_stream::socket>(*core_, "unix", remote, std::move(socket));
}

void ConnectionEngine::run_on_io(const std::function<void()>& work) {
  if (!io_thread_.joinable()) return work();
  std::promise<void> done;
  std::future<void> result = done.get_future();
  asio::post(core_->io, [&] {
    work();
    done.set_value();
  });
  result.wait();
}

void ConnectionEngine::stop() {
  if (core_->stopping.exchange(true)) return;
  if (io_thread_.joinable()) {
    asio::post(core_->io, [core = core_.get()] {
      std::vector<std::shared_ptr<SessionBase>> sessions;
      for (auto& [id, weak] : core->open) {
        if (auto session = weak.lock()) sessions.push_back(std::move(session));
      }
      for (auto& session : sessions) session->shut_down_for_stop();
    });
    std::unique_lock<std::mutex> lock(core_->mu);
    core_->drained.wait(lock, [this] { return core_->live == 0; });
  }
  core_->work.reset();
  core_->io.stop();
  if (io_thread_.joinable()) io_thread_.join();
  core_->pool.shut_down();
  core_->reserved_pool.shut_down();
  core_->urgent_pool.shut_down();
}

}  // namespace berth::http::internal
