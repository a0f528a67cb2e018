// The gateway's PCP and NAT-PMP service on the simulator: requests from LAN hosts on
// port 5351, mappings in the NAT table with their exact expiry, the epoch and its reset
// on reboot, nonces, lifetimes, suggested ports, version negotiation (RFC 6887 §9) and
// the security rules (no third party, a quota per host, no taking another host's port).
#include <gtest/gtest.h>

#include <deque>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::nat {
namespace {

namespace pcp = traversal::pcp;
namespace natpmp = traversal::natpmp;
using testing::ep;
using testing::ip;

constexpr Duration kLan = milliseconds(5);  // one way, host <-> gateway
const Endpoint kServer = ep("10.0.0.1:5351");

struct Lab {
  explicit Lab(PortMappingConfig config = {}, const char* nat = "symmetric")
      : site([&] {
          SiteOptions o;
          o.behavior = *preset(nat);
          o.hosts = 2;
          o.lan_link.latency = kLan;
          o.wan_link.latency = milliseconds(10);
          return add_site(w.net, w.core, "home", o);
        }()) {
    site.gateway.enable_port_mapping(config);
    for (sim::Host* h : site.hosts)
      inboxes.emplace_back(h->udp_bind(5350).value());
  }
  // Sends `bytes` from host `i` and runs until quiet; returns the answers received.
  std::vector<std::string>& ask(std::size_t i, ByteView bytes) {
    inboxes[i].payloads.clear();
    (void)inboxes[i].socket->send_to(kServer, bytes);
    w.net.run();
    return inboxes[i].payloads;
  }
  testing::World w;
  Site site;
  std::deque<testing::Inbox> inboxes;  // stable addresses: handlers point at them
};

ByteView view(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

pcp::Request map_request(const char* client, std::uint16_t port, std::uint32_t lifetime,
                         std::uint8_t nonce_byte = 1, std::uint16_t suggested = 0) {
  pcp::Request q;
  q.opcode = pcp::Opcode::map;
  q.lifetime = lifetime;
  q.client_address = ip(client);
  q.data.nonce.fill(nonce_byte);
  q.data.protocol = 17;
  q.data.internal_port = port;
  q.data.external_port = suggested;
  q.data.external_address = IpAddress::v4(0);
  return q;
}

std::vector<std::uint8_t> encode(const pcp::Request& q) {
  std::vector<std::uint8_t> b(pcp::kMaxMessageSize);
  b.resize(*pcp::emit_request(q, b));
  return b;
}

pcp::Response only_pcp(const std::vector<std::string>& answers) {
  EXPECT_EQ(answers.size(), 1u);
  auto r = pcp::parse_response(view(answers.at(0)));
  EXPECT_TRUE(r);
  return r ? *r : pcp::Response{};
}

TEST(PcpServer, MapCreatesAMappingThatExpiresExactlyAtItsLifetime) {
  Lab lab;
  const TimePoint sent = lab.w.net.now();
  auto r = only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600, 1, 40000))));
  EXPECT_EQ(r.result, pcp::ResultCode::success);
  EXPECT_EQ(r.lifetime, 600u);
  EXPECT_EQ(r.epoch, 0u);
  EXPECT_EQ(r.data.external_port, 40000);
  EXPECT_EQ(r.data.external_address, ip("203.0.113.2"));
  const TimePoint granted = sent + kLan;  // the request reached the gateway
  auto m = lab.site.gateway.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].owner, MappingOwner::pcp);
  EXPECT_EQ(m[0].internal, ep("10.0.0.2:4000"));
  EXPECT_EQ(m[0].expires, granted + seconds(600));
  EXPECT_EQ(lab.site.gateway.nat_counters().mappings_mapped, 1u);
  EXPECT_EQ(lab.site.gateway.port_mapping()->counters().mapped, 1u);

  // From the internet, anyone reaches the host through it (symmetric NAT or not).
  sim::UdpSocket* outside = lab.w.servers[0].sockets[0];
  testing::Inbox host_inbox(lab.site.hosts[0]->udp_bind(4000).value());
  (void)outside->send_to(ep("203.0.113.2:40000"), testing::bytes("hello"));
  lab.w.net.run();
  ASSERT_EQ(host_inbox.payloads.size(), 1u);
  lab.w.net.run_until(granted + seconds(600) - nanoseconds(1));
  EXPECT_EQ(lab.site.gateway.mappings().size(), 1u);
  lab.w.net.run_until(granted + seconds(600));
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
}

