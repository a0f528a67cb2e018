// The NAT table's explicit mapping API (RFC 6887 §11, RFC 6886 §3.3): lifetimes to the
// nanosecond, endpoint-independent mapping and filtering on a symmetric NAT, ownership,
// quotas, suggested ports, and flushes.
#include <gtest/gtest.h>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_table.hpp"

namespace natsim::nat {
namespace {

using testing::ep;
using testing::ip;

constexpr auto kUdp = IpProto::udp;
constexpr auto kTcp = IpProto::tcp;
const TimePoint t0 = at(seconds(10));

NatTable table(const char* preset_name = "symmetric") {
  return NatTable(*preset(preset_name), {ip("203.0.113.2")}, true, sim::Rng(1));
}

MapRequest request(const char* internal, Duration lifetime, std::uint16_t suggested = 0) {
  MapRequest r;
  r.internal = ep(internal);
  r.lifetime = lifetime;
  r.suggested_port = suggested;
  return r;
}

TEST(ExplicitMapping, LivesExactlyItsLifetime) {
  auto t = table();
  auto m = t.map(t0, request("10.0.0.2:4000", seconds(120), 40000));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->created);
  EXPECT_EQ(m->external, ep("203.0.113.2:40000"));
  EXPECT_EQ(m->expires, t0 + seconds(120));
  EXPECT_EQ(t.counters().mappings_mapped, 1u);
  auto listed = t.mappings(t0);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].owner, MappingOwner::pcp);
  EXPECT_EQ(listed[0].expires, t0 + seconds(120));
  EXPECT_FALSE(listed[0].remote);  // endpoint-independent on a symmetric NAT

  const TimePoint last = t0 + seconds(120) - nanoseconds(1);
  EXPECT_TRUE(t.inbound(last, kUdp, ep("198.51.100.7:9"), ep("203.0.113.2:40000")));
  EXPECT_TRUE(t.explicit_mapping(last, kUdp, ep("10.0.0.2:4000")));
  const TimePoint end = t0 + seconds(120);
  EXPECT_FALSE(t.explicit_mapping(end, kUdp, ep("10.0.0.2:4000")));
  EXPECT_TRUE(t.mappings(end).empty());
  auto late = t.inbound(end, kUdp, ep("198.51.100.7:9"), ep("203.0.113.2:40000"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), NatDrop::expired);
  EXPECT_EQ(t.counters().mappings_expired, 1u);
}

TEST(ExplicitMapping, EndpointIndependentWhateverTheNat) {
  auto t = table("symmetric");  // APDM + APDF, sequential ports from 1024
  auto m = t.map(t0, request("10.0.0.2:4000", minutes(10)));
  ASSERT_TRUE(m);
  const Endpoint ext = m->external;
  EXPECT_EQ(ext, ep("203.0.113.2:1024"));
  // Anyone may send in (EIF), and traffic out to any remote leaves from the same
  // external endpoint (EIM).
  auto in = t.inbound(t0, kUdp, ep("198.51.100.7:1"), ext);
  ASSERT_TRUE(in);
  EXPECT_EQ(*in, ep("10.0.0.2:4000"));
  for (const char* remote : {"198.51.100.8:2", "198.51.100.9:3"}) {
    auto out = t.outbound(t0, kUdp, ep("10.0.0.2:4000"), ep(remote));
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, ext);
  }
  EXPECT_EQ(t.size(), 1u);
  // Other internal endpoints keep the NAT's own behaviour.
  auto other = t.outbound(t0, kUdp, ep("10.0.0.2:4001"), ep("198.51.100.8:2"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(t.inbound(t0, kUdp, ep("198.51.100.7:1"), *other));
}

TEST(ExplicitMapping, RefreshSetsANewLifetimeAndDeleteEndsIt) {
  auto t = table();
  ASSERT_TRUE(t.map(t0, request("10.0.0.2:4000", seconds(120))));
  auto again = t.map(t0 + seconds(60), request("10.0.0.2:4000", seconds(120)));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->expires, t0 + seconds(180));
  // A shorter refresh shortens it: expiry at exactly the new end.
  auto shorter = t.map(t0 + seconds(70), request("10.0.0.2:4000", seconds(5)));
  ASSERT_TRUE(shorter);
  EXPECT_EQ(shorter->expires, t0 + seconds(75));
  EXPECT_EQ(t.mappings(t0 + seconds(75) - nanoseconds(1)).size(), 1u);
  EXPECT_TRUE(t.mappings(t0 + seconds(75)).empty());

  ASSERT_TRUE(t.map(t0 + seconds(80), request("10.0.0.2:4000", seconds(120))));
  EXPECT_FALSE(t.unmap(t0 + seconds(81), kUdp, ep("10.0.0.2:4000"), MappingOwner::natpmp));
  EXPECT_TRUE(t.unmap(t0 + seconds(81), kUdp, ep("10.0.0.2:4000"), MappingOwner::pcp));
  EXPECT_EQ(t.counters().mappings_unmapped, 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ExplicitMapping, TakesOverATrafficMappingAndKeepsItsPort) {
  auto t = table("port-restricted-cone");
  auto out = t.outbound(t0, kUdp, ep("10.0.0.2:4000"), ep("198.51.100.7:1"));
  ASSERT_TRUE(out);
  const Endpoint ext = *out;
  auto m = t.map(t0, request("10.0.0.2:4000", seconds(600), 50000));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->created);
  EXPECT_EQ(m->external, ext);
  EXPECT_EQ(m->expires, t0 + seconds(600));
  EXPECT_EQ(t.mappings(t0)[0].owner, MappingOwner::pcp);
}

