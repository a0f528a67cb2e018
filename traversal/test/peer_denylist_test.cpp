// The relay's peer denylist (RFC 8656 §21.3): every special-purpose range, and every IPv6
// form that embeds a denied IPv4 address, is refused; allowed prefixes override.
#include "natsim/traversal/peer_denylist.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace natsim::traversal::turn {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(IpAddress{});
}

bool denied_by_default(const char* text, const std::vector<Prefix>& allowed = {}) {
  const auto list = default_denied_peers();
  return peer_denied(ip(text), list, allowed);
}

// Every form the review listed, and the boundaries of each range.
const char* const kDenied[] = {
    "255.255.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "0.255.255.255",  // broadcast, 0/8
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "254.1.2.3",  // 224/4, 240/4
    "100.64.0.0",
    "100.127.255.255",
    "198.18.0.1",
    "198.19.255.255",  // RFC 6598, RFC 2544
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",  // loopback, link-local
    "::",
    "::1",
    "ff02::1",
    "ff05::1:3",
    "fe80::1",  // IPv6 special
    "::ffff:127.0.0.1",
    "::ffff:255.255.255.255",
    "::ffff:0.0.0.0",
    "::ffff:100.64.0.1",
    "::ffff:224.0.0.1",
    "::ffff:198.18.0.1",
    "::ffff:169.254.169.254",  // IPv4-mapped
    "::127.0.0.1",
    "::224.0.0.1",
    "::100.64.0.1",
    "::255.255.255.255",  // IPv4-compatible
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::ffff:ffff",  // NAT64 (RFC 6052)
    "64:ff9b::100.64.0.1",
    "64:ff9b::0.0.0.0",
    "2002:7f00:1::1",
    "2002:ffff:ffff::",
    "2002:a9fe:a9fe:1::5",  // 6to4 (RFC 3056)
    "2002:0:0::",
    "2002:c612:1::",  // 0.0.0.0, 198.18.0.1
};

// Public, private and documentation addresses stay reachable (the simulator's networks
// use RFC 1918 and documentation ranges), and so do the neighbours of each range.
const char* const kAllowed[] = {
    "8.8.8.8",           "10.0.0.1",        "172.16.0.1",     "192.168.1.1",      "192.0.2.77",
    "203.0.113.5",       "1.0.0.0",         "100.63.255.255", "100.128.0.0",      "198.17.255.255",
    "198.20.0.0",        "126.255.255.255", "128.0.0.0",      "169.253.255.255",  "223.255.255.255",
    "2001:db8::1",       "2606:4700::1111", "fd00::1",        "fec0::1",          "::2:0:0:1",
    "::ffff:8.8.8.8",    "::ffff:10.0.0.1", "::8.8.8.8",      "64:ff9b::8.8.8.8",
    "64:ff9b:1::7f00:1",  // RFC 8215 local-use prefix: no well-known embedding
    "2002:808:808::1",   "2001::1",
};

TEST(PeerDenylist, EverySpecialPurposeFormIsDenied) {
  for (const char* a : kDenied)
    EXPECT_TRUE(denied_by_default(a)) << a;
}

TEST(PeerDenylist, PublicPrivateAndDocumentationAddressesAreAllowed) {
  for (const char* a : kAllowed)
    EXPECT_FALSE(denied_by_default(a)) << a;
}

TEST(PeerDenylist, EmbeddedIpv4IsExtractedFromEachForm) {
  EXPECT_EQ(embedded_ipv4(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
  EXPECT_EQ(embedded_ipv4(ip("::1.2.3.4")), ip("1.2.3.4"));
  EXPECT_EQ(embedded_ipv4(ip("64:ff9b::1.2.3.4")), ip("1.2.3.4"));
  EXPECT_EQ(embedded_ipv4(ip("2002:102:304:5::6")), ip("1.2.3.4"));
  // :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones.
  EXPECT_EQ(embedded_ipv4(ip("::")), std::nullopt);
  EXPECT_EQ(embedded_ipv4(ip("::1")), std::nullopt);
  EXPECT_EQ(embedded_ipv4(ip("2001:db8::1.2.3.4")), std::nullopt);
  EXPECT_EQ(embedded_ipv4(ip("1.2.3.4")), std::nullopt);
}

TEST(PeerDenylist, AllowedPrefixesOverrideADenialInEveryForm) {
  const std::vector<Prefix> cgn = {*Prefix::parse("100.64.0.0/10")};
  EXPECT_FALSE(denied_by_default("100.64.0.1", cgn));
  EXPECT_FALSE(denied_by_default("::ffff:100.64.0.1", cgn));
  EXPECT_FALSE(denied_by_default("64:ff9b::100.64.0.1", cgn));
  EXPECT_TRUE(denied_by_default("127.0.0.1", cgn));
  // coturn's --allow-loopback-peers: 127/8 and ::1 (which must not fall to 0.0.0.0/8).
  const std::vector<Prefix> loopback = {*Prefix::parse("127.0.0.0/8"), *Prefix::parse("::1")};
  EXPECT_FALSE(denied_by_default("127.0.0.1", loopback));
  EXPECT_FALSE(denied_by_default("::1", loopback));
  EXPECT_FALSE(denied_by_default("::ffff:127.0.0.1", loopback));
  EXPECT_TRUE(denied_by_default("::", loopback));
  // An allowed IPv6 form does not launder a denied IPv4 address inside it.
  const std::vector<Prefix> six_to_four = {*Prefix::parse("2002::/16")};
  EXPECT_TRUE(denied_by_default("2002:7f00:1::1", six_to_four));
}

TEST(PeerDenylist, ConfiguredDenialsApplyToEmbeddedForms) {
  const std::vector<Prefix> denied = {*Prefix::parse("10.0.0.0/8")};
  EXPECT_TRUE(peer_denied(ip("10.1.2.3"), denied, {}));
  EXPECT_TRUE(peer_denied(ip("::ffff:10.1.2.3"), denied, {}));
  EXPECT_TRUE(peer_denied(ip("2002:a01:203::1"), denied, {}));
  EXPECT_FALSE(peer_denied(ip("127.0.0.1"), denied, {}));  // replaced defaults
}

}  // namespace
}  // namespace natsim::traversal::turn
