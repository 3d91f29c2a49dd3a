// Internal to src/http: the connection engine's small pieces that need neither Beast nor Asio
// (error bodies, chunk framing, calling the handler, looking at a peer), kept apart from
// engine_session.h so that file stays about the state machine.
#pragma once

#include <cstddef>
#include <string>

#include "http/http.h"

namespace berth::http::internal {

// {"message":"..."} with quotes and backslashes escaped and control characters as spaces.
std::string json_message(const std::string& message);

// The line that opens a chunk of `size` bytes of a chunked body: the size in hex and CRLF. The
// chunk's bytes and another CRLF follow.
std::string chunk_size_line(size_t size);

// The last chunk of a chunked body with `trailer` as its trailer fields. A CR or LF in a value
// would end the field early, so each becomes a space.
std::string last_chunk(const Fields& trailer);

// The handler's answer; a 500 that names the exception when it throws.
Response call_handler(const Handler& handler, const Request& request);

// True when the peer of `fd` has closed, half-closed or reset the connection. A peer that sent
// bytes (a pipelined request) is still there; the bytes are left unread.
bool peer_gone(int fd);

}  // namespace berth::http::internal
