#include "agent/master_endpoints.h"

#include "base/check.h"

namespace berth::agent {

Result<std::vector<std::string>> MasterEndpoints::parse(const std::string& list) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string url =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    size_t host = url.find("://") + 3;
    if (!scheme || url.size() <= host) {
      return make_error(ErrorCode::kInvalidArgument,
                        "master '" + url +
                            "' is not an http:// or https:// URL (give one, or several "
                            "separated by commas, e.g. http://m1:8080,http://m2:8080)");
    }
    urls.push_back(url);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return urls;
}

MasterEndpoints::MasterEndpoints(const std::string& list) {
  auto urls = parse(list);
  BERTH_CHECK(urls.ok());
  urls_ = std::move(*urls);
}

std::string MasterEndpoints::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return urls_[current_];
}

void MasterEndpoints::unreachable(const std::string& url) {
  std::lock_guard<std::mutex> lock(mu_);
  if (urls_[current_] == url) current_ = (current_ + 1) % urls_.size();
}

Result<http::ClientResponse> MasterEndpoints::request(
    const std::string& method, const std::string& target, const std::string& body, int timeout_ms,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string errors;
  for (size_t tried = 0; tried < urls_.size(); ++tried) {
    std::string url = current();
    auto res = http::request(url, method, target, body, timeout_ms, headers);
    if (res) return res;
    errors += (errors.empty() ? "" : "; ") + url + ": " + res.error().message;
    unreachable(url);
  }
  return make_error(ErrorCode::kUnavailable, errors);
}

}  // namespace berth::agent
