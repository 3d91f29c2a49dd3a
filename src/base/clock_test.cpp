#include "base/clock.h"

#include <gtest/gtest.h>

#include "base/ids.h"

namespace berth {

TEST(Clock, FormatsIso8601WithMillisecondsLikeMarathon) {
  WallTime t{std::chrono::milliseconds(1443542391164LL)};
  EXPECT_EQ(format_iso8601(t), "2015-09-29T15:59:51.164Z");
}

TEST(Clock, ParsesWhatItFormats) {
  WallTime t{std::chrono::milliseconds(1443542391164LL)};
  WallTime back;
  ASSERT_TRUE(parse_iso8601(format_iso8601(t), &back));
  EXPECT_EQ(back, t);
  ASSERT_TRUE(parse_iso8601("2015-09-29T15:59:51Z", &back));
  EXPECT_EQ(back, WallTime(std::chrono::milliseconds(1443542391000LL)));
}

TEST(Clock, RejectsMalformedTimestamps) {
  WallTime out;
  EXPECT_FALSE(parse_iso8601("yesterday", &out));
  EXPECT_FALSE(parse_iso8601("2015-09-29T15:59:51.164", &out));
  EXPECT_FALSE(parse_iso8601("2015-09-29T15:59:51.Z", &out));
}

TEST(Ids, MintsDistinctVersion4Uuids) {
  RandomIdSource ids;
  std::string a = ids.uuid();
  std::string b = ids.uuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

}  // namespace berth
