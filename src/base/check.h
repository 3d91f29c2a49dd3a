// CHECK: invariants that, if broken, mean a bug. berth crashes loudly rather than corrupt
// cluster state. Expected failures use Result<T> instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#define BERTH_CHECK(cond)                                                             \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
