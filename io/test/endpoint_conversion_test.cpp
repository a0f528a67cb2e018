#include "natsim/io/endpoint_conversion.hpp"

#include <gtest/gtest.h>

namespace natsim::io {
namespace {

TEST(EndpointConversion, Ipv4RoundTrips) {
  const Endpoint e = *Endpoint::parse("192.0.2.7:3478");
  const auto a = to_asio(e);
  EXPECT_TRUE(a.address().is_v4());
  EXPECT_EQ(a.address().to_string(), "192.0.2.7");
  EXPECT_EQ(a.port(), 3478);
  EXPECT_EQ(from_asio(a), e);
}

TEST(EndpointConversion, Ipv6RoundTrips) {
  const Endpoint e = *Endpoint::parse("[2001:db8::1]:5349");
  const auto a = to_asio(e);
  EXPECT_TRUE(a.address().is_v6());
  EXPECT_EQ(a.address().to_string(), "2001:db8::1");
  EXPECT_EQ(from_asio(a), e);
}

TEST(EndpointConversion, WildcardsStayWildcards) {
  EXPECT_TRUE(to_asio(*IpAddress::parse("0.0.0.0")).is_unspecified());
  const auto any6 = from_asio(boost::asio::ip::address_v6::any());
  EXPECT_TRUE(any6.is_v6());
  EXPECT_TRUE(any6.is_unspecified());
}

}  // namespace
}  // namespace natsim::io
