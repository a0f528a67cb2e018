// natsim's port mapper against the gateway's PCP / NAT-PMP service, in virtual time on
// the simulator: the exact instants a mapping is created, refreshed at half its
// lifetime and re-created after a gateway reboot, NAT-PMP fallback, and double NAT.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "port_mapper_lab.hpp"

namespace natsim::nat {
namespace {

using testing::Driver;
using testing::ep;
using testing::ip;
using testing::kLan;
using traversal::MappingProtocol;
using traversal::PortMapper;
using traversal::PortMapperEvent;
using Kind = PortMapperEvent::Kind;

// New firmware: NAT-PMP only, booted without the old mappings and without a word.
void downgrade_to_natpmp_only(testing::MapperLab& lab) {
  PortMappingConfig natpmp_only;
  natpmp_only.pcp = false;
  natpmp_only.on_reboot = RebootMappings::forget_silently;
  lab.site->gateway.enable_port_mapping(natpmp_only);
  lab.site->gateway.reboot();
}

TEST(PortMapper, MapsRefreshesAtHalfLifeAndRecreatesAfterAReboot) {
  testing::MapperLab lab({});
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 17, 4000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[0].event.protocol, MappingProtocol::pcp);
  EXPECT_EQ(d.seen[0].at, kTimeZero + 2 * kLan);  // one round trip on the LAN
  // No suggested port: the symmetric NAT's sequential assignment, from 1024.
  EXPECT_EQ(d.seen[0].event.external, ep("203.0.113.2:1024"));
  EXPECT_EQ(d.seen[0].event.lifetime, 600u);
  EXPECT_FALSE(d.seen[0].event.double_nat);
  ASSERT_EQ(lab.site->gateway.mappings().size(), 1u);
  EXPECT_EQ(lab.site->gateway.mappings()[0].expires, kTimeZero + kLan + seconds(600));

  // Refreshed at half the lifetime: the request leaves at 300.010 s.
  lab.w.net.run_until(at(seconds(400)));
  ASSERT_EQ(d.seen.size(), 2u);
  EXPECT_EQ(d.seen[1].event.kind, Kind::refreshed);
  EXPECT_EQ(d.seen[1].at, 2 * kLan + seconds(300) + 2 * kLan + kTimeZero);
  EXPECT_EQ(lab.site->gateway.mappings()[0].expires,
            kTimeZero + 2 * kLan + seconds(300) + kLan + seconds(600));

  // The gateway reboots at 400 s and forgets the mapping. It multicasts ANNOUNCE at once
  // (RFC 6887 §14.1.3), which the mapper's port 5350 hears one LAN hop later: reboot
  // detected; the mapper renews after a random 0-5 s and the mapping is re-created on the
  // port it had.
  const TimePoint rebooted = lab.w.net.now();
  lab.site->gateway.reboot();
  EXPECT_TRUE(lab.site->gateway.mappings().empty());
  lab.w.net.run_until(at(seconds(700)));
  ASSERT_EQ(d.seen.size(), 4u);
  EXPECT_EQ(d.seen[2].event.kind, Kind::gateway_rebooted);
  EXPECT_EQ(d.seen[2].at, rebooted + kLan);
  EXPECT_EQ(d.seen[3].event.kind, Kind::recreated);
  const Duration delay = d.seen[3].at - d.seen[2].at - 2 * kLan;
  EXPECT_GE(delay, Duration::zero());
  EXPECT_LT(delay, seconds(5));
  EXPECT_EQ(delay % milliseconds(1), Duration::zero());
  EXPECT_EQ(d.seen[3].event.external, ep("203.0.113.2:1024"));
  ASSERT_EQ(lab.site->gateway.mappings().size(), 1u);
  EXPECT_EQ(lab.site->gateway.mappings()[0].expires, d.seen[3].at - kLan + seconds(600));

  // Deleting it.
  d.mapper.remove(lab.w.net.now(), 0);
  d.pump();
  lab.w.net.run_until(at(seconds(701)));
  ASSERT_EQ(d.seen.size(), 5u);
  EXPECT_EQ(d.seen[4].event.kind, Kind::deleted);
  EXPECT_TRUE(lab.site->gateway.mappings().empty());
}

TEST(PortMapper, FallsBackToNatPmpWhenTheGatewaySaysSo) {
  PortMappingConfig c;
  c.pcp = false;
  testing::MapperLab lab(c);
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 6, 8080, 7200, 8080);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[0].event.protocol, MappingProtocol::natpmp);
  EXPECT_EQ(d.seen[0].event.external, ep("203.0.113.2:8080"));
  // PCP request and its NAT-PMP answer, then address and map requests: two round trips.
  EXPECT_EQ(d.seen[0].at, kTimeZero + 4 * kLan);
  auto m = lab.site->gateway.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].owner, MappingOwner::natpmp);
  EXPECT_EQ(m[0].proto, IpProto::tcp);
  EXPECT_EQ(m[0].expires, kTimeZero + 3 * kLan + seconds(7200));
}

