#include "cli/api_client.h"

#include <utility>

#include "http/http.h"
#include "json/bounded.h"

namespace berth::cli {

std::string ApiAnswer::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::vector<std::string> split_master_urls(const std::string& list) {
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string url = list.substr(start, comma - start);
    size_t first = url.find_first_not_of(" \t");
    size_t last = url.find_last_not_of(" \t");
    if (first != std::string::npos) urls.push_back(url.substr(first, last - first + 1));
    start = comma + 1;
  }
  if (urls.empty()) urls.push_back("");
  return urls;
}

ApiClient::ApiClient(const std::string& masters, int timeout_ms, std::string token)
    : urls_(split_master_urls(masters)), timeout_ms_(timeout_ms), token_(std::move(token)) {}

namespace {

// The master's answer as the commands see it, or the reason there was none.
Result<ApiAnswer> to_answer(Result<http::ClientResponse> response) {
  if (!response.ok()) return response.error();
  ApiAnswer answer;
  answer.status = response->status;
  answer.headers = std::move(response->headers);
  answer.body = std::move(response->body);
  answer.json = json::parse_or_discarded(answer.body);
  if (answer.json.is_discarded()) answer.json = nullptr;
  return answer;
}

// "cannot reach the berth master at URL: reason" for one master; every master with its reason
// for several.
Error unreachable(const std::vector<std::string>& urls, const std::vector<Error>& errors) {
  if (errors.size() == 1) {
    return make_error(errors[0].code,
                      "cannot reach the berth master at " + urls[0] + ": " + errors[0].message);
  }
  std::string message =
      "cannot reach any of the " + std::to_string(errors.size()) + " berth masters:";
  for (size_t i = 0; i < errors.size(); ++i) {
    message += (i == 0 ? " " : "; ") + urls[i] + ": " + errors[i].message;
  }
  return make_error(ErrorCode::kUnavailable, message);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ApiClient::auth_headers() const {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  return headers;
}

Result<ApiAnswer> ApiClient::try_masters(const Attempt& attempt,
                                         const std::function<bool()>& give_up) const {
  std::vector<std::string> tried;
  std::vector<Error> errors;
  for (size_t i = 0; i < urls_.size(); ++i) {
    size_t index = (current_ + i) % urls_.size();
    Result<ApiAnswer> answer = attempt(urls_[index]);
    if (answer.ok()) {
      current_ = index;
      return answer;
    }
    tried.push_back(urls_[index]);
    errors.push_back(answer.error());
    if (give_up()) break;
  }
  return unreachable(tried, errors);
}

Result<ApiAnswer> ApiClient::call(const std::string& method, const std::string& target,
                                  const std::string& body) const {
  return try_masters(
      [&](const std::string& url) {
        return to_answer(http::request(url, method, target, body, timeout_ms_, auth_headers()));
      },
      [] { return false; });
}

Result<ApiAnswer> ApiClient::stream(const std::string& target,
                                    const std::function<bool(std::string_view)>& on_data) const {
  bool received = false;  // once a master has sent part of the stream, its error is final
  auto forward = [&](std::string_view piece) {
    received = true;
    return on_data(piece);
  };
  return try_masters(
      [&](const std::string& url) {
        return to_answer(http::stream_get(url, target, auth_headers(), forward, timeout_ms_));
      },
      [&] { return received; });
}

Result<ApiAnswer> ApiClient::call_one(const std::string& url, const std::string& method,
                                      const std::string& target, int timeout_ms) const {
  return to_answer(http::request(url, method, target, "", timeout_ms, auth_headers()));
}

std::vector<std::string> describe_failure(const ApiAnswer& answer) {
  std::vector<std::string> lines;
  const auto& json = answer.json;
  // Marathon says {"message", "details"}; Flocker's v1 API says {"description"}.
  std::string message;
  for (const char* key : {"message", "description"}) {
    if (message.empty() && json.is_object() && json.contains(key) && json[key].is_string()) {
      message = json[key].get<std::string>();
    }
  }
  if (!message.empty()) {
    lines.push_back(message);
  } else {
    std::string body = answer.body.size() > 500 ? answer.body.substr(0, 500) + "..." : answer.body;
    lines.push_back("the master answered " + std::to_string(answer.status) +
                    (body.empty() ? std::string() : ": " + body));
  }
  if (!json.is_object() || !json.contains("details") || !json["details"].is_array()) return lines;
  for (const auto& detail : json["details"]) {
    if (!detail.is_object()) continue;
    std::string line = detail.value("path", std::string("/")) + ":";
    std::string separator = " ";
    if (detail.contains("errors") && detail["errors"].is_array()) {
      for (const auto& error : detail["errors"]) {
        line += separator + (error.is_string() ? error.get<std::string>() : error.dump());
        separator = ", ";
      }
    }
    lines.push_back(line);
  }
  return lines;
}

std::string normalize_app_id(const std::string& app_id) {
  std::string id = app_id;
  while (!id.empty() && id.back() == '/') id.pop_back();
  if (id.empty() || id.front() != '/') id.insert(id.begin(), '/');
  return id;
}

std::string app_target(const std::string& app_id) { return path_target("/v2/apps", app_id); }

std::string group_target(const std::string& group_id) {
  return path_target("/v2/groups", group_id);
}

std::string path_target(const std::string& collection, const std::string& path_id) {
  std::string id = normalize_app_id(path_id);
  std::string target = collection;
  if (id == "/") return target;
  size_t start = 1;
  while (start <= id.size()) {
    size_t slash = id.find('/', start);
    if (slash == std::string::npos) slash = id.size();
    target += "/" + http::percent_encode(id.substr(start, slash - start));
    start = slash + 1;
  }
  return target;
}

}  // namespace berth::cli
