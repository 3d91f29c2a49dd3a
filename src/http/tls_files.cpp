#include "http/tls_files.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>

namespace berth::http {
namespace {

constexpr long kValiditySeconds = 365L * 24 * 60 * 60;
constexpr long kBackdateSeconds = 60L * 60;

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

std::string openssl_reason() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Error openssl_error(const std::string& step) {
  return make_error(ErrorCode::kInternal, "cannot " + step + ": " + openssl_reason());
}

bool is_ip(const std::string& name) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

bool add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `common_name`; self-signed when `issuer` is null.
Result<Cert> make_certificate(const std::string& common_name, EVP_PKEY* key, X509* issuer,
                              EVP_PKEY* issuer_key, const std::string& subject_alt_names) {
  Cert cert(X509_new(), X509_free);
  if (!cert) return openssl_error("create a certificate");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return openssl_error("draw a serial number");
  serial[0] &= 0x7f;  // positive
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial_number(
      BN_bin2bn(serial, sizeof serial, nullptr), BN_free);
  bool ok = serial_number && X509_set_version(cert.get(), 2) == 1 &&
            BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) != nullptr &&
            X509_set_pubkey(cert.get(), key) == 1;
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto text = [](const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.c_str());
  };
  ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, text("berth"), -1, -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(common_name), -1, -1, 0) == 1 &&
       X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) == 1;
  if (!ok) return openssl_error("fill in certificate '" + common_name + "'");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  const bool ca = issuer == nullptr;
  ok = add_extension(cert.get(), &ctx, NID_basic_constraints,
                     ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE") &&
       add_extension(cert.get(), &ctx, NID_key_usage,
                     ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
       add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash") &&
       add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (ok && !ca) {
    ok = add_extension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth") &&
         add_extension(cert.get(), &ctx, NID_subject_alt_name, subject_alt_names);
  }
  if (!ok) return openssl_error("add extensions to certificate '" + common_name + "'");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) {
    return openssl_error("sign certificate '" + common_name + "'");
  }
  return cert;
}

// Writes `path` through a temporary file of mode 0600 renamed into place.
Status write_private_file(const std::string& path, const std::function<bool(BIO*)>& write) {
  std::string temp = path + ".tmp";
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot write '" + temp + "': " + std::strerror(errno));
  }
  ::fchmod(fd, 0600);  // whatever the umask
  BIO* bio = BIO_new_fd(fd, BIO_CLOSE);
  if (bio == nullptr) {
    ::close(fd);
    ::unlink(temp.c_str());
    return openssl_error("open '" + temp + "'");
  }
  bool ok = write(bio) && BIO_flush(bio) == 1 && ::fsync(fd) == 0;
  BIO_free(bio);
  if (!ok) {
    ::unlink(temp.c_str());
    return make_error(ErrorCode::kUnavailable, "cannot write '" + temp + "': " + openssl_reason());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    return make_error(ErrorCode::kUnavailable,
                      "cannot rename '" + temp + "' to '" + path + "': " + reason);
  }
  return {};
}

Status write_key(const std::string& path, EVP_PKEY* key) {
  return write_private_file(path, [key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

Status write_cert(const std::string& path, X509* cert) {
  return write_private_file(path, [cert](BIO* bio) { return PEM_write_bio_X509(bio, cert) == 1; });
}

}  // namespace

Status write_test_pki(const std::string& dir, const std::vector<std::string>& names) {
  std::set<std::string> seen = {"127.0.0.1", "::1", "localhost"};
  std::string sans = "IP:127.0.0.1,IP:::1,DNS:localhost";
  for (const auto& name : names) {
    if (name.empty() || name.find_first_of(", \t\r\n") != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument, "invalid certificate name '" + name +
                                                         "': give an IP address or a DNS name");
    }
    if (!seen.insert(name).second) continue;
    sans += (is_ip(name) ? ",IP:" : ",DNS:") + name;
  }
  std::error_code fs_ec;
  std::filesystem::create_directories(dir, fs_ec);
  if (fs_ec || ::chmod(dir.c_str(), 0700) != 0) {
    std::string reason = fs_ec ? fs_ec.message() : std::strerror(errno);
    return make_error(ErrorCode::kUnavailable,
                      "cannot create private directory '" + dir + "': " + reason);
  }

  Key ca_key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  Key server_key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!ca_key || !server_key) return openssl_error("generate an EC P-256 key");
  auto ca = make_certificate("berth test CA", ca_key.get(), nullptr, nullptr, "");
  if (!ca) return ca.error();
  auto server = make_certificate("berth server", server_key.get(), ca->get(), ca_key.get(), sans);
  if (!server) return server.error();

  if (Status s = write_key(dir + "/ca-key.pem", ca_key.get()); !s) return s;
  if (Status s = write_cert(dir + "/ca.pem", ca->get()); !s) return s;
  if (Status s = write_key(dir + "/key.pem", server_key.get()); !s) return s;
  return write_cert(dir + "/cert.pem", server->get());
}

}  // namespace berth::http
