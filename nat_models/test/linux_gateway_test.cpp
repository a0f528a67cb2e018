// The Linux profiles on a gateway in a simulated network (docs/fidelity.md): keepalive
// intervals against conntrack's 30 s unreplied timer, inbound-only traffic, and a peer's
// packet that arrives before the host has sent (a staggered ICE start).
#include <gtest/gtest.h>

#include "nat_world.hpp"
#include "natsim/sim/ip_wire.hpp"

namespace natsim::nat {
namespace {

using testing::bytes;
using testing::ep;
using testing::ip;
using testing::World;

const Endpoint kHostInternal = ep("10.0.0.2:5000");
const Endpoint kKept = ep("203.0.113.2:5000");  // the external endpoint masquerade keeps

// A socket that records what it receives and when.
struct Timed {
  explicit Timed(sim::UdpSocket* s) : socket(s) {
    s->on_receive([this](const sim::Datagram& d) {
      at.push_back(d.at);
      from.push_back(d.from);
    });
  }
  sim::UdpSocket* socket;
  std::vector<TimePoint> at;
  std::vector<Endpoint> from;
};

void send_at(sim::UdpSocket* socket, TimePoint when, const Endpoint& to) {
  ASSERT_TRUE(socket->node().schedule_at(
      when, [socket, to] { ASSERT_TRUE(socket->send_to(to, bytes("x"))); }));
}

TimePoint s(int seconds_) {
  return at(seconds(seconds_));
}

// The echo server s1 answers every keepalive, so each is a request and a reply.
TEST(LinuxMasquerade, KeepaliveEvery25sKeepsTheFlowEvery35sLosesIt) {
  for (int interval : {25, 35}) {
    SCOPED_TRACE(interval);
    World w;
    Site site = w.site("home", *preset("linux-masquerade"));
    Timed host(site.hosts[0]->udp_bind(5000).value());
    const Endpoint s1{ip("198.51.100.10"), 3478};
    for (int k = 0; k * interval <= 105; ++k)
      send_at(host.socket, s(k * interval), s1);
    // The server speaks first at 32 s: after a fresh flow's 30 s, before the 35 s keepalive.
    send_at(w.servers[0].sockets[0], s(32), kKept);
    w.net.run_until(s(110));
    const auto& seen = w.servers[0].seen;
    ASSERT_GE(seen.size(), 4u);
    if (interval == 25) {
      // The 25 s keepalive came after a reply and past 2 s: assured, 120 s.
      for (const Endpoint& e : seen)
        EXPECT_EQ(e, kKept);
      EXPECT_EQ(host.at.size(), seen.size() + 1);  // every echo, and the server's own
      EXPECT_EQ(site.gateway.nat_counters().mappings_created, 1u);
      const auto f = site.gateway.table(IpFamily::v4).flow(s(110), IpProto::udp, kHostInternal, s1);
      ASSERT_TRUE(f);
      EXPECT_TRUE(f->assured);
      EXPECT_EQ(f->expires, s(100) + minutes(2));
    } else {
      // Each 35 s keepalive finds its flow gone (30 s after the last echo). The server's
      // datagram at 32 s is refused and leaves an unreplied entry, so the keepalive at
      // 35 s loses the kept port: a random one in 1024-65535.
      EXPECT_EQ(seen[0], kKept);
      EXPECT_NE(seen[1].port, kKept.port);
      EXPECT_GE(seen[1].port, 1024);
      EXPECT_EQ(host.at.size(), seen.size());  // echoes only: the 32 s datagram never came in
      EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::expired), 1u);
      EXPECT_GE(site.gateway.nat_counters().mappings_expired, 2u);
    }
  }
}

// Inbound-only: the host sends once to a peer that never answers that datagram; from
// then on only the peer sends.
TEST(LinuxMasquerade, InboundOnlyEvery25sKeepsTheFlowEvery35sLosesIt) {
  for (int interval : {25, 35}) {
    SCOPED_TRACE(interval);
    World w;
    Site site = w.site("home", *preset("linux-masquerade"));
    Timed host(site.hosts[0]->udp_bind(5000).value());
    sim::UdpSocket* peer = w.servers[0].host->udp_bind(4000).value();  // receives nothing
    const Endpoint peer_ep{ip("198.51.100.10"), 4000};
    send_at(host.socket, s(0), peer_ep);
    for (int k = 1; k * interval <= 105; ++k)
      send_at(peer, s(k * interval), kKept);
    w.net.run_until(s(110));
    if (interval == 25) {
      // 25 s: the first reply (30 s), then assured at 50 s (120 s): all four arrive.
      EXPECT_EQ(host.at, (std::vector<TimePoint>{s(25), s(50), s(75), s(100)}));
    } else {
      // 35 s: the unreplied flow died at 30 s; every later datagram is refused.
      EXPECT_TRUE(host.at.empty());
      EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::expired), 1u);
    }
  }
}

