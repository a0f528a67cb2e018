#include "natsim/nat_models/nat_gateway.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "nat_world.hpp"
#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/pcap.hpp"

namespace natsim::nat {
namespace {

using sim::DropReason;
using testing::bytes;
using testing::ep;
using testing::Inbox;
using testing::ip;
using testing::World;

const Endpoint kS1 = *Endpoint::parse("198.51.100.10:3478");
const Endpoint kS2 = *Endpoint::parse("198.51.100.20:3478");

TEST(NatGateway, TranslatesOutboundAndRepliesComeBack) {
  World w;
  Site site = w.site("home", *preset("port-restricted-cone"));
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("hello")));
  w.net.run();
  ASSERT_EQ(w.servers[0].seen.size(), 1u);
  EXPECT_EQ(w.servers[0].seen[0], ep("203.0.113.2:5000"));
  EXPECT_EQ(inbox.payloads, std::vector<std::string>{"hello"});
  EXPECT_EQ(inbox.from, std::vector<Endpoint>{kS1});
  EXPECT_EQ(site.gateway.nat_counters().outbound, 1u);
  EXPECT_EQ(site.gateway.nat_counters().inbound, 1u);
  auto m = site.gateway.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].internal, ep("10.0.0.2:5000"));
  EXPECT_EQ(m[0].external, ep("203.0.113.2:5000"));
}

TEST(NatGateway, UnsolicitedInboundIsDroppedAndCounted) {
  World w;
  Site site = w.site("home", *preset("full-cone"));
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(w.servers[0].sockets[0]->send_to(ep("203.0.113.2:5000"), bytes("knock")));
  w.net.run();
  EXPECT_TRUE(inbox.payloads.empty());
  EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::no_mapping), 1u);
  EXPECT_EQ(site.gateway.counters().drops(DropReason::no_state), 1u);
  // Traffic to the private address itself never gets in either.
  ASSERT_TRUE(w.servers[0].sockets[0]->send_to(ep("10.0.0.2:5000"), bytes("direct")));
  w.net.run();
  EXPECT_TRUE(inbox.payloads.empty());
}

TEST(NatGateway, RebootLosesMappingsAndDropsDuringDowntime) {
  World w;
  Site site = w.site("home", *preset("full-cone"));
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("1")));
  w.net.run();
  ASSERT_EQ(site.gateway.mappings().size(), 1u);
  site.gateway.reboot(seconds(30));
  EXPECT_TRUE(site.gateway.mappings().empty());
  // During the downtime nothing crosses.
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("2")));
  w.net.run_for(seconds(1));
  EXPECT_EQ(site.gateway.counters().drops(DropReason::node_down), 1u);
  // The old mapping is gone: the server's packet to it is dropped after the reboot.
  w.net.run_for(seconds(30));
  ASSERT_TRUE(w.servers[0].sockets[0]->send_to(ep("203.0.113.2:5000"), bytes("stale")));
  w.net.run();
  EXPECT_EQ(inbox.payloads, std::vector<std::string>{"1"});
  EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::no_mapping), 1u);
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("3")));
  w.net.run();
  EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"1", "3"}));
}

TEST(NatGateway, NewWanAddressIsUsedForNewMappings) {
  World w;
  Site site = w.site("home", *preset("full-cone"), 1, "203.0.113.2/29", "203.0.113.1/29");
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("a")));
  w.net.run();
  site.gateway.reboot(Duration::zero(), *InterfaceAddress::parse("203.0.113.5/29"));
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("b")));
  w.net.run();
  ASSERT_EQ(w.servers[0].seen.size(), 2u);
  EXPECT_EQ(w.servers[0].seen[0], ep("203.0.113.2:5000"));
  EXPECT_EQ(w.servers[0].seen[1], ep("203.0.113.5:5000"));
  EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(site.gateway.owns(ip("203.0.113.2")));
}

TEST(NatGateway, FlushAndBehaviourChangeTakeEffectAtOnce) {
  World w;
  Site site = w.site("home", *preset("full-cone"));
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("a")));
  w.net.run();
  site.gateway.flush_mappings();
  EXPECT_TRUE(site.gateway.mappings().empty());
  site.gateway.set_behavior(*preset("symmetric"));
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("b")));
  ASSERT_TRUE(inbox.socket->send_to(kS2, bytes("c")));
  w.net.run();
  EXPECT_NE(w.servers[0].seen.back(), w.servers[1].seen.back());  // APDM now
  EXPECT_EQ(site.gateway.mappings().size(), 2u);
}

TEST(NatGateway, LanToLanTrafficIsNotTranslated) {
  World w;
  Site site = w.site("home", *preset("symmetric"), 2);
  Inbox inbox(site.hosts[1]->udp_bind(6000).value());
  sim::UdpSocket* s = site.hosts[0]->udp_bind(5000).value();
  ASSERT_TRUE(s->send_to(ep("10.0.0.3:6000"), bytes("neighbour")));
  w.net.run();
  EXPECT_EQ(inbox.from, std::vector<Endpoint>{ep("10.0.0.2:5000")});
  EXPECT_TRUE(site.gateway.mappings().empty());
}

