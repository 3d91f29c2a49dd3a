#include "api/event_callbacks.h"

#include <spdlog/spdlog.h>

#include "http/http.h"

namespace berth::api {
namespace {

constexpr std::chrono::milliseconds kPoll{200};
constexpr int kDeliveryTimeoutMs = 2000;

// "http://host:port/path?q" as the base ("http://host:port") and the target ("/path?q").
std::pair<std::string, std::string> split_url(const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

}  // namespace

EventCallbacks::EventCallbacks(master::MasterCore& core)
    : core_(core), thread_([this] { run(); }) {}

EventCallbacks::~EventCallbacks() {
  stopping_ = true;
  thread_.join();
}

void EventCallbacks::run() {
  std::map<std::string, bool> failing;  // logged once per failure streak
  while (!stopping_) {
    auto sub = core_.callback_events();
    if (!sub) {
      std::this_thread::sleep_for(kPoll);
      continue;
    }
    std::vector<std::string> urls = core_.event_callbacks();
    for (const auto& event : sub->take(kPoll)) {
      for (const auto& url : urls) {
        if (stopping_) break;
        auto [base, target] = split_url(url);
        auto answer = http::request(base, "POST", target, event->data, kDeliveryTimeoutMs,
                                    {{"Content-Type", "application/json"}});
        bool ok = answer && answer->status < 400;
        if (!ok && !failing[url]) {
          spdlog::warn("event callback {} failed: {}", url,
                       answer ? "HTTP " + std::to_string(answer->status) : answer.error().message);
        }
        failing[url] = !ok;
      }
    }
  }
}

}  // namespace berth::api
