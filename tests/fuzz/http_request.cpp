// The HTTP/1.1 request parsing of berth's servers: Boost.Beast's request_parser with the
// server's limits (header 64 KiB, body 8 MiB, as src/http/beast_session.h sets them), fed the
// bytes in pieces as reads deliver them, then the berth::http::Request the server builds
// (split_target on the target, lower-case header names). The first byte sets the piece size.
#include <boost/beast/http.hpp>
#include <cctype>
#include <string>

#include "fuzz_input.h"
#include "http/http.h"

namespace {

namespace bhttp = boost::beast::http;
using namespace berth;

constexpr size_t kHeaderLimit = 64 * 1024;
const size_t kBodyLimit = http::ServerOptions{}.max_body_bytes;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 64;
  std::string_view bytes = fuzz::as_text(data + 1, size - 1);

  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  parser.header_limit(kHeaderLimit);
  boost::beast::error_code ec;
  size_t consumed = 0;
  size_t received = std::min(piece, bytes.size());
  while (!parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(bytes.data() + consumed, received - consumed), ec);
    consumed += used;
    if (ec && ec != bhttp::error::need_more) break;
    if (ec == bhttp::error::need_more || used == 0) {
      ec = {};
      if (received == bytes.size()) {
        // The end of the stream, as beast::http::read reports it: put_eof only after some
        // bytes of a message, else end_of_stream (the peer closed between requests).
        if (parser.got_some())
          parser.put_eof(ec);
        else
          ec = bhttp::error::end_of_stream;
        break;
      }
      received = std::min(received + piece, bytes.size());
    }
  }
  if (ec || !parser.is_done()) return 0;

  auto& message = parser.get();
  http::Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  http::split_target(request.target, &request.path, &request.query);
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[name] = std::string(field.value());
  }
  request.body = std::move(message.body());
  fuzz::require(request.body.size() <= kBodyLimit, "the body limit holds");
  (void)message.keep_alive();
  (void)request.query_flag("force", false);
  (void)request.header("content-type");
  fuzz::require(http::percent_decode(http::percent_encode(request.path)) == request.path,
                "percent_decode undoes percent_encode");
  return 0;
}
