// Id minting lives in the shell: pure code receives ids. IdSource is the narrow interface.
#pragma once

#include <string>

namespace berth {

class IdSource {
 public:
  virtual ~IdSource() = default;
  // A fresh random UUID (version 4), lowercase, 36 characters.
  virtual std::string uuid() = 0;
  // A fresh secret that nobody can guess (an agent's credential, an API token): 64 lowercase
  // hex characters from the kernel's random source.
  virtual std::string secret() = 0;
};

// Reads from a seeded Mersenne twister mixed with /dev/urandom at construction.
class RandomIdSource final : public IdSource {
 public:
  RandomIdSource();
  std::string uuid() override;
  std::string secret() override;

 private:
  unsigned long long state_[2];
};

}  // namespace berth
