// End to end: the volume plugin served at /run/docker/plugins/berth-e2e.sock over a
// directory-backed test backend, driven by the real docker CLI and daemon. Needs a running Docker
// and the berth/busybox image (scripts/ensure-docker, scripts/build-test-images). Without them the
// test skips, except under CI=true, where it fails: CI must not pass by running nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "http/http.h"
#include "plugin/volume_plugin.h"
#include "tests/e2e/docker_env.h"

namespace berth::e2e {
namespace {

namespace fs = std::filesystem;
using plugin::PluginVolume;

// One directory per volume under `root`; mounted means a Mount id is active.
class DirectoryBackend final : public plugin::VolumeBackend {
 public:
  explicit DirectoryBackend(fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_);
  }

  Status create(const std::string& name,
                const std::map<std::string, std::string>& options) override {
    if (!options.empty())
      return make_error(ErrorCode::kInvalidArgument, "this test backend takes no options");
    std::error_code ec;
    fs::create_directories(root_ / name, ec);
    if (ec)
      return make_error(ErrorCode::kInternal,
                        "cannot create " + (root_ / name).string() + ": " + ec.message());
    return {};
  }
  Status remove(const std::string& name) override {
    if (!fs::exists(root_ / name))
      return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    std::error_code ec;
    fs::remove_all(root_ / name, ec);
    if (ec)
      return make_error(ErrorCode::kInternal,
                        "cannot remove " + (root_ / name).string() + ": " + ec.message());
    return {};
  }
  std::optional<PluginVolume> get(const std::string& name) override {
    if (!fs::is_directory(root_ / name)) return std::nullopt;
    return volume(name);
  }
  std::vector<PluginVolume> list() override {
    std::vector<PluginVolume> out;
    for (const auto& entry : fs::directory_iterator(root_))
      out.push_back(volume(entry.path().filename()));
    return out;
  }
  Result<std::string> mount(const std::string& name, const std::string&,
                            std::chrono::steady_clock::time_point) override {
    if (!fs::is_directory(root_ / name))
      return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    std::lock_guard<std::mutex> lock(mu_);
    if (!refusal_.empty()) return make_error(ErrorCode::kConflict, refusal_);
    mounted_.insert(name);
    ++mounts;
    return (root_ / name).string();
  }
  Status unmount(const std::string& name, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    mounted_.erase(name);
    ++unmounts;
    return {};
  }
  Result<std::string> path(const std::string& name) override {
    if (!fs::is_directory(root_ / name))
      return make_error(ErrorCode::kNotFound, "no such volume: " + name);
    return (root_ / name).string();
  }

  // Mounts fail with `message` from now on, as when another node holds the dataset.
  void refuse_mounts(const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    refusal_ = message;
  }

  int mounts = 0;
  int unmounts = 0;

 private:
  PluginVolume volume(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return {name, mounted_.count(name) ? (root_ / name).string() : "", {{"backend", "directory"}}};
  }

  fs::path root_;
  std::mutex mu_;
  std::set<std::string> mounted_;
  std::string refusal_;
};

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class DockerPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_DOCKER();

    // One fixed driver name for every run, taken under a lock: dockerd caches each driver
    // it has used until it restarts, and every name lookup of a new volume then waits ~15 s
    // for each cached driver whose socket is gone (docs/compatibility.md §4.3). A name per run
    // would pile those up; this way at most one is stale between runs, and a run revives it.
    lock_fd_ = ::open("/tmp/berth-e2e.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(lock_fd_, 0) << "cannot open /tmp/berth-e2e.lock: " << std::strerror(errno);
    ASSERT_EQ(::flock(lock_fd_, LOCK_EX), 0) << std::strerror(errno);
    std::string pid = std::to_string(::getpid());
    driver_ = "berth-e2e";
    volume_ = "e2e-" + pid + "-v1";
    root_ = "/tmp/berth-e2e-" + pid;
    backend_ = std::make_unique<DirectoryBackend>(root_ / "volumes");
    plugin_ = std::make_shared<plugin::VolumePlugin>(*backend_);
    auto served = http::serve_unix(
        "/run/docker/plugins/" + driver_ + ".sock",
        [plugin = plugin_](const http::Request& request) { return plugin->handle(request); });
    ASSERT_TRUE(served.ok()) << served.error().message;
    server_ = std::move(*served);
  }

