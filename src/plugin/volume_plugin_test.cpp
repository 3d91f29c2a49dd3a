// The volume plugin over a real unix socket, spoken to the way Docker speaks it (POST,
// empty Host header, JSON + "\n" bodies, keep-alive), against a fake backend.
#include "plugin/volume_plugin.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

namespace berth::plugin {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// In-memory backend that records calls, can fail on demand and can hold mounts at a gate.
class FakeBackend final : public VolumeBackend {
 public:
  Status create(const std::string& name,
                const std::map<std::string, std::string>& options) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++create_calls;
    if (fail_with) return *fail_with;
    volumes_[name] = options;
    return {};
  }
  Status remove(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!volumes_.erase(name)) return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    return {};
  }
  std::optional<PluginVolume> get(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!volumes_.count(name)) return std::nullopt;
    return volume(name);
  }
  std::vector<PluginVolume> list() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<PluginVolume> out;
    for (const auto& entry : volumes_) out.push_back(volume(entry.first));
    return out;
  }
  Result<std::string> mount(const std::string& name, const std::string& mount_id,
                            std::chrono::steady_clock::time_point deadline) override {
    std::unique_lock<std::mutex> lock(mu_);
    mount_calls.push_back(mount_id);
    last_deadline = deadline;
    ++in_mount_;
    max_in_mount = std::max(max_in_mount, in_mount_);
    changed_.notify_all();
    changed_.wait(lock, [this] { return gate_open_; });
    --in_mount_;
    if (fail_with) return *fail_with;
    if (!volumes_.count(name)) return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    mounted_.insert(name);
    return "/fake/" + name;
  }
  Status unmount(const std::string& name, const std::string& mount_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    unmount_calls.push_back(mount_id);
    mounted_.erase(name);
    return {};
  }
  Result<std::string> path(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!mounted_.count(name))
      return make_error(ErrorCode::kUnavailable, "volume " + name + " is not mounted here");
    return "/fake/" + name;
  }

  void close_gate() {
    std::lock_guard<std::mutex> lock(mu_);
    gate_open_ = false;
  }
  void open_gate() {
    std::lock_guard<std::mutex> lock(mu_);
    gate_open_ = true;
    changed_.notify_all();
  }
  // Waits (bounded) until a mount is inside the backend.
  bool wait_for_mount_inside() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, 10s, [this] { return in_mount_ > 0; });
  }
  std::map<std::string, std::string> options_of(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return volumes_.at(name);
  }

  // Read after the requests that change them have been answered.
  int create_calls = 0;
  std::vector<std::string> mount_calls;
  std::vector<std::string> unmount_calls;
  std::chrono::steady_clock::time_point last_deadline{};
  int max_in_mount = 0;
  std::optional<Error> fail_with;

 private:
  PluginVolume volume(const std::string& name) {
    PluginVolume v{name, mounted_.count(name) ? "/fake/" + name : "", {{"node", "n1"}}};
    return v;
  }

  std::mutex mu_;
  std::condition_variable changed_;
  bool gate_open_ = true;
  int in_mount_ = 0;
  std::map<std::string, std::map<std::string, std::string>> volumes_;
  std::set<std::string> mounted_;
};

struct Reply {
  int status = 0;
  json body;
};

// A minimal HTTP/1.1 client over a unix socket that sends what Docker sends.
class DockerLikeConnection {
 public:
  explicit DockerLikeConnection(const std::string& socket_path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval timeout{10, 0};  // a hung server fails the test instead of hanging it
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~DockerLikeConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }

