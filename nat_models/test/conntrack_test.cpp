// The `conntrack` knobs (docs/fidelity.md): Linux netfilter's per-flow UDP state, port
// selection (nf_nat_used_tuple, nf_nat_l4proto_unique_tuple) and unreplied inbound
// entries, checked on the NAT table in virtual time.
#include <gtest/gtest.h>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_table.hpp"

namespace natsim::nat {
namespace {

using testing::ep;
using testing::ip;

constexpr auto kUdp = IpProto::udp;
const TimePoint t0 = at(seconds(1));

NatTable make(const char* profile, std::uint64_t seed = 1) {
  return NatTable(*preset(profile), {ip("203.0.113.2")}, true, sim::Rng(seed));
}

NatTable masquerade(std::uint64_t seed = 1) {
  return make("linux-masquerade", seed);
}

const Endpoint kServer = ep("198.51.100.10:3478");
const Endpoint kPeer = ep("198.51.100.20:40000");

// --- port collision: a random port within the source port's class

struct ClassCase {
  std::uint16_t port;
  std::uint16_t first;
  std::uint16_t last;
};

class Collision : public ::testing::TestWithParam<ClassCase> {};

TEST_P(Collision, SecondHostGetsARandomPortInTheFirstsClass) {
  const ClassCase c = GetParam();
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto t = masquerade(seed);
    const Endpoint a{ip("10.0.0.2"), c.port};
    const Endpoint b{ip("10.0.0.3"), c.port};
    EXPECT_EQ(t.outbound(t0, kUdp, a, kServer).value().port, c.port);  // kept
    const std::uint16_t second = t.outbound(t0, kUdp, b, kServer).value().port;
    EXPECT_NE(second, c.port);
    EXPECT_GE(second, c.first) << "seed " << seed;
    EXPECT_LE(second, c.last) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(LinuxClasses, Collision,
                         ::testing::Values(ClassCase{5000, 1024, 65535},
                                           ClassCase{65535, 1024, 65535},
                                           ClassCase{1023, 600, 1023}, ClassCase{512, 600, 1023},
                                           ClassCase{700, 600, 1023}, ClassCase{100, 1, 511},
                                           ClassCase{511, 1, 511}));

TEST(Collision, PortClassesMatchTheKernel) {
  // nf_nat_l4proto_unique_tuple: < 512 -> 1..511, < 1024 -> 600..1023, else 1024..65535.
  EXPECT_EQ(linux_port_class(1).first, 1);
  EXPECT_EQ(linux_port_class(511).last, 511);
  EXPECT_EQ(linux_port_class(512).first, 600);
  EXPECT_EQ(linux_port_class(599).first, 600);
  EXPECT_EQ(linux_port_class(1023).last, 1023);
  EXPECT_EQ(linux_port_class(1024).first, 1024);
  EXPECT_EQ(linux_port_class(65535).last, 65535);
}

TEST(Collision, NextFreeIsTheOldModel) {
  NatBehavior b = *preset("linux-masquerade");
  b.port_classes = false;
  b.port_collision = PortCollision::next_free;
  NatTable t(b, {ip("203.0.113.2")}, true, sim::Rng(1));
  (void)t.outbound(t0, kUdp, ep("10.0.0.2:1023"), kServer);
  EXPECT_EQ(t.outbound(t0, kUdp, ep("10.0.0.3:1023"), kServer).value().port, 1024);
}

// --- port overloading (nf_nat_used_tuple: unique per full reply tuple)

TEST(Overloading, TwoHostsShareOneExternalPortTowardsDifferentRemotes) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  const Endpoint b = ep("10.0.0.3:5000");
  EXPECT_EQ(t.outbound(t0, kUdp, a, kServer).value(), ep("203.0.113.2:5000"));
  EXPECT_EQ(t.outbound(t0, kUdp, b, kPeer).value(), ep("203.0.113.2:5000"));
  // Replies find their own flow.
  EXPECT_EQ(t.inbound(t0, kUdp, kServer, ep("203.0.113.2:5000")).value(), a);
  EXPECT_EQ(t.inbound(t0, kUdp, kPeer, ep("203.0.113.2:5000")).value(), b);
  // A third remote reaches neither (APDF by construction), and is counted as filtered.
  EXPECT_EQ(t.inbound(t0, kUdp, ep("198.51.100.30:1"), ep("203.0.113.2:5000")).error(),
            NatDrop::filtered);
  EXPECT_EQ(t.size(), 2u);
}

TEST(Overloading, TheCollidingHostKeepsItsCollisionPortForItsNextFlows) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  const Endpoint b = ep("10.0.0.3:5000");
  const Endpoint other = ep("198.51.100.11:3479");
  (void)t.outbound(t0, kUdp, a, kServer);
  (void)t.outbound(t0, kUdp, a, other);
  const auto b1 = t.outbound(t0, kUdp, b, kServer).value();
  EXPECT_NE(b1.port, 5000);
  // find_appropriate_src: the second host's next flows reuse its first flow's port while
  // that tuple is free, towards `other` (where the first host also sent) as elsewhere.
  EXPECT_EQ(t.outbound(t0, kUdp, b, other).value(), b1);
  EXPECT_EQ(t.outbound(t0, kUdp, b, kPeer).value(), b1);
  // A new source with no flow yet keeps its own port towards a remote nobody used.
  EXPECT_EQ(t.outbound(t0, kUdp, ep("10.0.0.4:5000"), ep("198.51.100.40:1")).value().port, 5000);
}

TEST(RandomProfiles, EveryFlowGetsARandomPortInClass) {
  for (const char* name : {"linux-masquerade-random", "linux-masquerade-fully-random"}) {
    auto t = make(name);
    const Endpoint a = ep("10.0.0.2:5000");
    const auto x = t.outbound(t0, kUdp, a, kServer).value();
    const auto y = t.outbound(t0, kUdp, a, kPeer).value();
    EXPECT_NE(x.port, y.port) << name;
    EXPECT_GE(x.port, 1024) << name;
    EXPECT_EQ(t.outbound(t0 + seconds(1), kUdp, a, kServer).value(), x) << name;  // same flow
    const auto low = t.outbound(t0, kUdp, ep("10.0.0.2:123"), kServer).value();
    EXPECT_GE(low.port, 1) << name;
    EXPECT_LE(low.port, 511) << name;
  }
}

// --- timers: 30 s unreplied, 120 s assured (nf_conntrack_proto_udp.c)

TEST(Timers, AnUnrepliedFlowLives30sFromItsLastPacket) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  (void)t.outbound(t0, kUdp, a, kServer);
  (void)t.outbound(t0 + seconds(20), kUdp, a, kServer);  // refreshes to 30 s again
  auto f = t.flow(t0 + seconds(20), kUdp, a, kServer);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->expires, t0 + seconds(50));
  EXPECT_FALSE(f->seen_reply);
  EXPECT_FALSE(t.flow(t0 + seconds(50), kUdp, a, kServer));
  EXPECT_EQ(t.inbound(t0 + seconds(50), kUdp, kServer, ep("203.0.113.2:5000")).error(),
            NatDrop::expired);
}