TEST(PcpServer, LifetimesAreClampedAndZeroDeletes) {
  PortMappingConfig c;
  c.min_lifetime = 120;
  c.max_lifetime = 3600;
  Lab lab(c);
  EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 5)))).lifetime, 120u);
  EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 999999)))).lifetime, 3600u);
  auto del = only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 0))));
  EXPECT_EQ(del.result, pcp::ResultCode::success);
  EXPECT_EQ(del.lifetime, 0u);
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
  EXPECT_EQ(lab.site.gateway.port_mapping()->counters().deleted, 1u);
}

TEST(PcpServer, OnlyTheNonceHolderMayRefreshOrDelete) {
  Lab lab;
  ASSERT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600, 7)))).result,
            pcp::ResultCode::success);
  auto wrong = only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 0, 8))));
  EXPECT_EQ(wrong.result, pcp::ResultCode::not_authorized);
  EXPECT_EQ(wrong.lifetime, 1800u);  // a long-lifetime error (§7.4)
  EXPECT_EQ(lab.site.gateway.mappings().size(), 1u);
  EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 0, 7)))).result,
            pcp::ResultCode::success);
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
}

TEST(PcpServer, ThirdPartyIsRefusedUnlessAllowed) {
  auto q = map_request("10.0.0.2", 4000, 600);
  q.options.third_party = ip("10.0.0.3");
  {
    Lab lab;
    EXPECT_EQ(only_pcp(lab.ask(0, encode(q))).result, pcp::ResultCode::not_authorized);
    EXPECT_TRUE(lab.site.gateway.mappings().empty());
  }
  PortMappingConfig c;
  c.allow_third_party = true;
  Lab lab(c);
  auto r = only_pcp(lab.ask(0, encode(q)));
  EXPECT_EQ(r.result, pcp::ResultCode::success);
  ASSERT_TRUE(r.options.third_party);
  ASSERT_EQ(lab.site.gateway.mappings().size(), 1u);
  EXPECT_EQ(lab.site.gateway.mappings()[0].internal, ep("10.0.0.3:4000"));
}

TEST(PcpServer, ClientAddressMustBeTheSource) {
  Lab lab;
  // Host .2 claims to be .3 in the header: ADDRESS_MISMATCH (§8.3).
  EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.3", 4000, 600)))).result,
            pcp::ResultCode::address_mismatch);
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
}

TEST(PcpServer, QuotaPerHost) {
  PortMappingConfig c;
  c.quota_per_host = 2;
  Lab lab(c);
  for (std::uint16_t port : {4000, 4001})
    EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", port, 600)))).result,
              pcp::ResultCode::success);
  auto r = only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4002, 600))));
  EXPECT_EQ(r.result, pcp::ResultCode::user_ex_quota);
  EXPECT_EQ(r.lifetime, 30u);  // a short-lifetime error (§7.4)
  EXPECT_EQ(only_pcp(lab.ask(1, encode(map_request("10.0.0.3", 4002, 600)))).result,
            pcp::ResultCode::success);
  EXPECT_EQ(lab.site.gateway.port_mapping()->counters().error(pcp::ResultCode::user_ex_quota), 1u);
}

TEST(PcpServer, AnotherHostsPortIsNotTaken) {
  Lab lab;
  ASSERT_EQ(
      only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600, 1, 40000)))).data.external_port,
      40000);
  // Host .3 suggests the same port: another port; with PREFER_FAILURE, an error.
  auto other = only_pcp(lab.ask(1, encode(map_request("10.0.0.3", 4000, 600, 1, 40000))));
  EXPECT_EQ(other.result, pcp::ResultCode::success);
  EXPECT_NE(other.data.external_port, 40000);
  auto strict = map_request("10.0.0.3", 4001, 600, 1, 40000);
  strict.options.prefer_failure = true;
  EXPECT_EQ(only_pcp(lab.ask(1, encode(strict))).result, pcp::ResultCode::cannot_provide_external);
}