TEST(NatGateway, GatewayServicesAnswerOnBothSides) {
  World w;
  Site site = w.site("home", *preset("port-restricted-cone"));
  Inbox lan_service(site.gateway.udp_bind(5351).value());  // e.g. a port-mapping server
  sim::UdpSocket* s = site.hosts[0]->udp_bind(5000).value();
  ASSERT_TRUE(s->send_to(ep("10.0.0.1:5351"), bytes("lan")));
  ASSERT_TRUE(s->send_to(ep("203.0.113.2:5351"), bytes("wan-address")));
  ASSERT_TRUE(w.servers[0].sockets[0]->send_to(ep("203.0.113.2:5351"), bytes("outside")));
  w.net.run();
  EXPECT_EQ(lan_service.payloads, (std::vector<std::string>{"lan", "wan-address", "outside"}));
}

TEST(NatGateway, CaptureShowsBothSidesOfTheTranslation) {
  World w;
  Site site = w.site("home", *preset("full-cone"));
  const char* dir = std::getenv("NATSIM_TEST_TMP");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/natsim_gateway.pcap";
  sim::PcapWriter pcap;
  ASSERT_TRUE(pcap.open(path));
  site.gateway.capture(&pcap);
  sim::UdpSocket* s = site.hosts[0]->udp_bind(5000).value();
  ASSERT_TRUE(s->send_to(kS1, bytes("x")));
  w.net.run();
  pcap.close();
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> image{std::istreambuf_iterator<char>(in), {}};
  auto file = sim::parse_pcap(image);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->records.size(), 4u);  // request in + out, reply in + out
  auto pkt = [&](std::size_t i) { return sim::parse_ip_packet(file->records[i].data).value(); };
  EXPECT_EQ(pkt(0).src, ep("10.0.0.2:5000"));     // LAN side, before translation
  EXPECT_EQ(pkt(1).src, ep("203.0.113.2:5000"));  // WAN side, after
  EXPECT_EQ(pkt(1).ttl, 63);
  EXPECT_EQ(pkt(2).dst, ep("203.0.113.2:5000"));  // reply arriving on the WAN
  EXPECT_EQ(pkt(3).dst, ep("10.0.0.2:5000"));     // and leaving on the LAN
}

TEST(NatGateway, OpenPresetIsAPlainRouter) {
  World w;
  Site site = w.site("home", *preset("open"));
  w.core.add_route(*Prefix::parse("10.0.0.0/24"), site.upstream_iface, ip("203.0.113.2"));
  Inbox inbox(site.hosts[0]->udp_bind(5000).value());
  ASSERT_TRUE(w.servers[0].sockets[0]->send_to(ep("10.0.0.2:5000"), bytes("in")));
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("out")));
  w.net.run();
  EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"in", "out"}));
  EXPECT_EQ(w.servers[0].seen, std::vector<Endpoint>{ep("10.0.0.2:5000")});
}

TEST(NatGateway, Ipv6IsFirewalledWithoutTranslation) {
  World w;
  sim::Host& server6 = w.net.add_host("s6");
  auto sc = w.net.connect(server6, w.core);
  server6.add_address(sc.a_iface, "2001:db8:ff::10/64");
  w.core.add_address(sc.b_iface, "2001:db8:ff::1/64");
  ASSERT_TRUE(server6.set_default_route(ip("2001:db8:ff::1")));
  Inbox server(server6.udp_bind(ep("[::]:3478")).value());

  Site site = w.site("home", *preset("full-cone"));  // IPv6: firewall (APDF-less: EIF here)
  NatBehavior b = *preset("port-restricted-cone");
  site.gateway.set_behavior(b);
  site.gateway.add_address(1, "2001:db8:1::1/64");  // LAN interface
  site.gateway.add_address(0, "2001:db8:ffff::2/64");
  w.core.add_address(site.upstream_iface, "2001:db8:ffff::1/64");
  site.gateway.add_route(*Prefix::parse("::/0"), 0, ip("2001:db8:ffff::1"));
  w.core.add_route(*Prefix::parse("2001:db8:1::/64"), site.upstream_iface, ip("2001:db8:ffff::2"));
  sim::Host& h = *site.hosts[0];
  h.add_address(0, "2001:db8:1::2/64");
  ASSERT_TRUE(h.set_default_route(ip("2001:db8:1::1")));
  Inbox inbox(h.udp_bind(ep("[::]:5000")).value());

  // Unsolicited inbound is filtered; outbound passes untranslated; the reply gets in.
  ASSERT_TRUE(server.socket->send_to(ep("[2001:db8:1::2]:5000"), bytes("knock")));
  w.net.run();
  EXPECT_TRUE(inbox.payloads.empty());
  ASSERT_TRUE(inbox.socket->send_to(ep("[2001:db8:ff::10]:3478"), bytes("hi")));
  w.net.run();
  EXPECT_EQ(server.from, std::vector<Endpoint>{ep("[2001:db8:1::2]:5000")});
  ASSERT_TRUE(server.socket->send_to(ep("[2001:db8:1::2]:5000"), bytes("reply")));
  w.net.run();
  EXPECT_EQ(inbox.payloads, std::vector<std::string>{"reply"});
  EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::no_mapping), 1u);
}