  // Sends raw bytes and reads one response; status 0 when the connection failed or closed.
  Reply raw(const std::string& bytes) {
    Reply reply;
    if (!connected_ || !send_all(bytes)) return reply;
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (!read_more()) return reply;
      head = buffer_;
    }
    size_t head_end = buffer_.find("\r\n\r\n") + 4;
    head = buffer_.substr(0, head_end);
    size_t length = 0;
    std::string lower = head;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower.find("content-length:");
    if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
    while (buffer_.size() < head_end + length) {
      if (!read_more()) return reply;
    }
    std::string body = buffer_.substr(head_end, length);
    buffer_.erase(0, head_end + length);
    reply.status = std::stoi(head.substr(9, 3));
    reply.body = json::parse(body, nullptr, false);
    return reply;
  }

  Reply post(const std::string& path, const std::string& body) {
    return raw("POST " + path +
               " HTTP/1.1\r\nHost: \r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: " +
               std::to_string(body.size()) +
               "\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n" +
               "Accept-Encoding: gzip\r\n\r\n" + body);
  }
  Reply post(const std::string& path, const json& body) { return post(path, body.dump() + "\n"); }

 private:
  bool send_all(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  bool read_more() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string temp_socket_dir() {
  static std::atomic<int> counter{0};
  return "/tmp/berth-plugin-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

class VolumePluginTest : public ::testing::Test {
 protected:
  void SetUp() override { start(PluginOptions{}); }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(PluginOptions options) {
    server_.reset();
    if (dir_.empty()) dir_ = temp_socket_dir();
    socket_ = dir_ + "/plugins/test.sock";
    options.clock = &clock_;
    plugin_ = std::make_shared<VolumePlugin>(backend_, options);
    auto served = http::serve_unix(socket_, [this](const http::Request& request) {
      {
        std::lock_guard<std::mutex> lock(arrived_mu_);
        ++arrived_;
      }
      arrived_cv_.notify_all();
      return plugin_->handle(request);
    });
    ASSERT_TRUE(served.ok()) << served.error().message;
    server_ = std::move(*served);
  }

  Reply call(const std::string& path, const json& body) {
    return DockerLikeConnection(socket_).post(path, body);
  }

  bool wait_for_arrivals(int count) {
    std::unique_lock<std::mutex> lock(arrived_mu_);
    return arrived_cv_.wait_for(lock, 10s, [&] { return arrived_ >= count; });
  }

  FakeBackend backend_;
  ManualClock clock_;
  std::shared_ptr<VolumePlugin> plugin_;
  std::string dir_;
  std::string socket_;
  std::unique_ptr<http::Server> server_;
  std::mutex arrived_mu_;
  std::condition_variable arrived_cv_;
  int arrived_ = 0;
};

const std::string kId1(64, 'a');
const std::string kId2(64, 'b');

TEST_F(VolumePluginTest, ActivateAnnouncesAVolumeDriver) {
  DockerLikeConnection docker(socket_);
  Reply reply = docker.post("/Plugin.Activate", std::string());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, json::parse(R"({"Implements":["VolumeDriver"]})"));
}

TEST_F(VolumePluginTest, CapabilitiesSayGlobalScope) {
  Reply reply = call("/VolumeDriver.Capabilities", json::object());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["Capabilities"]["Scope"], "global");
}

TEST_F(VolumePluginTest, CreateGetListPathAndRemoveHaveDockersShapes) {
  DockerLikeConnection docker(socket_);  // one keep-alive connection, as Docker uses
  Reply created =
      docker.post("/VolumeDriver.Create", json{{"Name", "v1"}, {"Opts", {{"size", "1G"}}}});
  EXPECT_EQ(created.status, 200);
  EXPECT_EQ(created.body, json::parse(R"({"Err":""})"));
  EXPECT_EQ(backend_.options_of("v1"), (std::map<std::string, std::string>{{"size", "1G"}}));

  Reply got = docker.post("/VolumeDriver.Get", json{{"Name", "v1"}});
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body["Err"], "");
  EXPECT_EQ(got.body["Volume"]["Name"], "v1");
  EXPECT_EQ(got.body["Volume"]["Status"]["node"], "n1");
  EXPECT_FALSE(got.body["Volume"].contains("Mountpoint"));  // not mounted here yet

  Reply listed = docker.post("/VolumeDriver.List", json::object());
  EXPECT_EQ(listed.body["Err"], "");
  ASSERT_EQ(listed.body["Volumes"].size(), 1u);
  EXPECT_EQ(listed.body["Volumes"][0]["Name"], "v1");

  Reply mounted = docker.post("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}});
  EXPECT_EQ(mounted.body, json::parse(R"({"Mountpoint":"/fake/v1","Err":""})"));
  Reply path = docker.post("/VolumeDriver.Path", json{{"Name", "v1"}});
  EXPECT_EQ(path.body, json::parse(R"({"Mountpoint":"/fake/v1","Err":""})"));
  EXPECT_EQ(docker.post("/VolumeDriver.Get", json{{"Name", "v1"}}).body["Volume"]["Mountpoint"],
            "/fake/v1");
  Reply unmounted = docker.post("/VolumeDriver.Unmount", json{{"Name", "v1"}, {"ID", kId1}});
  EXPECT_EQ(unmounted.body, json::parse(R"({"Err":""})"));

  Reply removed = docker.post("/VolumeDriver.Remove", json{{"Name", "v1"}});
  EXPECT_EQ(removed.body, json::parse(R"({"Err":""})"));
  EXPECT_EQ(docker.post("/VolumeDriver.List", json::object()).body["Volumes"], json::array());
}

