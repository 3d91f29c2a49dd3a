#include "http/tls_contexts.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <mutex>

#include "http/http.h"

namespace berth::http {
namespace internal {
namespace {

namespace ssl = boost::asio::ssl;

constexpr auto kContextOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                 ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;

struct ClientConfig {
  std::mutex mu;
  std::string ca_file;
  std::shared_ptr<ssl::context> context;  // built on first use
};

ClientConfig& client_config() {
  static ClientConfig config;
  return config;
}

std::string reason(const boost::system::error_code& ec) {
  std::string text = ec.message();
  return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const std::string& cert_file,
                                                              const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(kContextOptions, ec);
  // Idle keep-alive connections give their read and write buffers back.
  SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot use TLS certificate file '" + cert_file + "': " + reason(ec) +
                          "; give a PEM certificate chain, server first");
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec && ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "TLS key file '" + key_file + "' does not match the certificate in '" + cert_file + "'");
  }
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument, "cannot use TLS key file '" + key_file +
                                                       "': " + reason(ec) +
                                                       "; give an unencrypted PEM private key");
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    ERR_clear_error();
    return make_error(
        ErrorCode::kInvalidArgument,
        "TLS key file '" + key_file + "' does not match the certificate in '" + cert_file + "'");
  }
  return context;
}

Result<std::shared_ptr<ssl::context>> client_tls_context() {
  ClientConfig& config = client_config();
  std::lock_guard<std::mutex> lock(config.mu);
  if (config.context) return config.context;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  context->set_options(kContextOptions, ec);
  context->set_verify_mode(ssl::verify_peer, ec);
  if (config.ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot load the system's CA certificates: " + reason(ec) +
                            "; give the cluster's CA certificate file (--ca-cert)");
    }
  } else {
    context->load_verify_file(config.ca_file, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cannot load CA certificates from '" + config.ca_file + "': " + reason(ec) +
                            "; give a PEM file with the cluster's CA certificate (--ca-cert)");
    }
  }
  config.context = std::move(context);
  return config.context;
}

}  // namespace internal

void set_client_ca_file(std::string path) {
  internal::ClientConfig& config = internal::client_config();
  std::lock_guard<std::mutex> lock(config.mu);
  config.ca_file = std::move(path);
  config.context.reset();
}

}  // namespace berth::http
