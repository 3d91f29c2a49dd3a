#include "agent/sha256.h"

#include <openssl/evp.h>

#include "base/check.h"

namespace berth::agent {

void Sha256::Free::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

// OpenSSL fails these calls only when it cannot allocate or lacks SHA-256 altogether.
Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  BERTH_CHECK(context_ != nullptr);
  BERTH_CHECK(EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) {
  BERTH_CHECK(EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) == 1);
}

std::string Sha256::hex() const {
  std::unique_ptr<EVP_MD_CTX, Free> copy(EVP_MD_CTX_new());
  BERTH_CHECK(copy != nullptr && EVP_MD_CTX_copy_ex(copy.get(), context_.get()) == 1);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  BERTH_CHECK(EVP_DigestFinal_ex(copy.get(), digest, &size) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace berth::agent