TEST_F(VolumePluginTest, CreateWithNullOptsPassesNoOptions) {
  EXPECT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}, {"Opts", nullptr}}).body["Err"], "");
  EXPECT_TRUE(backend_.options_of("v1").empty());
}

TEST_F(VolumePluginTest, GetOfAnUnknownVolumeAnswersErr) {
  Reply reply = call("/VolumeDriver.Get", json{{"Name", "nope"}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["Err"], "no such volume: nope");
  EXPECT_FALSE(reply.body.contains("Volume"));
}

TEST_F(VolumePluginTest, EmptyBodyFromADockerRetryGetsErrAndChangesNothing) {
  DockerLikeConnection docker(socket_);
  for (const char* method : {"/VolumeDriver.Create", "/VolumeDriver.Mount", "/VolumeDriver.Unmount",
                             "/VolumeDriver.Remove", "/VolumeDriver.Get"}) {
    Reply reply = docker.post(method, std::string());
    EXPECT_EQ(reply.status, 200) << method;
    EXPECT_NE(reply.body["Err"].get<std::string>().find("empty request body"), std::string::npos)
        << method;
  }
  EXPECT_EQ(backend_.create_calls, 0);
  EXPECT_TRUE(backend_.mount_calls.empty());
}

// Found by tests/fuzz/plugin_request: an Err quoting what Docker sent, cut to a length or
// percent-decoded from the path, may not be UTF-8, and nlohmann's dump threw on it.
TEST_F(VolumePluginTest, ErrorsQuotingBytesThatAreNotUtf8AreStillJson) {
  DockerLikeConnection docker(socket_);
  // 254 letters then "é": the name is cut to 255 bytes, inside the "é".
  Reply cut =
      docker.post("/VolumeDriver.Create", json{{"Name", std::string(254, 'a') + "\xc3\xa9"}});
  ASSERT_TRUE(cut.body.is_object());
  EXPECT_NE(cut.body["Err"].get<std::string>().find("invalid volume name"), std::string::npos);
  Reply decoded = docker.post("/VolumeDriver.%FF", std::string("{}"));
  EXPECT_EQ(decoded.status, 404);
  ASSERT_TRUE(decoded.body.is_object());
  EXPECT_NE(decoded.body["Err"].get<std::string>().find("unknown endpoint"), std::string::npos);
}

TEST_F(VolumePluginTest, MalformedBodiesGetErrNamingTheProblem) {
  DockerLikeConnection docker(socket_);
  EXPECT_NE(docker.post("/VolumeDriver.Create", std::string("{not json"))
                .body["Err"]
                .get<std::string>()
                .find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(docker.post("/VolumeDriver.Create", json{{"Nom", "v1"}})
                .body["Err"]
                .get<std::string>()
                .find("\"Name\""),
            std::string::npos);
  EXPECT_NE(docker.post("/VolumeDriver.Create", json{{"Name", "v1"}, {"Opts", {{"size", 1}}}})
                .body["Err"]
                .get<std::string>()
                .find("option 'size' must be a string"),
            std::string::npos);
  EXPECT_NE(docker.post("/VolumeDriver.Mount", json{{"Name", "v1"}})
                .body["Err"]
                .get<std::string>()
                .find("\"ID\""),
            std::string::npos);
  EXPECT_EQ(backend_.create_calls, 0);
}

TEST_F(VolumePluginTest, InvalidVolumeNamesAreRejectedBeforeTheBackendSeesThem) {
  for (const char* name : {"../etc", "a", "-v", "has space", "x/y", ""}) {
    Reply reply = call("/VolumeDriver.Create", json{{"Name", name}});
    EXPECT_NE(reply.body["Err"].get<std::string>().find("invalid volume name"), std::string::npos)
        << name;
  }
  EXPECT_EQ(backend_.create_calls, 0);
  EXPECT_TRUE(validate_volume_name("db_1.data-x").ok());
  EXPECT_FALSE(validate_volume_name(std::string(256, 'a')).ok());
}

TEST_F(VolumePluginTest, MountGivesTheBackendADeadlineWellBeforeDockersTwoMinutes) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  clock_.advance(5s);
  ASSERT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}}).body["Err"], "");
  EXPECT_EQ(backend_.last_deadline, clock_.mono_now() + 100s);
}