TEST(Timers, OneRequestAndReplyStayOnThe30sTimer) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  (void)t.outbound(t0, kUdp, a, kServer);
  ASSERT_TRUE(t.inbound(t0 + milliseconds(20), kUdp, kServer, ep("203.0.113.2:5000")));
  auto f = t.flow(t0 + milliseconds(20), kUdp, a, kServer);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->seen_reply);
  EXPECT_FALSE(f->assured);
  EXPECT_EQ(f->expires, t0 + milliseconds(30020));
}

TEST(Timers, TrafficAfterAReplyAndPast2sPromotesToTheStreamTimer) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  (void)t.outbound(t0, kUdp, a, kServer);
  (void)t.inbound(t0 + milliseconds(20), kUdp, kServer, ep("203.0.113.2:5000"));
  // Within 2 s of the first packet: still the unreplied timer.
  (void)t.outbound(t0 + seconds(2), kUdp, a, kServer);
  EXPECT_FALSE(t.flow(t0 + seconds(2), kUdp, a, kServer)->assured);
  EXPECT_EQ(t.flow(t0 + seconds(2), kUdp, a, kServer)->expires, t0 + seconds(32));
  // Past 2 s: assured, 120 s.
  (void)t.outbound(t0 + seconds(25), kUdp, a, kServer);
  auto f = t.flow(t0 + seconds(25), kUdp, a, kServer);
  EXPECT_TRUE(f->assured);
  EXPECT_EQ(f->expires, t0 + seconds(145));
  EXPECT_TRUE(t.flow(t0 + seconds(144), kUdp, a, kServer));
  EXPECT_FALSE(t.flow(t0 + seconds(145), kUdp, a, kServer));
}

TEST(Timers, InboundTrafficRefreshesAndPromotes) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  const Endpoint x = ep("203.0.113.2:5000");
  (void)t.outbound(t0, kUdp, a, kPeer);
  ASSERT_TRUE(t.inbound(t0 + seconds(25), kUdp, kPeer, x));  // the first reply: 30 s
  EXPECT_EQ(t.flow(t0 + seconds(25), kUdp, a, kPeer)->expires, t0 + seconds(55));
  ASSERT_TRUE(t.inbound(t0 + seconds(50), kUdp, kPeer, x));  // seen a reply, past 2 s
  EXPECT_TRUE(t.flow(t0 + seconds(50), kUdp, a, kPeer)->assured);
  EXPECT_EQ(t.flow(t0 + seconds(50), kUdp, a, kPeer)->expires, t0 + seconds(170));
}

