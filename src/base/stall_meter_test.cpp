#include "base/stall_meter.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(StallMeter, CountsEachValueInTheFirstBucketThatHoldsIt) {
  StallMeter meter;
  meter.record(microseconds(300));   // <= 1 ms
  meter.record(milliseconds(1));     // <= 1 ms: bounds are inclusive
  meter.record(milliseconds(7));     // <= 10 ms
  meter.record(milliseconds(3000));  // past the last bound
  meter.record(milliseconds(-5));    // a clock that stepped back counts as no stall
  StallMeter::Snapshot s = meter.snapshot();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.max, milliseconds(3000));
  EXPECT_EQ(s.buckets[0], 3u);
  EXPECT_EQ(s.buckets[3], 1u);
  EXPECT_EQ(s.buckets.back(), 1u);
  EXPECT_EQ(s.sum, microseconds(300) + milliseconds(1) + milliseconds(7) + milliseconds(3000));
}

TEST(StallMeter, DescribesPercentilesAsBucketBounds) {
  StallMeter meter;
  EXPECT_EQ(StallMeter::describe(meter.snapshot()), "n=0 max=0.0ms p50<=-ms p99<=-ms p99.9<=-ms");
  for (int i = 0; i < 98; ++i) meter.record(microseconds(500));
  meter.record(milliseconds(15));
  meter.record(milliseconds(150));
  EXPECT_EQ(StallMeter::describe(meter.snapshot()),
            "n=100 max=150.0ms p50<=1ms p99<=20ms p99.9<=200ms");
}

}  // namespace
}  // namespace berth