TEST_F(VolumePluginTest, RepeatedMountOfOneIdCallsTheBackendOnce) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}}).body["Mountpoint"],
              "/fake/v1");
  }
  EXPECT_EQ(backend_.mount_calls.size(), 1u);
}

TEST_F(VolumePluginTest, BackendUnmountsOnlyWhenTheLastMountIdGoes) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  ASSERT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}}).body["Err"], "");
  ASSERT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId2}}).body["Err"], "");
  EXPECT_EQ(plugin_->active_mounts().at("v1"), (std::set<std::string>{kId1, kId2}));

  EXPECT_EQ(call("/VolumeDriver.Unmount", json{{"Name", "v1"}, {"ID", kId1}}).body["Err"], "");
  EXPECT_TRUE(backend_.unmount_calls.empty());
  EXPECT_EQ(call("/VolumeDriver.Unmount", json{{"Name", "v1"}, {"ID", kId2}}).body["Err"], "");
  EXPECT_EQ(backend_.unmount_calls, std::vector<std::string>{kId2});
  EXPECT_TRUE(plugin_->active_mounts().empty());
}

TEST_F(VolumePluginTest, UnmountOfAnUnknownIdIsToleratedWithoutCallingTheBackend) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  ASSERT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}}).body["Err"], "");
  Reply reply = call("/VolumeDriver.Unmount", json{{"Name", "v1"}, {"ID", kId2}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["Err"], "");
  EXPECT_EQ(call("/VolumeDriver.Unmount", json{{"Name", "other"}, {"ID", kId1}}).body["Err"], "");
  EXPECT_TRUE(backend_.unmount_calls.empty());
  EXPECT_EQ(plugin_->active_mounts().at("v1"), std::set<std::string>{kId1});
}

TEST_F(VolumePluginTest, ParallelMountsOfOneVolumeAllSucceedAndReachTheBackendOneAtATime) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  constexpr int kMounts = 4;
  backend_.close_gate();
  std::vector<std::thread> dockers;
  std::vector<Reply> replies(kMounts);
  for (int i = 0; i < kMounts; ++i) {
    dockers.emplace_back([&, i] {
      replies[i] = DockerLikeConnection(socket_).post(
          "/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", std::string(64, 'a' + i)}});
    });
  }
  // All four requests are in the server (one inside the backend, three waiting) before any
  // of them may finish.
  bool all_arrived = wait_for_arrivals(1 + kMounts) && backend_.wait_for_mount_inside();
  backend_.open_gate();
  for (auto& t : dockers) t.join();
  ASSERT_TRUE(all_arrived);
  for (const Reply& reply : replies) {
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body["Mountpoint"], "/fake/v1") << reply.body.dump();
  }
  EXPECT_EQ(backend_.max_in_mount, 1);
  EXPECT_EQ(backend_.mount_calls.size(), static_cast<size_t>(kMounts));
  EXPECT_EQ(plugin_->active_mounts().at("v1").size(), static_cast<size_t>(kMounts));
}