TEST(Timers, WithoutInboundRefreshOnlyOutboundKeepsTheFlow) {
  NatBehavior b = *preset("linux-masquerade");
  b.inbound_refresh = false;
  NatTable t(b, {ip("203.0.113.2")}, true, sim::Rng(1));
  const Endpoint a = ep("10.0.0.2:5000");
  (void)t.outbound(t0, kUdp, a, kPeer);
  ASSERT_TRUE(t.inbound(t0 + seconds(25), kUdp, kPeer, ep("203.0.113.2:5000")));
  EXPECT_EQ(t.flow(t0 + seconds(25), kUdp, a, kPeer)->expires, t0 + seconds(30));
}

// --- unreplied inbound entries block their port towards that remote

TEST(Blocking, AnEarlyInboundPacketCostsTheHostItsPortTowardsThatRemote) {
  auto t = masquerade();
  const Endpoint x = ep("203.0.113.2:5000");
  EXPECT_EQ(t.inbound(t0, kUdp, kPeer, x).error(), NatDrop::no_mapping);
  EXPECT_TRUE(t.blocks(t0, kUdp, x, kPeer));
  const Endpoint a = ep("10.0.0.2:5000");
  const auto to_peer = t.outbound(t0 + seconds(1), kUdp, a, kPeer).value();
  EXPECT_NE(to_peer.port, 5000);
  EXPECT_GE(to_peer.port, 1024);
  // The host's next flow reuses that port (find_appropriate_src), since the block is
  // per reply tuple and (port, server) is free.
  EXPECT_EQ(t.outbound(t0 + seconds(1), kUdp, a, kServer).value(), to_peer);
  // The peer's retransmissions keep the entry (30 s from each), then it goes.
  EXPECT_FALSE(t.inbound(t0 + seconds(20), kUdp, kPeer, x));
  EXPECT_TRUE(t.blocks(t0 + seconds(49), kUdp, x, kPeer));
  EXPECT_FALSE(t.blocks(t0 + seconds(50), kUdp, x, kPeer));
  EXPECT_EQ(t.size(), 2u);  // the blocking entry is no mapping
}

TEST(Blocking, AnInboundPacketToAnExpiredFlowBlocksItsPort) {
  auto t = masquerade();
  const Endpoint a = ep("10.0.0.2:5000");
  const Endpoint x = ep("203.0.113.2:5000");
  (void)t.outbound(t0, kUdp, a, kPeer);
  EXPECT_EQ(t.inbound(t0 + seconds(31), kUdp, kPeer, x).error(), NatDrop::expired);
  EXPECT_NE(t.outbound(t0 + seconds(32), kUdp, a, kPeer).value().port, 5000);
}

TEST(Blocking, CtStateNewDropLeavesNoState) {
  NatBehavior b = *preset("linux-masquerade");
  b.wan_drop_new = true;
  NatTable t(b, {ip("203.0.113.2")}, true, sim::Rng(1));
  const Endpoint x = ep("203.0.113.2:5000");
  EXPECT_EQ(t.inbound(t0, kUdp, kPeer, x).error(), NatDrop::no_mapping);
  EXPECT_FALSE(t.blocks(t0, kUdp, x, kPeer));
  EXPECT_EQ(t.outbound(t0 + seconds(1), kUdp, ep("10.0.0.2:5000"), kPeer).value(), x);
}

TEST(Conntrack, MappingsListEachFlowWithItsRemote) {
  auto t = masquerade();
  (void)t.outbound(t0, kUdp, ep("10.0.0.2:5000"), kServer);
  (void)t.outbound(t0, kUdp, ep("10.0.0.2:5000"), kPeer);
  (void)t.inbound(t0, kUdp, ep("198.51.100.99:9"), ep("203.0.113.2:5000"));  // no mapping
  const auto m = t.mappings(t0);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].external, ep("203.0.113.2:5000"));
  EXPECT_EQ(m[1].external, ep("203.0.113.2:5000"));
  ASSERT_TRUE(m[0].remote);
  EXPECT_NE(*m[0].remote, *m[1].remote);
  EXPECT_EQ(t.counters().mappings_created, 2u);
  EXPECT_EQ(t.counters().drops(NatDrop::filtered), 1u);
}

}  // namespace
}  // namespace natsim::nat
