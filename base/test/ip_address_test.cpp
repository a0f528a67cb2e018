#include "natsim/base/ip_address.hpp"
#include "natsim/base/endpoint.hpp"

#include <gtest/gtest.h>

namespace natsim {
namespace {

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
  auto v4 = IpAddress::parse("192.0.2.33");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4_value(), 0xc0000221u);
  EXPECT_EQ(v4->to_string(), "192.0.2.33");
  EXPECT_EQ(*v4, IpAddress::v4(192, 0, 2, 33));

  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
  EXPECT_NE(IpAddress::parse("::"), IpAddress::parse("0.0.0.0"));
}

TEST(IpAddress, RejectsMalformedText) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/8", "[::1]", "::g",
                          "2001:db8:::1", " 1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(IpAddress::parse(std::string(200, '1')).has_value());
}

TEST(IpAddress, ClassifiesSpecialAddresses) {
  EXPECT_TRUE(IpAddress::parse("224.0.0.251")->is_multicast());
  EXPECT_TRUE(IpAddress::parse("ff02::1")->is_multicast());
  EXPECT_FALSE(IpAddress::parse("10.0.0.1")->is_multicast());
  EXPECT_TRUE(IpAddress::parse("255.255.255.255")->is_broadcast());
  EXPECT_TRUE(IpAddress{}.is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
}

TEST(Prefix, MasksAndContains) {
  auto p = Prefix::parse("10.1.2.3/8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.255.0.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("11.0.0.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("::a00:1")));

  auto odd = Prefix::parse("100.64.0.0/10");
  EXPECT_TRUE(odd->contains(*IpAddress::parse("100.127.255.255")));
  EXPECT_FALSE(odd->contains(*IpAddress::parse("100.128.0.0")));

  auto v6 = Prefix::parse("2001:db8:ff::/33");
  EXPECT_EQ(v6->to_string(), "2001:db8::/33");
  EXPECT_EQ(Prefix::parse("1.2.3.4")->length(), 32);
  EXPECT_EQ(Prefix::parse("0.0.0.0/0")->length(), 0);
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8"}) {
    EXPECT_FALSE(Prefix::parse(bad).has_value()) << bad;
  }
}

TEST(InterfaceAddress, KeepsHostBits) {
  auto a = InterfaceAddress::parse("192.168.1.10/24");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address.to_string(), "192.168.1.10");
  EXPECT_EQ(a->subnet().to_string(), "192.168.1.0/24");
}

TEST(Endpoint, ParsesAndFormats) {
  auto e = Endpoint::parse("198.51.100.7:3478");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 3478);
  EXPECT_EQ(e->to_string(), "198.51.100.7:3478");
  auto e6 = Endpoint::parse("[2001:db8::2]:65535");
  ASSERT_TRUE(e6);
  EXPECT_EQ(e6->to_string(), "[2001:db8::2]:65535");
  for (const char* bad : {"1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "2001:db8::2:80", "[::1]80",
                          "[::1]:", "host:80", "1.2.3.4:-1"}) {
    EXPECT_FALSE(Endpoint::parse(bad).has_value()) << bad;
  }
}

TEST(Endpoint, HashSeparatesPortsAndAddresses) {
  const Endpoint a{*IpAddress::parse("10.0.0.1"), 1000};
  const Endpoint b{*IpAddress::parse("10.0.0.1"), 1001};
  const Endpoint c{*IpAddress::parse("10.0.0.2"), 1000};
  EXPECT_NE(a.hash(), b.hash());
  EXPECT_NE(a.hash(), c.hash());
  EXPECT_EQ(a.hash(), Endpoint(a).hash());
}

}  // namespace
}  // namespace natsim
