// App ids (Marathon's PathId): validation, resolution of relative ids, derived forms.
#include <string>
#include <vector>

#include "model/app.h"
#include "model/parse_support.h"

namespace berth::model {
namespace {

constexpr const char* kSegmentPattern =
    R"(^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$)";

std::vector<std::string> split_segments(const std::string& id) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= id.size()) {
    size_t end = id.find('/', start);
    if (end == std::string::npos) end = id.size();
    if (end > start) segments.push_back(id.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

}  // namespace

std::optional<std::string> app_id_error(const std::string& id) {
  if (id.empty()) return "must not be empty";
  std::vector<std::string> segments = split_segments(id);
  if (segments.empty()) return "must not be root";
  for (const std::string& segment : segments) {
    if (!detail::is_id_segment(segment)) {
      std::string where = segments.size() == 1 ? "" : " in " + detail::quote(id);
      return detail::quote(segment) + where + " must fully match regular expression '" +
             kSegmentPattern + "'";
    }
  }
  const std::string& last = segments.back();
  if (last == "restart" || last == "tasks" || last == "versions" || last == "." || last == "..") {
    return detail::quote(id) +
           " must not end with any of the following reserved keywords: restart, tasks, versions, "
           "., ..";
  }
  return std::nullopt;
}

std::string normalize_app_id(const std::string& id, const std::string& base) {
  std::vector<std::string> input;
  if (id.empty() || id.front() != '/') input = split_segments(base);
  for (std::string& segment : split_segments(id)) input.push_back(std::move(segment));
  std::vector<std::string> resolved;
  for (std::string& segment : input) {
    if (segment == ".") continue;
    if (segment == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    resolved.push_back(std::move(segment));
  }
  std::string out;
  for (const std::string& segment : resolved) out += "/" + segment;
  return out.empty() ? "/" : out;
}

std::string parent_group(const std::string& id) {
  std::string normalized = normalize_app_id(id, "/");
  size_t slash = normalized.rfind('/');
  return slash == 0 ? "/" : normalized.substr(0, slash);
}

std::string safe_app_id(const std::string& app_id) {
  std::vector<std::string> segments = split_segments(app_id);
  std::string out;
  for (const std::string& segment : segments) {
    if (!out.empty()) out += '_';
    out += segment;
  }
  return out;
}

}  // namespace berth::model
