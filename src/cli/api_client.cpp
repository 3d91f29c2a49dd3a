#include "cli/api_client.h"

#include <utility>

#include "http/http.h"
#include "json/bounded.h"

namespace berth::cli {

std::string ApiAnswer::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

ApiClient::ApiClient(std::string base_url, int timeout_ms, std::string token)
    : base_url_(std::move(base_url)), timeout_ms_(timeout_ms), token_(std::move(token)) {}

namespace {

// The master's answer as the commands see it, or "cannot reach" naming the master.
Result<ApiAnswer> to_answer(const std::string& base_url, Result<http::ClientResponse> response) {
  if (!response.ok()) {
    return make_error(response.error().code, "cannot reach the berth master at " + base_url + ": " +
                                                 response.error().message);
  }
  ApiAnswer answer;
  answer.status = response->status;
  answer.headers = std::move(response->headers);
  answer.body = std::move(response->body);
  answer.json = json::parse_or_discarded(answer.body);
  if (answer.json.is_discarded()) answer.json = nullptr;
  return answer;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ApiClient::auth_headers() const {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  return headers;
}

Result<ApiAnswer> ApiClient::call(const std::string& method, const std::string& target,
                                  const std::string& body) const {
  return to_answer(base_url_,
                   http::request(base_url_, method, target, body, timeout_ms_, auth_headers()));
}

Result<ApiAnswer> ApiClient::stream(const std::string& target,
                                    const std::function<bool(std::string_view)>& on_data) const {
  return to_answer(base_url_,
                   http::stream_get(base_url_, target, auth_headers(), on_data, timeout_ms_));
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

std::string app_target(const std::string& app_id) {
  std::string id = normalize_app_id(app_id);
  std::string target = "/v2/apps";
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
