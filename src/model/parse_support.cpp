#include "model/parse_support.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace berth::model::detail {

void ErrorList::add(const std::string& path, std::string message) {
  for (FieldError& entry : errors_) {
    if (entry.path == path) {
      entry.errors.push_back(std::move(message));
      return;
    }
  }
  errors_.push_back(FieldError{path, {std::move(message)}});
}

bool ErrorList::has(const std::string& path) const {
  for (const FieldError& entry : errors_) {
    if (entry.path == path) return true;
  }
  return false;
}

std::string element_path(const std::string& array_path, size_t index) {
  return array_path + "(" + std::to_string(index) + ")";
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> read_string(const json& value, const std::string& path,
                                       ErrorList& errors) {
  if (!value.is_string()) {
    errors.add(path, "error.expected.jsstring");
    return std::nullopt;
  }
  return value.get<std::string>();
}

std::optional<double> read_number(const json& value, const std::string& path, ErrorList& errors) {
  if (!value.is_number()) {
    errors.add(path, "error.expected.jsnumber");
    return std::nullopt;
  }
  return value.get<double>();
}

std::optional<int64_t> read_int(const json& value, const std::string& path, ErrorList& errors) {
  if (!value.is_number()) {
    errors.add(path, "error.expected.jsnumber");
    return std::nullopt;
  }
  constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v <= static_cast<uint64_t>(kMax)) return static_cast<int64_t>(v);
  } else if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v >= kMin && v <= kMax) return v;
  } else {
    double v = value.get<double>();
    if (std::trunc(v) == v && v >= static_cast<double>(kMin) && v <= static_cast<double>(kMax)) {
      return static_cast<int64_t>(v);
    }
  }
  errors.add(path, "error.expected.int");
  return std::nullopt;
}

std::optional<bool> read_bool(const json& value, const std::string& path, ErrorList& errors) {
  if (!value.is_boolean()) {
    errors.add(path, "error.expected.jsboolean");
    return std::nullopt;
  }
  return value.get<bool>();
}

bool expect_array(const json& value, const std::string& path, ErrorList& errors) {
  if (value.is_array()) return true;
  errors.add(path, "error.expected.jsarray");
  return false;
}

bool expect_object(const json& value, const std::string& path, ErrorList& errors) {
  if (value.is_object()) return true;
  errors.add(path, "error.expected.jsobject");
  return false;
}

std::optional<std::vector<std::string>> read_string_array(const json& value,
                                                          const std::string& path,
                                                          ErrorList& errors) {
  if (!expect_array(value, path, errors)) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < value.size(); ++i) {
    auto item = read_string(value[i], element_path(path, i), errors);
    if (item) {
      out.push_back(std::move(*item));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> read_string_map(const json& value,
                                                                  const std::string& path,
                                                                  ErrorList& errors) {
  if (!expect_object(value, path, errors)) return std::nullopt;
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& [key, item] : value.items()) {
    auto text = read_string(item, path + "/" + key, errors);
    if (text) {
      out.emplace(key, std::move(*text));
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

json without_nulls(const json& object) {
  json out = object;
  if (!out.is_object()) return out;
  for (auto it = out.begin(); it != out.end();) {
    if (it->is_null()) {
      it = out.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::string quote(std::string_view value) {
  constexpr size_t kMaxShown = 64;
  if (value.size() <= kMaxShown) return "'" + std::string(value) + "'";
  return "'" + std::string(value.substr(0, kMaxShown)) + "...'";
}

std::string format_number(double value) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string expected_at_least(double got, double minimum) {
  return "got " + format_number(got) + ", expected " + format_number(minimum) + " or more";
}

std::string expected_at_most(double got, double maximum) {
  return "got " + format_number(got) + ", expected " + format_number(maximum) + " or less";
}

std::string expected_between(double got, double minimum, double maximum) {
  return "got " + format_number(got) + ", expected between " + format_number(minimum) + " and " +
         format_number(maximum);
}

std::string must_match(std::string_view pattern) {
  return "must fully match regular expression '" + std::string(pattern) + "'";
}

std::optional<uint32_t> read_port(const json& value, const std::string& path, ErrorList& errors) {
  auto port = read_int(value, path, errors);
  if (!port) return std::nullopt;
  if (*port < 0 || *port > 65535) {
    errors.add(path, expected_between(static_cast<double>(*port), 0, 65535));
    return std::nullopt;
  }
  return static_cast<uint32_t>(*port);
}

bool is_dns_label(std::string_view text) {
  if (text.empty() || text.front() == '-' || text.back() == '-') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool is_id_segment(std::string_view text) {
  if (text == "." || text == "..") return true;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_dns_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_mesos_literal(std::string_view text) {
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '/' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_executor(std::string_view text) {
  if (text.empty() || text == "//cmd") return true;
  if (text.front() == '/') text.remove_prefix(1);
  return !text.empty() && text.front() != '/' && text.back() != '/' &&
         text.find("//") == std::string_view::npos;
}

bool is_int32_text(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
  if (text.empty() || text.size() > 10) return false;
  int64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    magnitude = magnitude * 10 + (c - '0');
  }
  int64_t limit = negative ? -static_cast<int64_t>(std::numeric_limits<int32_t>::min())
                           : std::numeric_limits<int32_t>::max();
  return magnitude <= limit;
}

bool is_valid_port_protocol(std::string_view protocol) {
  return protocol == "tcp" || protocol == "udp" || protocol == "udp,tcp";
}

}  // namespace berth::model::detail
