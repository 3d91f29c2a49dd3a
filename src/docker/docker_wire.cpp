#include "docker/docker_wire.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <nlohmann/json.hpp>

#include "http/http.h"
#include "json/bounded.h"

namespace berth::docker {
namespace {

using json = nlohmann::json;

constexpr size_t kFrameHeaderBytes = 8;

// "1.41" -> {1, 41}.
std::optional<std::pair<int, int>> parse_version(const std::string& text) {
  int major = 0, minor = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [dot, ec1] = std::from_chars(begin, end, major);
  if (ec1 != std::errc() || dot == end || *dot != '.') return std::nullopt;
  auto [last, ec2] = std::from_chars(dot + 1, end, minor);
  if (ec2 != std::errc() || last != end || major < 0 || minor < 0) return std::nullopt;
  return std::make_pair(major, minor);
}

// Fields Docker may send as null or leave out read as empty, so that an odd container does not
// make the whole answer unreadable.
std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t int_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

bool bool_field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

const json& object_field(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

std::map<std::string, std::string> labels_of(const json& labels) {
  std::map<std::string, std::string> out;
  if (!labels.is_object()) return out;
  for (const auto& [key, value] : labels.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

std::string without_slash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

Error unreadable(const std::string& what, const std::string& why) {
  return make_error(ErrorCode::kInternal, "cannot read Docker's answer to " + what + ": " + why);
}

// An answer of Docker as JSON, with the depth bound of every parser of outside bytes; it may
// be as large as DockerClient reads.
Result<json> parse_json_answer(const std::string& body) {
  berth::json::Limits limits;
  limits.max_bytes = kMaxAnswerBytes;
  return berth::json::parse(body, limits);
}

Result<json> parse_answer(const std::string& what, const std::string& body) {
  Result<json> parsed = parse_json_answer(body);
  if (!parsed.ok()) return unreadable(what, parsed.error().message);
  return parsed;
}

// The stream of a frame header, or nullopt when these 8 bytes cannot be one.
std::optional<int> frame_stream(std::string_view header) {
  auto stream = static_cast<unsigned char>(header[0]);
  if (stream > 3 || header[1] != 0 || header[2] != 0 || header[3] != 0) return std::nullopt;
  return stream == 0 ? 1 : stream == 3 ? 2 : static_cast<int>(stream);
}

uint32_t frame_length(std::string_view header) {
  uint32_t length = 0;
  for (size_t i = 4; i < kFrameHeaderBytes; ++i) {
    length = (length << 8) | static_cast<unsigned char>(header[i]);
  }
  return length;
}

}  // namespace

std::optional<std::string> negotiate_api_version(const std::string& daemon_version) {
  auto daemon = parse_version(daemon_version);
  if (!daemon) return std::nullopt;
  auto ours = parse_version(kMaxApiVersion);
  if (ours && *ours < *daemon) return std::string(kMaxApiVersion);
  return std::to_string(daemon->first) + "." + std::to_string(daemon->second);
}

ErrorCode error_code_for_status(int http_status) {
  switch (http_status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    default:
      return ErrorCode::kInternal;
  }
}

std::string docker_error_message(int http_status, const std::string& body) {
  Result<json> parsed = parse_json_answer(body);
  if (parsed.ok() && parsed->is_object()) {
    std::string message = string_field(*parsed, "message");
    if (!message.empty()) return message;
  }
  auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "HTTP " + std::to_string(http_status);
  auto last = body.find_last_not_of(" \t\r\n");
  return body.substr(first, last - first + 1);
}

std::string list_containers_query(const std::string& label_filter) {
  std::string query = "all=1";
  if (!label_filter.empty()) {
    json filters = {{"label", json::array({label_filter})}};
    query += "&filters=" + http::percent_encode(filters.dump());
  }
  return query;
}

Result<std::string> parse_create_answer(const std::string& body) {
  Result<json> answer = parse_answer("create", body);
  if (!answer.ok()) return answer.error();
  try {
    const json& parsed = *answer;
    std::string id = string_field(parsed, "Id");
    if (id.empty()) {
      return make_error(ErrorCode::kInternal, "Docker's answer to create has no Id: " + body);
    }
    return id;
  } catch (const std::exception& e) {
    return unreadable("create", e.what());
  }
}

Result<ContainerState> parse_inspect_answer(const std::string& body) {
  Result<json> answer = parse_answer("inspect", body);
  if (!answer.ok()) return answer.error();
  try {
    const json& parsed = *answer;
    if (!parsed.is_object()) throw std::runtime_error("not a JSON object");
    const json& state = object_field(parsed, "State");
    const json& config = object_field(parsed, "Config");
    ContainerState out;
    out.id = string_field(parsed, "Id");
    out.name = without_slash(string_field(parsed, "Name"));
    out.image = string_field(config, "Image");
    out.status = string_field(state, "Status");
    out.running = bool_field(state, "Running");
    out.pid = static_cast<int>(int_field(state, "Pid"));
    out.exit_code = static_cast<int>(int_field(state, "ExitCode"));
    out.oom_killed = bool_field(state, "OOMKilled");
    out.error = string_field(state, "Error");
    out.started_at = string_field(state, "StartedAt");
    out.finished_at = string_field(state, "FinishedAt");
    if (auto it = config.find("Labels"); it != config.end()) out.labels = labels_of(*it);
    const json& ports = object_field(object_field(parsed, "NetworkSettings"), "Ports");
    for (const auto& [port, bindings] : ports.items()) {
      if (!bindings.is_array()) continue;  // exposed but not published
      std::vector<uint32_t> host_ports;
      for (const auto& binding : bindings) {
        if (!binding.is_object()) continue;
        std::string text = string_field(binding, "HostPort");
        uint32_t host_port = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), host_port);
        if (ec != std::errc() || end != text.data() + text.size() || host_port == 0) continue;
        if (std::find(host_ports.begin(), host_ports.end(), host_port) == host_ports.end()) {
          host_ports.push_back(host_port);
        }
      }
      if (!host_ports.empty()) out.host_ports[port] = std::move(host_ports);
    }
    return out;
  } catch (const std::exception& e) {
    return unreadable("inspect", e.what());
  }
}

int exit_code_from_status_text(const std::string& status_text) {
  const std::string prefix = "Exited (";
  if (status_text.rfind(prefix, 0) != 0) return 0;
  int code = 0;
  const char* begin = status_text.data() + prefix.size();
  auto [end, ec] = std::from_chars(begin, status_text.data() + status_text.size(), code);
  if (ec != std::errc() || *end != ')') return 0;
  return code;
}

Result<std::vector<ContainerState>> parse_list_answer(const std::string& body) {
  Result<json> answer = parse_answer("list", body);
  if (!answer.ok()) return answer.error();
  try {
    const json& parsed = *answer;
    if (!parsed.is_array()) throw std::runtime_error("not a JSON array");
    std::vector<ContainerState> out;
    for (const auto& entry : parsed) {
      if (!entry.is_object()) continue;
      ContainerState container;
      container.id = string_field(entry, "Id");
      if (auto it = entry.find("Names");
          it != entry.end() && it->is_array() && !it->empty() && it->front().is_string()) {
        container.name = without_slash(it->front().get<std::string>());
      }
      container.image = string_field(entry, "Image");
      container.status = string_field(entry, "State");
      container.running = container.status == "running";
      container.exit_code = exit_code_from_status_text(string_field(entry, "Status"));
      if (auto it = entry.find("Labels"); it != entry.end()) container.labels = labels_of(*it);
      out.push_back(std::move(container));
    }
    return out;
  } catch (const std::exception& e) {
    return unreadable("list", e.what());
  }
}

Result<WaitResult> parse_wait_answer(const std::string& body) {
  Result<json> answer = parse_answer("wait", body);
  if (!answer.ok()) return answer.error();
  try {
    const json& parsed = *answer;
    if (!parsed.is_object() || !parsed.contains("StatusCode")) {
      throw std::runtime_error("no StatusCode in " + body);
    }
    WaitResult out;
    out.status_code = static_cast<int>(int_field(parsed, "StatusCode"));
    out.error = string_field(object_field(parsed, "Error"), "Message");
    return out;
  } catch (const std::exception& e) {
    return unreadable("wait", e.what());
  }
}

bool LogDemuxer::feed(std::string_view data, const Sink& sink) {
  while (!data.empty()) {
    if (raw_) return sink(1, data);
    if (remaining_ == 0) {
      size_t take = std::min(kFrameHeaderBytes - header_.size(), data.size());
      header_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (header_.size() < kFrameHeaderBytes) return true;
      std::optional<int> stream = frame_stream(header_);
      if (!stream) {
        raw_ = true;
        std::string passed = std::move(header_);
        header_.clear();
        if (!sink(1, passed)) return false;
        continue;
      }
      stream_ = *stream;
      remaining_ = frame_length(header_);
      header_.clear();
      continue;
    }
    size_t take = std::min<size_t>(remaining_, data.size());
    remaining_ -= static_cast<uint32_t>(take);
    if (!sink(stream_, data.substr(0, take))) return false;
    data.remove_prefix(take);
  }
  return true;
}

void demux_logs(const std::string& stream, std::string* out, std::string* err, std::string* rest) {
  std::string_view data = stream;
  auto deliver = [&](int to, std::string_view payload) {
    std::string* target = to == 2 ? err : out;
    if (target) target->append(payload);
  };
  while (data.size() >= kFrameHeaderBytes) {
    std::string_view header = data.substr(0, kFrameHeaderBytes);
    std::optional<int> to = frame_stream(header);
    if (!to) {  // not multiplexed (a TTY): everything left is plain output
      deliver(1, data);
      data = {};
      break;
    }
    uint32_t length = frame_length(header);
    if (data.size() - kFrameHeaderBytes < length) break;
    deliver(*to, data.substr(kFrameHeaderBytes, length));
    data.remove_prefix(kFrameHeaderBytes + length);
  }
  if (rest) rest->assign(data);
}

}  // namespace berth::docker