TEST_F(VolumePluginTest, BackendErrorTextReachesDockerAsErr) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  backend_.fail_with =
      make_error(ErrorCode::kConflict, "volume 'v1' is in exclusive use on node n2");
  Reply reply = call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, json::parse(R"({"Err":"volume 'v1' is in exclusive use on node n2"})"));
  EXPECT_TRUE(plugin_->active_mounts().empty());  // a failed Mount holds nothing
  Reply created = call("/VolumeDriver.Create", json{{"Name", "v2"}});
  EXPECT_EQ(created.body["Err"], "volume 'v1' is in exclusive use on node n2");
}

TEST_F(VolumePluginTest, ErrStatusCanBe500ForTheMethodPrefix) {
  PluginOptions options;
  options.error_status = 500;
  start(options);
  Reply reply = call("/VolumeDriver.Get", json{{"Name", "nope"}});
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.body["Err"], "no such volume: nope");
}

TEST_F(VolumePluginTest, RemoveOfAVolumeMountedHereIsRefused) {
  ASSERT_EQ(call("/VolumeDriver.Create", json{{"Name", "v1"}}).body["Err"], "");
  ASSERT_EQ(call("/VolumeDriver.Mount", json{{"Name", "v1"}, {"ID", kId1}}).body["Err"], "");
  std::string err = call("/VolumeDriver.Remove", json{{"Name", "v1"}}).body["Err"];
  EXPECT_NE(err.find("still mounted on this node"), std::string::npos) << err;
  EXPECT_TRUE(backend_.get("v1").has_value());
}

TEST_F(VolumePluginTest, UnknownEndpointsGet404WhichDockerReadsAsNotImplemented) {
  Reply reply = call("/NetworkDriver.CreateNetwork", json::object());
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body["Err"].get<std::string>().find("unknown endpoint"), std::string::npos);
}

TEST_F(VolumePluginTest, OversizedBodiesGet413) {
  DockerLikeConnection docker(socket_);
  Reply reply =
      docker.raw("POST /VolumeDriver.Create HTTP/1.1\r\nHost: \r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_EQ(reply.status, 413);
}

TEST(PluginSocket, IsOwnerOnlyAndRemovedOnStop) {
  std::string dir = temp_socket_dir();
  std::string socket = dir + "/p.sock";
  auto server = http::serve_unix(socket, [](const http::Request&) { return http::Response{}; });
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat st {};
  ASSERT_EQ(::lstat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ((*server)->port(), 0);
  (*server)->stop();
  EXPECT_FALSE(std::filesystem::exists(socket));
  std::filesystem::remove_all(dir);
}

TEST(PluginSocket, ReplacesAStaleSocketButNotALiveOneNorAFile) {
  std::string dir = temp_socket_dir();
  std::string socket = dir + "/p.sock";
  std::filesystem::create_directories(dir);
  {
    // A socket file nobody listens on, as a crashed agent leaves behind.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  auto handler = [](const http::Request&) {
    return http::Response{200, "application/json", {}, "{}"};
  };
  auto first = http::serve_unix(socket, handler);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(DockerLikeConnection(socket).post("/Plugin.Activate", std::string()).status, 200);

  auto second = http::serve_unix(socket, handler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(DockerLikeConnection(socket).post("/Plugin.Activate", std::string()).status, 200);
  first->reset();

  std::ofstream(dir + "/file.sock") << "not a socket";
  auto on_file = http::serve_unix(dir + "/file.sock", handler);
  ASSERT_FALSE(on_file.ok());
  EXPECT_NE(on_file.error().message.find("is not a socket"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PluginSocket, RejectsPathsTooLongForAUnixSocket) {
  auto server = http::serve_unix("/tmp/" + std::string(200, 'x') + ".sock",
                                 [](const http::Request&) { return http::Response{}; });
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::plugin
