#include "ui/ui_files.h"

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "ui/embedded.h"

namespace berth::ui {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A name below ui/ that can only mean a file there: letters, digits, '.', '_', '-' and '/'
// between non-empty segments, none of them "." or "..".
bool safe_name(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '/' || name.back() == '/') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok) return false;
  }
  std::stringstream segments(name);
  std::string segment;
  while (std::getline(segments, segment, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  return true;
}

http::Response with_headers(http::Response r) {
  r.headers.push_back({"Content-Security-Policy", kContentSecurityPolicy});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.headers.push_back({"X-Frame-Options", "DENY"});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  return r;
}

http::Response plain(int status, const std::string& text) {
  http::Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = text;
  return with_headers(std::move(r));
}

http::Response redirect(const std::string& location) {
  http::Response r = plain(302, "see " + location + "\n");
  r.headers.push_back({"Location", location});
  return r;
}

// The files of $BERTH_UI_DIR, read at each request, or null when it is not set.
const std::string* dev_dir() {
  static const std::string dir = [] {
    const char* env = std::getenv("BERTH_UI_DIR");
    return std::string(env ? env : "");
  }();
  return dir.empty() ? nullptr : &dir;
}

std::optional<std::string> read_dev_file(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

http::Response file_answer(const http::Request& request, const std::string& name,
                           std::string_view bytes) {
  // A validator from the bytes: a reload after a new build gets the new files, an unchanged
  // file costs a 304.
  std::string etag = "\"" + std::to_string(std::hash<std::string_view>{}(bytes)) + "\"";
  http::Response r;
  r.content_type = content_type_of(name);
  if (request.header("if-none-match") == etag) {
    r.status = 304;
  } else if (request.method == "GET") {
    r.body = std::string(bytes);
  }
  r.headers.push_back({"ETag", etag});
  r.headers.push_back({"Cache-Control", "no-cache"});
  return with_headers(std::move(r));
}

}  // namespace

std::string content_type_of(const std::string& name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/plain; charset=utf-8"},
      {".ico", "image/x-icon"}};
  for (const auto& [extension, type] : kTypes) {
    if (ends_with(name, extension)) return type;
  }
  std::string base = name.substr(name.rfind('/') + 1);
  if (base.rfind("LICENSE", 0) == 0) return "text/plain; charset=utf-8";
  return "";
}

std::optional<http::Response> serve_from(const std::map<std::string, std::string_view>& files,
                                         const http::Request& request) {
  const std::string& path = request.path;
  if (path != "/" && path != "/ui" && path.rfind("/ui/", 0) != 0) return std::nullopt;
  if (request.method != "GET" && request.method != "HEAD") {
    http::Response r = plain(405, "the UI's files answer GET and HEAD only\n");
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  }
  if (path == "/" || path == "/ui") return redirect("/ui/");
  std::string name = path.size() == 4 ? "index.html" : path.substr(4);
  if (!safe_name(name) || content_type_of(name).empty()) return plain(404, "no such UI file\n");
  if (const std::string* dir = dev_dir(); dir && &files == &embedded_files()) {
    auto bytes = read_dev_file(*dir, name);
    if (!bytes) return plain(404, "no such UI file in $BERTH_UI_DIR\n");
    return file_answer(request, name, *bytes);
  }
  auto it = files.find(name);
  if (it == files.end()) return plain(404, "no such UI file\n");
  return file_answer(request, name, it->second);
}

std::optional<http::Response> serve(const http::Request& request) {
  return serve_from(embedded_files(), request);
}

}  // namespace berth::ui
