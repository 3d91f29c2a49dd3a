// SHA-256 over bytes fed piece by piece, through OpenSSL's EVP interface: the digest that
// proves a `local` dataset's archive arrived as it was sent (dataset_transfer.h). Both agents
// compute it over the same stream, the sender as it writes and the receiver as it reads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace berth::agent {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything fed so far, as 64 lowercase hex digits; feeding may go on.
  std::string hex() const;

 private:
  struct Free {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> context_;
};

}  // namespace berth::agent