TEST(PortMapper, FallsBackToNatPmpWhenPcpIsNeverAnswered) {
  // A gateway without the service at all: PCP at 0, 3, 9 s (RFC 6887 §8.1.1), then
  // NAT-PMP from 21 s at 250 ms doubling (RFC 6886 §3.1), 9 tries, then failed.
  testing::World w;
  Site site = w.site("home", *preset("symmetric"));
  traversal::PortMapperConfig c;
  c.local = ep("10.0.0.2:5350");
  c.gateway = ep("10.0.0.1:5351");
  Driver d(*site.hosts[0], c);
  d.mapper.add(w.net.now(), 17, 4000, 600);
  d.pump();
  w.net.run_until(at(seconds(20)));
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::pcp);
  w.net.run_until(at(seconds(22)));
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::natpmp);
  w.net.run_until(at(seconds(200)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::failed);
  // 21 s + 0.25 s * (1 + 2 + ... + 256) = 21 s + 127.75 s.
  EXPECT_EQ(d.seen[0].at, at(seconds(21)) + milliseconds(127750));
}

TEST(PortMapper, PcpUnansweredAfterAGrantFailsOnlyThatMapping) {
  // PCP granted mapping A; then its answers stop arriving (NAT-PMP would still be
  // answered). The gateway that granted over PCP is there: a second mapping B that goes
  // unanswered fails on its own, A's refresh too, and nothing moves to NAT-PMP.
  testing::MapperLab lab({});
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 17, 4000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[0].at, kTimeZero + 2 * kLan);
  const Endpoint a = d.seen[0].event.external;

  d.drop_received = [](ByteView b) { return !b.empty() && b[0] == 2; };  // PCP's version
  d.mapper.add(lab.w.net.now(), 17, 5000, 600);
  d.pump();
  // B at 1, 4 and 10 s (RFC 6887 §8.1.1: 3 s, doubling), failed 12 s after the last.
  lab.w.net.run_until(at(seconds(22)) - milliseconds(1));
  EXPECT_EQ(d.seen.size(), 1u);
  lab.w.net.run_until(at(seconds(23)));
  ASSERT_EQ(d.seen.size(), 2u);
  EXPECT_EQ(d.seen[1].event.kind, Kind::failed);
  EXPECT_EQ(d.seen[1].event.id, 1u);
  EXPECT_EQ(d.seen[1].event.protocol, MappingProtocol::pcp);
  EXPECT_EQ(d.seen[1].at, at(seconds(22)));
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::pcp);
  ASSERT_TRUE(d.mapper.external(0));  // A is untouched
  EXPECT_EQ(*d.mapper.external(0), a);
  EXPECT_FALSE(d.mapper.external(1));

  // A's refresh leaves at half its lifetime, 300.010 s, and is lost the same way: A
  // fails 21 s later, still over PCP.
  lab.w.net.run_until(at(seconds(400)));
  ASSERT_EQ(d.seen.size(), 3u);
  EXPECT_EQ(d.seen[2].event.kind, Kind::failed);
  EXPECT_EQ(d.seen[2].event.id, 0u);
  EXPECT_EQ(d.seen[2].event.protocol, MappingProtocol::pcp);
  EXPECT_EQ(d.seen[2].at, kTimeZero + 2 * kLan + seconds(300 + 21));
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::pcp);
  EXPECT_FALSE(d.mapper.external(0));

  // Every request went over PCP, at the instants of RFC 6887 §8.1.1's schedule; not one
  // over NAT-PMP, and the gateway holds no NAT-PMP mapping.
  const Duration refresh = 2 * kLan + seconds(300);
  const std::vector<TimePoint> expected{
      kTimeZero,   at(seconds(1)),           at(seconds(4)),           at(seconds(10)),
      at(refresh), at(refresh + seconds(3)), at(refresh + seconds(9)),
  };
  ASSERT_EQ(d.sent.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(d.sent[i].at, expected[i]) << i;
    EXPECT_EQ(d.sent[i].version, 2u) << i;
  }
  for (const auto& m : lab.site->gateway.mappings())
    EXPECT_NE(m.owner, MappingOwner::natpmp);
}