TEST(PcpServer, ErrorsTheModelCanProduce) {
  Lab lab;
  auto q = map_request("10.0.0.2", 4000, 600);
  q.data.protocol = 1;  // ICMP
  EXPECT_EQ(only_pcp(lab.ask(0, encode(q))).result, pcp::ResultCode::unsupp_protocol);
  auto bad = encode(map_request("10.0.0.2", 4000, 600));
  bad[1] = 5;
  const auto& answers = lab.ask(0, bad);
  ASSERT_EQ(answers.size(), 1u);
  ASSERT_EQ(answers[0].size(), pcp::kHeaderSize);  // no opcode data to copy
  EXPECT_EQ(static_cast<std::uint8_t>(answers[0][1]), 0x85);
  EXPECT_EQ(static_cast<pcp::ResultCode>(answers[0][3]), pcp::ResultCode::unsupp_opcode);
  bad = encode(map_request("10.0.0.2", 4000, 600));
  bad.insert(bad.end(), {100, 0, 0, 0});
  EXPECT_EQ(only_pcp(lab.ask(0, bad)).result, pcp::ResultCode::unsupp_option);
  bad = encode(map_request("10.0.0.2", 4000, 600));
  bad.insert(bad.end(), {2, 0, 0, 4, 0, 0, 0, 0});
  EXPECT_EQ(only_pcp(lab.ask(0, bad)).result, pcp::ResultCode::malformed_option);
  bad.resize(30);
  EXPECT_EQ(only_pcp(lab.ask(0, bad)).result, pcp::ResultCode::malformed_request);
  bad = encode(map_request("10.0.0.2", 4000, 600));
  bad[0] = 1;
  auto v = only_pcp(lab.ask(0, bad));
  EXPECT_EQ(v.result, pcp::ResultCode::unsupp_version);
  EXPECT_EQ(v.version, pcp::kVersion);
  auto many = map_request("10.0.0.2", 4000, 600);
  many.options.too_many_filters = true;  // not encoded: build the wire by hand
  auto wire = encode(many);
  for (std::size_t i = 0; i <= pcp::kMaxFilters; ++i) {
    const auto field = pcp::address_field(ip("198.51.100.1"));
    wire.insert(wire.end(), {3, 0, 0, 20, 0, 128, 0, 1});
    wire.insert(wire.end(), field.begin(), field.end());
  }
  EXPECT_EQ(only_pcp(lab.ask(0, wire)).result, pcp::ResultCode::excessive_remote_peers);
  // Responses and runts are dropped silently.
  EXPECT_TRUE(lab.ask(0, std::vector<std::uint8_t>{2}).empty());
  EXPECT_TRUE(lab.w.net.now() > kTimeZero);
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
}

TEST(PcpServer, EpochCountsSecondsAndRestartsOnReboot) {
  Lab lab;
  lab.w.net.run_until(at(seconds(100)));
  pcp::Request announce;
  announce.client_address = ip("10.0.0.2");
  auto r = only_pcp(lab.ask(0, encode(announce)));
  EXPECT_EQ(r.opcode, pcp::Opcode::announce);
  EXPECT_EQ(r.epoch, 100u);
  EXPECT_EQ(r.lifetime, 0u);
  ASSERT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600)))).result,
            pcp::ResultCode::success);
  // Two exchanges of 2 x 5 ms each: the gateway reboots at 100.020 s.
  ASSERT_EQ(lab.w.net.now(), at(seconds(100)) + 4 * kLan);
  lab.site.gateway.reboot();
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
  // RFC 6887 §14.1.3, RFC 6886 §3.2.1: ten rounds of unsolicited announcements to
  // 224.0.0.1:5350, at once, then 250 ms later, doubling: the last leaves 127.75 s later.
  lab.inboxes[0].payloads.clear();
  lab.w.net.run();
  EXPECT_EQ(lab.w.net.now(), at(seconds(100)) + 4 * kLan + milliseconds(127750) + kLan);
  const auto& heard = lab.inboxes[0].payloads;
  ASSERT_EQ(heard.size(), 20u);  // a PCP ANNOUNCE and a NAT-PMP address response each
  auto first = pcp::parse_response(view(heard[0]));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->opcode, pcp::Opcode::announce);
  EXPECT_EQ(first->epoch, 0u);
  EXPECT_EQ(first->lifetime, 0u);
  auto address = natpmp::parse_response(view(heard[1]));
  ASSERT_TRUE(address);
  EXPECT_EQ(address->external_address, ip("203.0.113.2"));
  EXPECT_EQ(lab.inboxes[0].from[0], kServer);
  EXPECT_EQ(lab.inboxes[1].payloads.size(), 20u);  // every host on the LAN
  EXPECT_EQ(lab.site.gateway.port_mapping()->counters().announced, 10u);
  lab.w.net.run_until(at(seconds(260)));
  // Reaches the gateway at 260.005 s: 159.985 s into the new epoch.
  EXPECT_EQ(only_pcp(lab.ask(0, encode(announce))).epoch, 159u);
  // The nonce went with the mapping: another nonce may map the port now.
  EXPECT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600, 9)))).result,
            pcp::ResultCode::success);
}

