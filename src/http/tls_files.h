// Throwaway TLS files for a cluster that has no PKI of its own: `berth up --tls` and tests
// call write_test_pki() once, then give the server cert.pem/key.pem (ServerOptions) and every
// client ca.pem (http::set_client_ca_file). OpenSSL stays inside tls_files.cpp.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace berth::http {

// Writes into `dir` (created if missing, then mode 0700) a new certificate authority,
// ca.pem and ca-key.pem, and a server certificate it signed, cert.pem and key.pem: EC P-256
// keys, SHA-256 signatures, valid for one year (from an hour ago, for clock skew). The
// server certificate's subject alternative names are 127.0.0.1, ::1 and localhost plus
// `names`: each one an IP address (v4 or v6) or a DNS name. Every file is mode 0600 and
// replaced atomically. kInvalidArgument for an empty name or one with spaces or commas;
// kUnavailable when the directory or a file cannot be written (the message names it).
Status write_test_pki(const std::string& dir, const std::vector<std::string>& names);

}  // namespace berth::http
