// berth-bench-dataset-move: time to move an idle dataset between two agents of a running
// cluster, end to end: from the Flocker API call that changes `primary` until
// /v1/state/datasets shows it attached on the new node (old node detached first, new node
// attached at the next epoch). Run it against `berth up`, with its admin token (the file
// `berth up` prints, or BERTH_TOKEN):
//
//   berth-bench-dataset-move --master http://127.0.0.1:8080 --token-file DATA_DIR/admin-token
//                            [--moves 20] [--mib 8] [--driver shared]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/http.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

// The API credential of every call: "Authorization: Bearer <admin token>".
std::vector<std::pair<std::string, std::string>> g_auth;

Result<http::ClientResponse> call(const std::string& master, const std::string& method,
                                  const std::string& target, const std::string& body = "") {
  return http::request(master, method, target, body, 5000, g_auth);
}

nlohmann::json get(const std::string& master, const std::string& target) {
  auto r = call(master, "GET", target);
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

// Where the dataset is attached now, per the master's state view.
std::pair<std::string, std::string> attached(const std::string& master, const std::string& id) {
  auto state = get(master, "/v1/state/datasets");
  if (!state.is_array()) return {};
  for (const auto& d : state) {
    if (d.value("dataset_id", "") == id && d.contains("primary"))
      return {d["primary"], d.value("path", "")};
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  std::string master = "http://127.0.0.1:8080", driver = "shared", token_file;
  int moves = 20, mib = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--master")
      master = argv[i + 1];
    else if (flag == "--token-file")
      token_file = argv[i + 1];
    else if (flag == "--moves")
      moves = std::stoi(argv[i + 1]);
    else if (flag == "--mib")
      mib = std::stoi(argv[i + 1]);
    else if (flag == "--driver")
      driver = argv[i + 1];
  }
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!(in >> token)) {
      std::fprintf(stderr, "cannot read a token from %s\n", token_file.c_str());
      return 2;
    }
  } else if (const char* env = std::getenv("BERTH_TOKEN")) {
    token = env;
  }
  if (token.empty()) {
    std::fprintf(
        stderr,
        "the API needs a token: pass --token-file DATA_DIR/admin-token or set BERTH_TOKEN\n");
    return 2;
  }
  g_auth = {{"Authorization", "Bearer " + token}};
  auto nodes = get(master, "/v1/state/nodes");
  if (!nodes.is_array() || nodes.size() < 2) {
    std::fprintf(stderr, "need a cluster with at least two nodes at %s\n", master.c_str());
    return 1;
  }
  std::string a = nodes[0]["uuid"], b = nodes[1]["uuid"];
  nlohmann::json body = {{"primary", a},
                         {"driver", driver},
                         {"metadata", {{"name", "bench-move-" + std::to_string(::getpid())}}}};
  auto created = call(master, "POST", "/v1/configuration/datasets", body.dump());
  if (!created || created->status != 201) {
    std::fprintf(stderr, "cannot create a dataset: %s\n",
                 created ? created->body.c_str() : created.error().message.c_str());
    return 1;
  }
  std::string id = nlohmann::json::parse(created->body)["dataset_id"];
  auto deadline = Clock::now() + std::chrono::seconds(10);
  std::pair<std::string, std::string> where;
  while ((where = attached(master, id)).first != a) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "dataset never attached on the first node\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::ofstream out(where.second + "/payload", std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < mib; ++i) out << chunk;
  }
  std::vector<double> ms;
  std::string to = b;
  for (int i = 0; i < moves; ++i) {
    auto start = Clock::now();
    auto moved = call(master, "POST", "/v1/configuration/datasets/" + id,
                      nlohmann::json{{"primary", to}}.dump());
    if (!moved || moved->status != 200) {
      std::fprintf(stderr, "move refused: %s\n",
                   moved ? moved->body.c_str() : moved.error().message.c_str());
      return 1;
    }
    while (attached(master, id).first != to) {
      if (Clock::now() - start > std::chrono::seconds(10)) {
        std::fprintf(stderr, "move %d did not complete in 10 s\n", i);
        return 1;
      }
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    to = to == a ? b : a;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto check = attached(master, id);
  std::ifstream in(check.second + "/payload", std::ios::binary | std::ios::ate);
  long size = static_cast<long>(in.tellg());
  auto destroyed = call(master, "DELETE", "/v1/configuration/datasets/" + id);
  (void)destroyed;
  std::sort(ms.begin(), ms.end());
  std::printf("driver %s, %d moves of an idle dataset holding %d MiB between two agents\n",
              driver.c_str(), moves, mib);
  std::printf(
      "median %.1f ms   p90 %.1f ms   min %.1f ms   max %.1f ms   data after the moves: %ld "
      "bytes%s\n",
      ms[ms.size() / 2], ms[ms.size() * 9 / 10], ms.front(), ms.back(), size,
      size == static_cast<long>(mib) << 20 ? " (intact)" : " (DAMAGED)");
  return size == static_cast<long>(mib) << 20 ? 0 : 1;
}
