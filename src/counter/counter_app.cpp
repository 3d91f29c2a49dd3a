#include "counter/counter_app.h"

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "counter/counter_page.h"

namespace berth::counter {
namespace {

using nlohmann::json;

constexpr const char* kExpectedBody = "send {\"x\":<int>,\"y\":<int>}";

http::Response json_response(int status, const json& body) {
  http::Response response;
  response.status = status;
  response.content_type = "application/json";
  // The demo's point is that the count survives a failover; a cached answer would hide that.
  response.headers.emplace_back("Cache-Control", "no-store");
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return response;
}

http::Response error_response(int status, const std::string& message) {
  return json_response(status, json{{"message", message}});
}

http::Response method_not_allowed(const http::Request& request, const std::string& allowed) {
  http::Response response = error_response(
      405, request.method + " is not allowed on " + request.path + "; use " + allowed);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

json click_json(const Click& click) {
  return json{{"id", click.id}, {"ts", click.ts_ms}, {"x", click.x}, {"y", click.y}};
}

// A short rendering of a client's value for an error message.
std::string describe(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t kMax = 40;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void replace_all(std::string* text, const std::string& from, const std::string& to) {
  for (size_t pos = text->find(from); pos != std::string::npos;
       pos = text->find(from, pos + to.size())) {
    text->replace(pos, from.size(), to);
  }
}

// Reads body[key] as a coordinate, or says what is wrong with it.
Result<int64_t> coordinate(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(key) + " is missing; " + kExpectedBody);
  }
  std::string range = " between 0 and " + std::to_string(CounterApp::kMaxCoordinate);
  if (!it->is_number_integer()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(key) + " must be an integer" + range + ", got " + describe(*it));
  }
  bool in_range = it->is_number_unsigned()
                      ? it->get<uint64_t>() <= static_cast<uint64_t>(CounterApp::kMaxCoordinate)
                      : it->get<int64_t>() >= 0 && it->get<int64_t>() <= CounterApp::kMaxCoordinate;
  if (!in_range) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(key) + " must be" + range + ", got " + describe(*it));
  }
  return it->get<int64_t>();
}

}  // namespace

CounterApp::CounterApp(ClickLog& log, const Clock& clock, CounterIdentity identity)
    : log_(log), clock_(clock), identity_(std::move(identity)) {}

http::Response CounterApp::handle(const http::Request& request) {
  // Our code does not throw; this catches the library's (std::bad_alloc, nlohmann) at the edge.
  try {
    return route(request);
  } catch (const std::exception& e) {
    return error_response(500, std::string("internal error: ") + e.what());
  }
}

http::Response CounterApp::route(const http::Request& request) {
  const bool get = request.method == "GET";
  if (request.path == "/" || request.path == "/index.html") {
    return get ? page() : method_not_allowed(request, "GET");
  }
  if (request.path == "/v1/ping") return get ? ping() : method_not_allowed(request, "GET");
  if (request.path == "/v1/clicks") {
    if (get) return list_clicks();
    if (request.method == "POST") return add_click(request);
    return method_not_allowed(request, "GET, POST");
  }
  return error_response(
      404, "no such page: " + request.path + "; berth-counter serves /, /v1/ping and /v1/clicks");
}

http::Response CounterApp::ping() const {
  return json_response(200, json{{"pong", true},
                                 {"node", identity_.node},
                                 {"task", identity_.task},
                                 {"clicks", log_.size()}});
}

http::Response CounterApp::list_clicks() const {
  json list = json::array();
  for (const Click& click : log_.clicks()) list.push_back(click_json(click));
  return json_response(200, list);
}

http::Response CounterApp::add_click(const http::Request& request) {
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    std::string shown = request.body.substr(0, 40) + (request.body.size() > 40 ? "..." : "");
    return error_response(
        400, request.body.empty()
                 ? std::string("the body is empty; ") + kExpectedBody
                 : "the body is not JSON (" + describe(json(shown)) + "); " + kExpectedBody);
  }
  if (!body.is_object()) {
    return error_response(400, std::string("the body must be a JSON object, got ") +
                                   body.type_name() + " " + describe(body) + "; " + kExpectedBody);
  }
  auto x = coordinate(body, "x");
  if (!x) return error_response(400, x.error().message);
  auto y = coordinate(body, "y");
  if (!y) return error_response(400, y.error().message);

  auto since_epoch = clock_.wall_now().time_since_epoch();
  int64_t ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
  auto click = log_.append(*x, *y, ts_ms);
  if (!click) {
    int status = click.error().code == ErrorCode::kNotAllowed ? 507 : 503;
    return error_response(status, click.error().message);
  }
  return json_response(201, click_json(*click));
}

http::Response CounterApp::page() const {
  std::string html(kCounterPage);
  replace_all(&html, "{{NODE}}", html_escape(identity_.node.empty() ? "?" : identity_.node));
  replace_all(&html, "{{TASK}}", html_escape(identity_.task.empty() ? "?" : identity_.task));
  http::Response response;
  response.content_type = "text/html; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-store");
  response.body = std::move(html);
  return response;
}

}  // namespace berth::counter