TEST(PcpServer, PeerUsesTheNatsOwnMapping) {
  Lab lab;  // symmetric
  pcp::Request q = map_request("10.0.0.2", 4000, 600);
  q.opcode = pcp::Opcode::peer;
  q.data.remote_address = ip("198.51.100.10");
  q.data.remote_port = 3478;
  auto r = only_pcp(lab.ask(0, encode(q)));
  EXPECT_EQ(r.result, pcp::ResultCode::success);
  EXPECT_EQ(r.lifetime, 300u);  // the NAT's UDP timer, shorter than asked
  // Traffic to that peer leaves from the same external endpoint.
  sim::UdpSocket* s = lab.site.hosts[0]->udp_bind(4000).value();
  (void)s->send_to(ep("198.51.100.10:3478"), testing::bytes("x"));
  lab.w.net.run();
  ASSERT_FALSE(lab.w.servers[0].seen.empty());
  EXPECT_EQ(lab.w.servers[0].seen.back(),
            (Endpoint{r.data.external_address, r.data.external_port}));
}

natpmp::Response only_natpmp(const std::vector<std::string>& answers) {
  EXPECT_EQ(answers.size(), 1u);
  auto r = natpmp::parse_response(view(answers.at(0)));
  EXPECT_TRUE(r);
  return r ? *r : natpmp::Response{};
}

std::vector<std::uint8_t> encode(const natpmp::Request& q) {
  std::vector<std::uint8_t> b(16);
  b.resize(*natpmp::emit_request(q, b));
  return b;
}

TEST(NatPmpServer, AddressMappingsAndEpoch) {
  Lab lab;
  lab.w.net.run_until(at(seconds(42)));
  auto a = only_natpmp(lab.ask(0, encode(natpmp::Request{})));
  EXPECT_EQ(a.result, natpmp::ResultCode::success);
  EXPECT_EQ(a.external_address, ip("203.0.113.2"));
  EXPECT_EQ(a.epoch, 42u);
  const TimePoint sent = lab.w.net.now();
  auto m =
      only_natpmp(lab.ask(0, encode(natpmp::Request{natpmp::Opcode::map_tcp, 8080, 8080, 7200})));
  EXPECT_EQ(m.result, natpmp::ResultCode::success);
  EXPECT_EQ(m.external_port, 8080);
  EXPECT_EQ(m.lifetime, 7200u);
  auto listed = lab.site.gateway.mappings();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].owner, MappingOwner::natpmp);
  EXPECT_EQ(listed[0].proto, IpProto::tcp);
  EXPECT_EQ(listed[0].expires, sent + kLan + seconds(7200));
  // PCP cannot delete what NAT-PMP made.
  auto q = map_request("10.0.0.2", 8080, 0);
  q.data.protocol = 6;
  EXPECT_EQ(only_pcp(lab.ask(0, encode(q))).result, pcp::ResultCode::not_authorized);
  auto del = only_natpmp(lab.ask(0, encode(natpmp::Request{natpmp::Opcode::map_tcp, 8080, 0, 0})));
  EXPECT_EQ(del.result, natpmp::ResultCode::success);
  EXPECT_EQ(del.external_port, 0);
  EXPECT_TRUE(lab.site.gateway.mappings().empty());
}

TEST(NatPmpServer, QuotaIsOutOfResources) {
  PortMappingConfig c;
  c.quota_per_host = 1;
  Lab lab(c);
  EXPECT_EQ(
      only_natpmp(lab.ask(0, encode(natpmp::Request{natpmp::Opcode::map_udp, 1, 0, 60}))).result,
      natpmp::ResultCode::success);
  EXPECT_EQ(
      only_natpmp(lab.ask(0, encode(natpmp::Request{natpmp::Opcode::map_udp, 2, 0, 60}))).result,
      natpmp::ResultCode::out_of_resources);
}

