#include "natsim/base/time.hpp"

#include <gtest/gtest.h>

namespace natsim {
namespace {

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("100ns"), nanoseconds(100));
  EXPECT_EQ(parse_duration("10us"), microseconds(10));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("3m"), minutes(3));
  EXPECT_EQ(parse_duration("2min"), minutes(2));
  EXPECT_EQ(parse_duration("2h"), hours(2));
  EXPECT_EQ(parse_duration("0s"), Duration::zero());
  EXPECT_EQ(parse_duration(".5ms"), microseconds(500));
}

TEST(Duration, RejectsMalformedText) {
  for (const char* bad :
       {"", "ms", "10", "-5ms", "5 ms", "5sec", "1.2.3s", "10MS", "s5", "99999999999999999999s"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, LargeValuesRoundTripOrOverflowCleanly) {
  EXPECT_EQ(parse_duration("15920001500159us"), microseconds(15920001500159));
  EXPECT_EQ(parse_duration("9223372036s"), seconds(9223372036));
  EXPECT_FALSE(parse_duration("9223372037s"));  // past INT64_MAX nanoseconds
  EXPECT_FALSE(parse_duration("2562048h"));
  EXPECT_EQ(parse_duration("1.5ns"), nanoseconds(1));  // below a nanosecond truncates
}

TEST(Duration, FormatsInLargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(seconds(120)), "2m");
  EXPECT_EQ(format_duration(nanoseconds(7)), "7ns");
  EXPECT_EQ(format_duration(Duration::zero()), "0ns");
  EXPECT_EQ(parse_duration(format_duration(microseconds(1234))), microseconds(1234));
}

}  // namespace
}  // namespace natsim
