// "host:port" of a URL, for comparing a master's URL with the "host:port" a master names as the
// leader (docs/architecture.md §5): the CLI's `master list` and the agent's master list use it.
#pragma once

#include <string>

namespace berth::http {

// "host:port" of an http:// or https:// URL, the port defaulting to the scheme's (80, 443); ""
// for a URL without a host. "http://127.0.0.1:8080/" gives "127.0.0.1:8080".
std::string url_host_port(const std::string& url);

}  // namespace berth::http