// RFC 6886 §3.3: the internal address is always the request's source: a host can
// neither take the external port another host holds nor delete its mapping.
TEST(NatPmpServer, AnotherHostsPortIsNotTakenNorDeleted) {
  Lab lab;
  const auto mine = natpmp::Request{natpmp::Opcode::map_udp, 4000, 40000, 600};
  EXPECT_EQ(only_natpmp(lab.ask(0, encode(mine))).external_port, 40000);
  auto other = only_natpmp(lab.ask(1, encode(mine)));
  EXPECT_EQ(other.result, natpmp::ResultCode::success);
  EXPECT_NE(other.external_port, 40000);
  // Host .3 deletes "its" 4000: only its own mapping goes; host .2's stays.
  EXPECT_EQ(
      only_natpmp(lab.ask(1, encode(natpmp::Request{natpmp::Opcode::map_udp, 4000, 0, 0}))).result,
      natpmp::ResultCode::success);
  auto left = lab.site.gateway.mappings();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].internal, ep("10.0.0.2:4000"));
  EXPECT_EQ(left[0].external.port, 40000);
  // A quota holds per host even across both protocols.
  PortMappingConfig c;
  c.quota_per_host = 1;
  Lab capped(c);
  EXPECT_EQ(only_pcp(capped.ask(0, encode(map_request("10.0.0.2", 4000, 600)))).result,
            pcp::ResultCode::success);
  EXPECT_EQ(
      only_natpmp(capped.ask(0, encode(natpmp::Request{natpmp::Opcode::map_udp, 4001, 0, 600})))
          .result,
      natpmp::ResultCode::out_of_resources);
}

// RFC 6887 §13.1, §11.3: deleting another host's mapping needs THIRD_PARTY (refused unless
// allowed) and, when allowed, that mapping's nonce.
TEST(PcpServer, AnotherHostsMappingCannotBeDeleted) {
  PortMappingConfig c;
  for (bool allowed : {false, true}) {
    c.allow_third_party = allowed;
    Lab lab(c);
    ASSERT_EQ(only_pcp(lab.ask(0, encode(map_request("10.0.0.2", 4000, 600, 1)))).result,
              pcp::ResultCode::success);
    auto del = map_request("10.0.0.3", 4000, 0, 2);
    del.options.third_party = ip("10.0.0.2");
    EXPECT_EQ(only_pcp(lab.ask(1, encode(del))).result, pcp::ResultCode::not_authorized)
        << "third party allowed: " << allowed;
    EXPECT_EQ(lab.site.gateway.mappings().size(), 1u);
  }
}

TEST(VersionNegotiation, EachSideLearnsWhatTheGatewaySpeaks) {
  PortMappingConfig natpmp_only;
  natpmp_only.pcp = false;
  Lab a(natpmp_only);
  // A PCP request gets NAT-PMP's "unsupported version" (version 0): fall back.
  auto r = a.ask(0, encode(map_request("10.0.0.2", 4000, 600)));
  ASSERT_EQ(r.size(), 1u);
  auto n = natpmp::parse_response(view(r[0]));
  ASSERT_TRUE(n);
  EXPECT_EQ(n->result, natpmp::ResultCode::unsupported_version);
  EXPECT_TRUE(a.site.gateway.mappings().empty());

  PortMappingConfig pcp_only;
  pcp_only.natpmp = false;
  Lab b(pcp_only);
  auto p = only_pcp(b.ask(0, encode(natpmp::Request{})));
  EXPECT_EQ(p.result, pcp::ResultCode::unsupp_version);
  EXPECT_EQ(p.version, pcp::kVersion);
}

TEST(PortMappingService, OffByDefault) {
  testing::World w;
  Site site = w.site("home", *preset("symmetric"));
  EXPECT_EQ(site.gateway.port_mapping(), nullptr);
  testing::Inbox inbox(site.hosts[0]->udp_bind(5350).value());
  (void)inbox.socket->send_to(kServer, encode(map_request("10.0.0.2", 4000, 600)));
  w.net.run();
  EXPECT_TRUE(inbox.payloads.empty());
  EXPECT_TRUE(site.gateway.mappings().empty());
}

}  // namespace
}  // namespace natsim::nat
