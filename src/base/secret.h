// Comparing secrets (join tokens, agents' credentials, API token digests).
#pragma once

#include <string>

namespace berth {

// Compares without stopping at the first difference, so the time taken says nothing of how
// much of a guessed secret was right (only of its length).
inline bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace berth
