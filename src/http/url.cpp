#include <cctype>

#include "http/http.h"
#include "http/url_host_port.h"

namespace berth::http {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

std::string percent_encode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void split_target(const std::string& target, std::string* path,
                  std::multimap<std::string, std::string>* query) {
  size_t q = target.find('?');
  std::string raw_path = target.substr(0, q);
  // '+' is literal in paths.
  std::string decoded;
  for (size_t i = 0; i < raw_path.size(); ++i) {
    if (raw_path[i] == '%' && i + 2 < raw_path.size()) {
      int hi = hex_value(raw_path[i + 1]);
      int lo = hex_value(raw_path[i + 2]);
      if (hi >= 0 && lo >= 0) {
        decoded.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    decoded.push_back(raw_path[i]);
  }
  *path = decoded;
  query->clear();
  if (q == std::string::npos) return;
  std::string rest = target.substr(q + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t amp = rest.find('&', start);
    std::string part =
        rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) {
        query->emplace(percent_decode(part), "");
      } else {
        query->emplace(percent_decode(part.substr(0, eq)), percent_decode(part.substr(eq + 1)));
      }
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
}

std::string Request::query_value(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

bool Request::query_flag(const std::string& name, bool fallback) const {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  // Any case: Python clients send `True` and `False`.
  std::string value = it->second;
  for (char& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (value.empty() || value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return fallback;
}

std::string Request::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string url_host_port(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = url.substr(0, scheme_end);
  std::string authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return "";
  size_t colon = authority.rfind(':');
  bool has_port = colon != std::string::npos && authority.find(']', colon) == std::string::npos;
  if (has_port) return authority;
  return authority + ":" + (scheme == "https" ? "443" : "80");
}

}  // namespace berth::http
