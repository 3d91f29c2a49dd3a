#include "http/engine_parts.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <exception>

namespace berth::http::internal {

std::string json_message(const std::string& message) {
  std::string out = R"({"message":")";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"}";
}

std::string chunk_size_line(size_t size) {
  char line[24];
  int n = std::snprintf(line, sizeof line, "%zx\r\n", size);
  return std::string(line, static_cast<size_t>(n));
}

std::string last_chunk(const Fields& trailer) {
  std::string out = "0\r\n";
  for (const auto& [name, value] : trailer) {
    out += name + ": ";
    for (char c : value) out += (c == '\r' || c == '\n') ? ' ' : c;
    out += "\r\n";
  }
  return out + "\r\n";
}

Response call_handler(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return Response{
        500, "application/json", {}, json_message(std::string("internal error: ") + e.what())};
  }
}

bool peer_gone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}
}  // namespace berth::http::internal