TEST(NatGateway, ExhaustedPortsDropAndCount) {
  World w;
  NatBehavior b = *preset("symmetric");
  b.max_mappings_per_host = 3;
  Site site = w.site("home", b);
  sim::UdpSocket* s = site.hosts[0]->udp_bind(5000).value();
  for (int i = 0; i < 5; ++i) {
    const Endpoint to{ip("198.51.100.10"), static_cast<std::uint16_t>(3478 + i % 2)};
    const Endpoint to2{ip("198.51.100.20"), static_cast<std::uint16_t>(3478 + i % 2)};
    ASSERT_TRUE(s->send_to(i < 2 ? to : to2, bytes("x")));
  }
  w.net.run();
  EXPECT_EQ(site.gateway.mappings().size(), 3u);
  EXPECT_EQ(site.gateway.counters().drops(DropReason::exhausted), 1u);
  EXPECT_EQ(site.gateway.nat_counters().drops(NatDrop::exhausted), 1u);
}

}  // namespace
}  // namespace natsim::nat

namespace natsim::nat {
namespace {

// A host that records every TCP segment it receives (virtual TCP sockets come later).
class TcpProbe : public sim::Host {
 public:
  using Host::Host;
  struct Segment {
    Endpoint from;
    Endpoint to;
    std::uint8_t flags;
  };
  std::vector<Segment> segments;

  void send_segment(const Endpoint& from, const Endpoint& to, std::uint8_t flags) {
    sim::PacketPtr p = network().packets().acquire();
    p->proto = sim::IpProto::tcp;
    p->src = from;
    p->dst = to;
    p->tcp.flags = flags;
    (void)send(std::move(p));
  }

 protected:
  void process(sim::PacketPtr packet, sim::IfaceId in) override {
    if (packet->proto == sim::IpProto::tcp && owns(packet->dst.address)) {
      segments.push_back({packet->src, packet->dst, packet->tcp.flags});
      return;
    }
    Host::process(std::move(packet), in);
  }
};

TEST(NatGatewayTcp, HandshakeCrossesAndUnsolicitedSynDoesNot) {
  using namespace sim::tcp_flags;
  World w;
  auto& server = w.net.add_node<TcpProbe>("web");
  auto sc = w.net.connect(server, w.core);
  server.add_address(sc.a_iface, "198.51.100.80/24");
  w.core.add_address(sc.b_iface, "198.51.100.1/24");
  ASSERT_TRUE(server.set_default_route(ip("198.51.100.1")));

  // The client is a TcpProbe behind a hand-built gateway.
  auto& gw = w.net.add_node<NatGateway>("gw", *preset("port-restricted-cone"));
  auto wan = w.net.connect(gw, w.core);
  gw.add_address(wan.a_iface, "203.0.113.2/30");
  w.core.add_address(wan.b_iface, "203.0.113.1/30");
  ASSERT_TRUE(gw.set_default_route(ip("203.0.113.1")));
  gw.set_wan(wan.a_iface);
  auto& client = w.net.add_node<TcpProbe>("client");
  auto lan = w.net.connect(client, gw);
  client.add_address(lan.a_iface, "10.0.0.2/24");
  gw.add_address(lan.b_iface, "10.0.0.1/24");
  ASSERT_TRUE(client.set_default_route(ip("10.0.0.1")));

  // An unsolicited SYN from outside goes nowhere.
  server.send_segment(ep("198.51.100.80:80"), ep("203.0.113.2:40000"), syn);
  w.net.run();
  EXPECT_TRUE(client.segments.empty());

  client.send_segment(ep("10.0.0.2:40000"), ep("198.51.100.80:80"), syn);
  w.net.run();
  ASSERT_EQ(server.segments.size(), 1u);
  EXPECT_EQ(server.segments[0].from, ep("203.0.113.2:40000"));
  server.send_segment(ep("198.51.100.80:80"), ep("203.0.113.2:40000"), syn | ack);
  w.net.run();
  ASSERT_EQ(client.segments.size(), 1u);
  EXPECT_EQ(client.segments[0].to, ep("10.0.0.2:40000"));
  EXPECT_EQ(client.segments[0].flags, syn | ack);
  // Established: the mapping now lives for the established timeout.
  auto m = gw.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].proto, sim::IpProto::tcp);
  EXPECT_GT(m[0].expires, w.net.now() + hours(2));
  EXPECT_EQ(gw.nat_counters().drops(NatDrop::no_mapping), 1u);
}

}  // namespace
}  // namespace natsim::nat
