// Internal to src/http: the OpenSSL contexts behind HTTPS. The server's comes from its
// certificate and key files (server.cpp); the client's is one per process, built on first
// use from the CA file set with http::set_client_ca_file (client.cpp). Only forward
// declarations here, so including it does not pull in Asio's SSL headers.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace berth::http::internal {

// A TLS 1.2+ server context serving the chain in `cert_file` with the key in `key_file`.
// kInvalidArgument naming the file and OpenSSL's reason when either is unusable or they do
// not match.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const std::string& cert_file, const std::string& key_file);

// The process's client context: TLS 1.2+, peers verified against the configured CA file.
// kInvalidArgument when that file cannot be loaded.
Result<std::shared_ptr<boost::asio::ssl::context>> client_tls_context();

}  // namespace berth::http::internal