TEST(ExplicitMapping, AnotherHostsPortIsNeverTaken) {
  auto t = table();
  auto first = t.map(t0, request("10.0.0.2:4000", seconds(600), 40000));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->external.port, 40000);
  // Host .3 suggests the same port: it gets another one, or nothing if it insists.
  auto other = t.map(t0, request("10.0.0.3:4000", seconds(600), 40000));
  ASSERT_TRUE(other);
  EXPECT_NE(other->external.port, 40000);
  auto insist = request("10.0.0.3:4001", seconds(600), 40000);
  insist.require_suggested = true;
  auto refused = t.map(t0, insist);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), MapError::unavailable);
  // And cannot delete or refresh a mapping another protocol made of its own endpoint.
  auto natpmp = request("10.0.0.2:4000", seconds(60));
  natpmp.owner = MappingOwner::natpmp;
  EXPECT_EQ(t.map(t0, natpmp).error(), MapError::not_owner);
  // Traffic to the taken port goes to its owner only.
  auto in = t.inbound(t0, kUdp, ep("198.51.100.7:1"), ep("203.0.113.2:40000"));
  ASSERT_TRUE(in);
  EXPECT_EQ(*in, ep("10.0.0.2:4000"));
}

TEST(ExplicitMapping, QuotaPerHost) {
  auto t = table();
  auto r = request("10.0.0.2:4000", seconds(600));
  r.quota = 2;
  ASSERT_TRUE(t.map(t0, r));
  r.internal.port = 4001;
  ASSERT_TRUE(t.map(t0, r));
  r.internal.port = 4002;
  EXPECT_EQ(t.map(t0, r).error(), MapError::quota);
  r.internal = ep("10.0.0.3:4002");  // another host has its own quota
  EXPECT_TRUE(t.map(t0, r));
  // Refreshing one it holds is not a new mapping.
  r.internal = ep("10.0.0.2:4001");
  EXPECT_TRUE(t.map(t0 + seconds(1), r));
  // Once one expires the host may map again.
  r.internal = ep("10.0.0.2:4002");
  EXPECT_TRUE(t.map(t0 + seconds(600), r));
}

TEST(ExplicitMapping, TcpLifetimeIsNotShortenedByTraffic) {
  auto t = table();
  ASSERT_TRUE(t.map(t0, request("10.0.0.2:4000", hours(1)) /* udp */));
  auto tcp = request("10.0.0.2:4000", hours(1));
  tcp.proto = kTcp;
  ASSERT_TRUE(t.map(t0, tcp));
  // A connection through it closes: the mapping stays for its hour.
  using namespace sim::tcp_flags;
  ASSERT_TRUE(t.outbound(t0, kTcp, ep("10.0.0.2:4000"), ep("198.51.100.7:80"), syn));
  ASSERT_TRUE(t.outbound(t0 + seconds(1), kTcp, ep("10.0.0.2:4000"), ep("198.51.100.7:80"), rst));
  EXPECT_TRUE(t.explicit_mapping(t0 + hours(1) - nanoseconds(1), kTcp, ep("10.0.0.2:4000")));
  EXPECT_FALSE(t.explicit_mapping(t0 + hours(1), kTcp, ep("10.0.0.2:4000")));
}

TEST(ExplicitMapping, FlushDropsThem) {
  auto t = table();
  ASSERT_TRUE(t.map(t0, request("10.0.0.2:4000", hours(1))));
  t.flush();
  EXPECT_TRUE(t.mappings(t0).empty());
  EXPECT_FALSE(t.explicit_mapping(t0, kUdp, ep("10.0.0.2:4000")));
  // The table is consistent afterwards: a symmetric NAT maps per remote again.
  auto a = t.outbound(t0, kUdp, ep("10.0.0.2:4000"), ep("198.51.100.7:1"));
  auto b = t.outbound(t0, kUdp, ep("10.0.0.2:4000"), ep("198.51.100.8:1"));
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace natsim::nat
