#include "agent/master_endpoints.h"

#include "base/check.h"
#include "http/url_host_port.h"

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
  // A standby's 503 naming the leader sends the call there; a list of n masters needs at most
  // n - 1 such hops, plus one try each for masters that do not answer.
  for (size_t tried = 0; tried < 2 * urls_.size(); ++tried) {
    std::string url = current();
    auto res = http::request(url, method, target, body, timeout_ms, headers);
    if (res && (res->status != 503 || !follow_leader(url, *res))) return res;
    if (!res) {
      errors += (errors.empty() ? "" : "; ") + url + ": " + res.error().message;
      unreachable(url);
    } else {
      errors += (errors.empty() ? "" : "; ") + url + ": not the leader";
    }
  }
  return make_error(ErrorCode::kUnavailable, errors);
}

bool MasterEndpoints::follow_leader(const std::string& url, const http::ClientResponse& answer) {
  auto leader = answer.headers.find("x-berth-leader");
  if (leader == answer.headers.end() || leader->second.empty() || urls_.size() < 2) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (urls_[current_] != url) return true;  // another call moved on already
  for (size_t i = 0; i < urls_.size(); ++i) {
    if (http::url_host_port(urls_[i]) == leader->second && i != current_) {
      current_ = i;
      return true;
    }
  }
  return false;
}

}  // namespace berth::agent