// A peer's check arrives before the host has sent from that port (a staggered ICE
// start): plain masquerade keeps an unreplied entry for it, the host's own first packet
// to the peer loses the port, and the peer's later checks to the kept port are refused.
// `ct state new drop` on the WAN side leaves no entry, and the same exchange works.
TEST(LinuxMasquerade, StaggeredStartLosesThePortUnlessNewInboundIsDropped) {
  for (bool drop_new : {false, true}) {
    SCOPED_TRACE(drop_new);
    World w;
    NatBehavior b = *preset("linux-masquerade");
    b.wan_drop_new = drop_new;
    Site site = w.site("home", b);
    Timed host(site.hosts[0]->udp_bind(5000).value());
    Timed peer(w.servers[0].host->udp_bind(4000).value());
    const Endpoint peer_ep{ip("198.51.100.10"), 4000};
    send_at(peer.socket, s(0), kKept);  // early: nobody sent from 5000 yet
    send_at(host.socket, s(0) + milliseconds(100), peer_ep);
    send_at(peer.socket, s(0) + milliseconds(200), kKept);  // the peer's retransmission
    w.net.run_until(s(1));
    ASSERT_EQ(peer.from.size(), 1u);
    if (!drop_new) {
      EXPECT_NE(peer.from[0], kKept);  // the host's check left from another port
      EXPECT_TRUE(site.gateway.table(IpFamily::v4)
                      .blocks(s(0) + milliseconds(200), IpProto::udp, kKept, peer_ep));
      EXPECT_TRUE(host.at.empty());  // both of the peer's checks were refused
    } else {
      EXPECT_EQ(peer.from[0], kKept);
      EXPECT_EQ(host.at, (std::vector<TimePoint>{s(0) + milliseconds(200)}));
    }
  }
}

// icmp_unreachable: the router's own stack answers what no flow takes with ICMP port
// unreachable from the address the packet was sent to: a peer's datagram to an expired
// flow (40 s after the host's only datagram: the unreplied flow died at 30 s), and the
// host's hairpin attempt to its own external endpoint. `ct state new drop` silences the
// first, not the second (it is an inside packet); without the knob both are silent.
TEST(LinuxMasquerade, RefusedInboundAndHairpinAreAnsweredWithPortUnreachable) {
  struct Variant {
    bool icmp;
    bool drop_new;
    std::uint64_t expected;
  };
  for (const Variant v :
       {Variant{true, false, 2}, Variant{true, true, 1}, Variant{false, false, 0}}) {
    SCOPED_TRACE(std::to_string(v.icmp) + "/" + std::to_string(v.drop_new));
    World w;
    NatBehavior b = *preset("linux-masquerade");
    b.icmp_unreachable = v.icmp;
    b.wan_drop_new = v.drop_new;
    Site site = w.site("home", b);
    sim::UdpSocket* host = site.hosts[0]->udp_bind(5000).value();
    sim::UdpSocket* hairpin = site.hosts[0]->udp_bind(5001).value();
    sim::UdpSocket* peer = w.servers[0].host->udp_bind(4000).value();
    std::vector<sim::SocketError> host_errors, peer_errors;
    hairpin->on_error([&](const sim::SocketError& e) { host_errors.push_back(e); });
    peer->on_error([&](const sim::SocketError& e) { peer_errors.push_back(e); });
    const Endpoint peer_ep{ip("198.51.100.10"), 4000};
    send_at(host, s(0), peer_ep);
    send_at(peer, s(40), kKept);
    send_at(hairpin, s(50), kKept);
    w.net.run_until(s(60));
    EXPECT_EQ(site.gateway.icmp_errors_sent(), v.expected);
    if (v.icmp && !v.drop_new) {
      ASSERT_EQ(peer_errors.size(), 1u);
      EXPECT_EQ(peer_errors[0].at, s(40));
      EXPECT_EQ(peer_errors[0].remote, kKept);
      EXPECT_EQ(peer_errors[0].reporter, kKept.address);
      EXPECT_EQ(peer_errors[0].code, sim::icmp::port_unreachable);
    } else {
      EXPECT_TRUE(peer_errors.empty());
    }
    if (v.icmp) {
      ASSERT_EQ(host_errors.size(), 1u);
      EXPECT_EQ(host_errors[0].at, s(50));
      EXPECT_EQ(host_errors[0].remote, kKept);
      EXPECT_EQ(host_errors[0].reporter, kKept.address);
    } else {
      EXPECT_TRUE(host_errors.empty());
    }
    EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::hairpin_disabled), 1u);
  }
}