TEST(PortMapper, UnsupportedVersionAfterPcpGrantsIsADowngrade) {
  // PCP granted mapping A; then the gateway is downgraded to a NAT-PMP-only service and
  // answers the next PCP request with "unsupported version" (RFC 6887 §9). That is the
  // gateway's own word, not a lost exchange: the mapper follows it, and A, granted by a
  // server that is gone, is re-created over NAT-PMP at once on the port it had.
  testing::MapperLab lab({});
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 17, 4000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::mapped);
  const Endpoint a = d.seen[0].event.external;

  downgrade_to_natpmp_only(lab);
  EXPECT_TRUE(lab.site->gateway.mappings().empty());
  lab.w.net.run_until(at(seconds(2)));
  EXPECT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::pcp);

  d.mapper.add(lab.w.net.now(), 17, 5000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(3)));
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::natpmp);
  // B's PCP request and its refusal, then the address and both map requests over
  // NAT-PMP: two round trips.
  ASSERT_EQ(d.seen.size(), 3u);
  EXPECT_EQ(d.seen[1].event.kind, Kind::recreated);
  EXPECT_EQ(d.seen[1].event.id, 0u);
  EXPECT_EQ(d.seen[1].event.protocol, MappingProtocol::natpmp);
  EXPECT_EQ(d.seen[1].event.external, a);
  EXPECT_EQ(d.seen[1].at, at(seconds(2)) + 4 * kLan);
  EXPECT_EQ(d.seen[2].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[2].event.id, 1u);
  EXPECT_EQ(d.seen[2].event.protocol, MappingProtocol::natpmp);
  EXPECT_EQ(d.seen[2].at, at(seconds(2)) + 4 * kLan);
  auto m = lab.site->gateway.mappings();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].owner, MappingOwner::natpmp);
  EXPECT_EQ(m[1].owner, MappingOwner::natpmp);
}

TEST(PortMapper, DowngradeWithTwoRefreshesOutIgnoresTheLateRefusal) {
  // Two mappings granted over PCP at the same instant refresh at the same instant; the
  // gateway, downgraded to NAT-PMP only meanwhile, refuses both requests. The first
  // refusal moves both mappings to NAT-PMP; the second, to the other PCP request, must not
  // be read as NAT-PMP being refused: both are re-created over NAT-PMP.
  testing::MapperLab lab({});
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 17, 4000, 600);
  d.mapper.add(lab.w.net.now(), 17, 5000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 2u);
  EXPECT_EQ(d.seen[0].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[1].event.kind, Kind::mapped);
  EXPECT_EQ(d.seen[1].at, kTimeZero + 2 * kLan);
  const Endpoint a = d.seen[0].event.external;
  const Endpoint b = d.seen[1].event.external;

  downgrade_to_natpmp_only(lab);
  lab.w.net.run_until(at(seconds(300)));
  EXPECT_EQ(d.seen.size(), 2u);

  // Both refreshes leave at 300.010 s and are refused at 300.020 s; the address and both
  // map requests over NAT-PMP are answered one round trip later.
  lab.w.net.run_until(at(seconds(400)));
  ASSERT_EQ(d.seen.size(), 4u);
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(d.seen[i].event.kind, Kind::recreated) << i;
    EXPECT_EQ(d.seen[i].event.id, i - 2) << i;
    EXPECT_EQ(d.seen[i].event.protocol, MappingProtocol::natpmp) << i;
    EXPECT_EQ(d.seen[i].at, at(seconds(300)) + 6 * kLan) << i;
  }
  EXPECT_EQ(d.seen[2].event.external, a);
  EXPECT_EQ(d.seen[3].event.external, b);
  EXPECT_EQ(d.mapper.protocol(), MappingProtocol::natpmp);
  auto m = lab.site->gateway.mappings();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].owner, MappingOwner::natpmp);
  EXPECT_EQ(m[1].owner, MappingOwner::natpmp);
}

TEST(PortMapper, CgnatHiddenGatewayIsDoubleNat) {
  // The home gateway's "external" address is in 100.64/10 (RFC 6598).
  testing::MapperLab lab({}, "100.64.0.2/10", "100.64.0.1/10");
  Driver& d = *lab.driver;
  d.mapper.add(lab.w.net.now(), 17, 4000, 600);
  d.pump();
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_EQ(d.seen.size(), 1u);
  EXPECT_EQ(d.seen[0].event.external.address, ip("100.64.0.2"));
  EXPECT_TRUE(d.seen[0].event.double_nat);
  EXPECT_TRUE(traversal::behind_another_nat(ip("192.168.1.1")));
  EXPECT_TRUE(traversal::behind_another_nat(ip("172.31.0.1")));
  EXPECT_FALSE(traversal::behind_another_nat(ip("172.32.0.1")));
  EXPECT_FALSE(traversal::behind_another_nat(ip("100.128.0.1")));
}

}  // namespace
}  // namespace natsim::nat
