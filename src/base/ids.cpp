#include "base/ids.h"

#include <sys/random.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>

namespace berth {
namespace {
std::mutex g_mu;

unsigned long long xorshift(unsigned long long* s) {
  unsigned long long x = s[0];
  unsigned long long const y = s[1];
  s[0] = y;
  x ^= x << 23;
  s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
  return s[1] + y;
}
}  // namespace

RandomIdSource::RandomIdSource() {
  std::random_device rd;
  state_[0] = (static_cast<unsigned long long>(rd()) << 32) ^ rd();
  state_[1] = (static_cast<unsigned long long>(rd()) << 32) ^ rd() ^ 0x9e3779b97f4a7c15ULL;
}

std::string RandomIdSource::uuid() {
  unsigned long long a, b;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    a = xorshift(state_);
    b = xorshift(state_);
  }
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", a >> 32, (a >> 16) & 0xffff,
                a & 0xffff, b >> 48, b & 0xffffffffffffULL);
  return buf;
}

std::string RandomIdSource::secret() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof bytes);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace berth