// In firewall mode the refused datagram's destination is the inside host, not the
// router: the router must not answer from the host's address (it would spoof its
// client), so nothing is sent; with the flow open the datagram gets in.
TEST(LinuxMasquerade, FirewallModeDoesNotAnswerFromTheInsideHostsAddress) {
  World w;
  NatBehavior b = *preset("linux-masquerade");
  b.ipv4 = Translation::firewall;
  b.icmp_unreachable = true;
  Site site = w.site("home", b);
  w.core.add_route(*Prefix::parse("10.0.0.0/24"), site.upstream_iface, ip("203.0.113.2"));
  Timed host(site.hosts[0]->udp_bind(5000).value());
  sim::UdpSocket* peer = w.servers[0].host->udp_bind(4000).value();
  std::vector<sim::SocketError> peer_errors;
  peer->on_error([&](const sim::SocketError& e) { peer_errors.push_back(e); });
  send_at(peer, s(1), kHostInternal);  // no flow: refused, silently
  send_at(host.socket, s(2), ep("198.51.100.10:4000"));
  send_at(peer, s(3), kHostInternal);  // the flow's reply: admitted
  w.net.run_until(s(10));
  EXPECT_EQ(site.gateway.icmp_errors_sent(), 0u);
  EXPECT_TRUE(peer_errors.empty());
  ASSERT_EQ(host.at.size(), 1u);
  EXPECT_EQ(host.at[0], s(3));  // the site's links have no latency
  EXPECT_EQ(host.from[0], ep("198.51.100.10:4000"));
}

// In firewall mode an ICMP error about a live flow's datagram is related traffic: it
// reaches the inside host untranslated (it was dropped before).
TEST(LinuxMasquerade, FirewallModePassesRelatedIcmpErrors) {
  World w;
  NatBehavior b = *preset("linux-masquerade");
  b.ipv4 = Translation::firewall;
  Site site = w.site("home", b);
  w.core.add_route(*Prefix::parse("10.0.0.0/24"), site.upstream_iface, ip("203.0.113.2"));
  w.servers[0].host->set_icmp_port_unreachable(true);
  sim::UdpSocket* host = site.hosts[0]->udp_bind(5000).value();
  std::vector<sim::SocketError> errors;
  host->on_error([&](const sim::SocketError& e) { errors.push_back(e); });
  send_at(host, s(1), ep("198.51.100.10:4001"));  // no socket there
  w.net.run_until(s(10));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].at, s(1));
  EXPECT_EQ(errors[0].remote, ep("198.51.100.10:4001"));
  EXPECT_EQ(errors[0].reporter, ip("198.51.100.10"));
  EXPECT_EQ(errors[0].code, sim::icmp::port_unreachable);
}