  void TearDown() override {
    if (server_) {
      // Docker forgets the volume only while the plugin still answers.
      run("docker volume rm -f " + volume_, 60);
      server_.reset();
      std::error_code ec;
      fs::remove_all(root_, ec);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  std::string driver_;
  std::string volume_;
  fs::path root_;
  std::unique_ptr<DirectoryBackend> backend_;
  std::shared_ptr<plugin::VolumePlugin> plugin_;
  std::unique_ptr<http::Server> server_;
  int lock_fd_ = -1;
};

TEST_F(DockerPluginTest, DockerCreatesMountsListsAndRemovesAVolumeThroughThePlugin) {
  CommandResult created = run("docker volume create -d " + driver_ + " " + volume_);
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_EQ(trim(created.output), volume_);
  fs::path data = root_ / "volumes" / volume_;
  EXPECT_TRUE(fs::is_directory(data));

  CommandResult inspected = run("docker volume inspect -f '{{.Driver}} {{.Scope}}' " + volume_);
  ASSERT_EQ(inspected.exit_code, 0) << inspected.output;
  EXPECT_EQ(trim(inspected.output), driver_ + " global");

  CommandResult wrote = run("docker run --rm --network none --volume-driver " + driver_ + " -v " +
                            volume_ + ":/data berth/busybox sh -c 'echo hi > /data/f'");
  ASSERT_EQ(wrote.exit_code, 0) << wrote.output;
  std::ifstream file(data / "f");
  std::stringstream content;
  content << file.rdbuf();
  EXPECT_EQ(content.str(), "hi\n");
  EXPECT_GE(backend_->mounts, 1);
  EXPECT_EQ(backend_->unmounts, backend_->mounts);  // the handler released every Docker mount id
  EXPECT_TRUE(plugin_->active_mounts().empty());

  CommandResult readback = run("docker run --rm --network none --volume-driver " + driver_ +
                               " -v " + volume_ + ":/data berth/busybox cat /data/f");
  ASSERT_EQ(readback.exit_code, 0) << readback.output;
  EXPECT_EQ(readback.output, "hi\n");

  // Filtered by driver so that other drivers in dockerd's cache whose sockets are gone (15 s
  // each) are not asked.
  std::string ls =
      "docker volume ls --filter driver=" + driver_ + " --format '{{.Driver}} {{.Name}}'";
  CommandResult listed = run(ls);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(trim(listed.output), driver_ + " " + volume_);

  CommandResult removed = run("docker volume rm " + volume_);
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_FALSE(fs::exists(data));
  CommandResult after = run(ls);
  ASSERT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(trim(after.output), "");
}

TEST_F(DockerPluginTest, DockerShowsTheBackendsMountRefusalToTheUser) {
  ASSERT_EQ(run("docker volume create -d " + driver_ + " " + volume_).exit_code, 0);
  backend_->refuse_mounts("volume '" + volume_ + "' is in exclusive use on node n2");
  CommandResult failed = run("docker run --rm --network none --volume-driver " + driver_ + " -v " +
                             volume_ + ":/data berth/busybox true");
  EXPECT_EQ(failed.exit_code, 125) << failed.output;
  EXPECT_NE(failed.output.find("volume '" + volume_ + "' is in exclusive use on node n2"),
            std::string::npos)
      << failed.output;
  EXPECT_TRUE(plugin_->active_mounts().empty());
}

}  // namespace
}  // namespace berth::e2e
