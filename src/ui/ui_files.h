// Serving the web UI (docs/ui.md): GET / redirects to /ui/, /ui/ is ui/index.html and
// /ui/<path> the file ui/<path>, from the files embedded in the binary, or from the directory
// named by $BERTH_UI_DIR (read once) while the UI is being worked on. The files hold no data,
// so they are served without a credential; every answer carries a Content-Security-Policy
// that lets the page load only the master's own scripts, styles and API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace berth::ui {

// The content security policy of every UI answer.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

// The answer to `request` when its path is the UI's ("/", "/ui", "/ui/..."), else nullopt.
std::optional<http::Response> serve(const http::Request& request);

// serve() over the given files instead of the embedded ones (for tests).
std::optional<http::Response> serve_from(const std::map<std::string, std::string_view>& files,
                                         const http::Request& request);

// The content type of a file name by its extension; "" for a name the UI does not serve.
std::string content_type_of(const std::string& name);

}  // namespace berth::ui