// RFC 5508 §4.2: a server's ICMP port unreachable about the host's datagram comes back
// through the NAT to the host's socket, its quote rewritten to the internal endpoint
// (checksums still valid: the parser checks the quoted IP header's), one round trip
// after the datagram left; about a datagram no mapping sent, it is dropped.
TEST(LinuxMasquerade, IcmpErrorsFromOutsideAreTranslatedToTheHost) {
  World w;
  Site site = w.site("home", *preset("linux-masquerade"));
  w.servers[0].host->set_icmp_port_unreachable(true);
  sim::UdpSocket* host = site.hosts[0]->udp_bind(5000).value();
  std::vector<sim::SocketError> errors;
  host->on_error([&](const sim::SocketError& e) { errors.push_back(e); });
  send_at(host, s(1), ep("198.51.100.10:9999"));  // nothing listens there
  w.net.run_until(s(2));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].at, s(1));
  EXPECT_EQ(errors[0].remote, ep("198.51.100.10:9999"));
  EXPECT_EQ(errors[0].reporter, ip("198.51.100.10"));
  EXPECT_EQ(host->errors(), 1u);
  // The same error for a port the NAT never mapped: no mapping, dropped at the gateway.
  sim::PacketPtr stray = w.net.packets().acquire();
  stray->src = kKept;
  stray->src.port = 6000;
  stray->dst = ep("198.51.100.10:9999");
  ASSERT_TRUE(w.servers[0].host->send_icmp_port_unreachable(*stray, ip("198.51.100.10")));
  w.net.run_until(s(3));
  EXPECT_EQ(errors.size(), 1u);
  EXPECT_EQ(site.gateway.counters().drops(sim::DropReason::no_state), 1u);
}

TEST(LinuxMasquerade, TwoHostsOverloadOnePortTowardsDifferentServers) {
  World w;
  Site site = w.site("home", *preset("linux-masquerade"), 2);
  Timed a(site.hosts[0]->udp_bind(5000).value());
  Timed b(site.hosts[1]->udp_bind(5000).value());
  send_at(a.socket, s(0), ep("198.51.100.10:3478"));
  send_at(b.socket, s(0), ep("198.51.100.20:3478"));
  w.net.run_until(s(1));
  ASSERT_EQ(w.servers[0].seen.size(), 1u);
  ASSERT_EQ(w.servers[1].seen.size(), 1u);
  EXPECT_EQ(w.servers[0].seen[0], kKept);
  EXPECT_EQ(w.servers[1].seen[0], kKept);
  EXPECT_EQ(a.at, (std::vector<TimePoint>{s(0)}));  // each echo found its own host
  EXPECT_EQ(b.at, (std::vector<TimePoint>{s(0)}));
}

// RFC 5508 §4.2 / RFC 1624: translating an ICMP error back rewrites the quoted UDP
// checksum incrementally. The payload is chosen so that the internal datagram's checksum
// is zero before RFC 768's substitution: the update then computes 0x0000, which in UDP
// means "no checksum", and must write 0xffff.
TEST(LinuxMasquerade, TranslatedQuoteNeverHasAZeroUdpChecksum) {
  World w;
  Site site = w.site("home", *preset("linux-masquerade"));
  w.servers[0].host->set_icmp_port_unreachable(true);
  sim::Host& h = *site.hosts[0];
  const Endpoint to = ep("198.51.100.10:4001");  // no socket there
  // The word that makes the ones'-complement sum all ones: the checksum of the same
  // datagram with a zero word there.
  sim::PacketPool pool;
  auto probe = pool.acquire();
  probe->src = kHostInternal;
  probe->dst = to;
  const std::array<std::uint8_t, 2> zero{0, 0};
  probe->assign(zero);
  std::vector<std::uint8_t> wire(probe->wire_size());
  sim::encode_ip_packet(*probe, wire);
  const std::array<std::uint8_t, 2> word{wire[26], wire[27]};
  std::vector<std::uint8_t> quote;
  TimePoint quoted_at = kTimeNever;
  h.set_local_tap([&](sim::PacketPtr p) {
    if (p->proto != sim::IpProto::icmp) return;
    quote.assign(p->payload().begin(), p->payload().end());
    quoted_at = w.net.now();
  });
  sim::UdpSocket* host = h.udp_bind(5000).value();
  ASSERT_TRUE(host->node().schedule_at(s(1), [&] { ASSERT_TRUE(host->send_to(to, word)); }));
  w.net.run_until(s(10));
  h.set_local_tap(nullptr);
  ASSERT_EQ(quote.size(), sim::kIpv4HeaderSize + sim::kIcmpQuotedData);
  EXPECT_EQ(quoted_at, s(1));
  auto q = sim::parse_icmp_quote(quote);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, kHostInternal);  // translated back
  EXPECT_EQ(quote[26], 0xff);
  EXPECT_EQ(quote[27], 0xff);
}

}  // namespace
}  // namespace natsim::nat
