// The named NAT presets: their documented knob values, the enum spellings, what an
// RFC 5780 style discovery finds when it probes each preset end to end, and a home NAT
// nested behind a carrier-grade NAT.
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/nat_models/site.hpp"

namespace natsim {
// Readable endpoints in assertion messages (internal linkage: no clash with other files).
[[maybe_unused]] static void PrintTo(const Endpoint& e, std::ostream* os) {
  *os << e.to_string();
}
}  // namespace natsim

namespace natsim::nat {
namespace {

using sim::UdpSocket;
using testing::bytes;
using testing::ep;
using testing::Inbox;
using testing::ip;
using testing::World;

constexpr auto EIM = Mapping::endpoint_independent;
constexpr auto ADM = Mapping::address_dependent;
constexpr auto APDM = Mapping::address_and_port_dependent;
constexpr auto EIF = Filtering::endpoint_independent;
constexpr auto ADF = Filtering::address_dependent;
constexpr auto APDF = Filtering::address_and_port_dependent;
constexpr auto kPreserve = PortAssignment::preserve;
constexpr auto kSequential = PortAssignment::sequential;
constexpr auto kRandom = PortAssignment::random;
constexpr auto kTranslate = Translation::translate;
constexpr auto kFirewall = Translation::firewall;
constexpr auto kOpen = Translation::open;

const Endpoint kS1 = ep("198.51.100.10:3478");
const Endpoint kS1OtherPort = ep("198.51.100.10:3479");
const Endpoint kS2 = ep("198.51.100.20:3478");

// --- the documented knobs

struct ExpectedPreset {
  std::string_view name;
  Mapping mapping;
  Filtering filtering;
  PortAssignment ports;
  bool hairpinning;
  std::uint16_t port_block_size;
  Duration udp_timeout;
  Translation ipv4;
  Translation ipv6;
  std::uint16_t port_first;
};

// In the documented order (nat_behavior.cpp / the presets' descriptions).
const ExpectedPreset kExpected[] = {
    // name, mapping, filtering, ports, hairpinning, port block, UDP timeout, v4, v6, port_first
    {"open", EIM, APDF, kPreserve, true, 0, minutes(5), kOpen, kOpen, 1024},
    {"full-cone", EIM, EIF, kPreserve, true, 0, minutes(5), kTranslate, kFirewall, 1024},
    {"restricted-cone", EIM, ADF, kPreserve, true, 0, minutes(5), kTranslate, kFirewall, 1024},
    {"port-restricted-cone", EIM, APDF, kPreserve, true, 0, minutes(5), kTranslate, kFirewall,
     1024},
    {"symmetric", APDM, APDF, kSequential, false, 0, minutes(5), kTranslate, kFirewall, 1024},
    {"cgnat", EIM, EIF, kRandom, true, 512, minutes(2), kTranslate, kFirewall, 1024},
    // The Linux profiles' udp_timeout is conntrack's unreplied timer (docs/fidelity.md).
    {"linux-masquerade", EIM, APDF, kPreserve, false, 0, seconds(30), kTranslate, kFirewall, 1},
    {"linux-masquerade-random", APDM, APDF, kRandom, false, 0, seconds(30), kTranslate, kFirewall,
     1},
    {"linux-masquerade-fully-random", APDM, APDF, kRandom, false, 0, seconds(30), kTranslate,
     kFirewall, 1},
    {"enterprise-strict", APDM, APDF, kRandom, false, 0, seconds(30), kTranslate, kFirewall, 1024},
    {"firewall", EIM, APDF, kPreserve, true, 0, minutes(5), kFirewall, kFirewall, 1024},
};

TEST(Presets, EveryPresetHasItsDocumentedKnobs) {
  const std::vector<Preset>& all = presets();
  ASSERT_EQ(all.size(), std::size(kExpected));
  for (std::size_t i = 0; i < all.size(); ++i) {
    const ExpectedPreset& want = kExpected[i];
    const Preset& p = all[i];
    SCOPED_TRACE(want.name);
    ASSERT_EQ(p.name, want.name);
    EXPECT_FALSE(p.description.empty());
    const NatBehavior& b = p.behavior;
    EXPECT_EQ(b.mapping, want.mapping);
    EXPECT_EQ(b.filtering, want.filtering);
    EXPECT_EQ(b.port_assignment, want.ports);
    EXPECT_EQ(b.hairpinning, want.hairpinning);
    EXPECT_EQ(b.port_block_size, want.port_block_size);
    EXPECT_EQ(b.udp_timeout, want.udp_timeout);
    EXPECT_EQ(b.ipv4, want.ipv4);
    EXPECT_EQ(b.ipv6, want.ipv6);
    EXPECT_EQ(b.port_first, want.port_first);
    // Knobs no preset changes keep their defaults.
    EXPECT_EQ(b.port_last, 65535);
    EXPECT_FALSE(b.preserve_parity);
    EXPECT_EQ(b.pooling, Pooling::paired);
    EXPECT_EQ(b.tcp_established_timeout, hours(2) + minutes(4));
    EXPECT_EQ(b.tcp_transitory_timeout, minutes(4));
    // conntrack refreshes on packets both ways (nf_ct_refresh_acct).
    EXPECT_EQ(b.inbound_refresh, b.conntrack);
    EXPECT_EQ(b.conntrack, want.name.starts_with("linux-"));
    EXPECT_EQ(b.port_classes, b.conntrack);
    EXPECT_EQ(b.icmp_unreachable, b.conntrack);
    EXPECT_FALSE(b.wan_drop_new);
    EXPECT_EQ(b.udp_timeout_stream, minutes(2));
    EXPECT_TRUE(b.hairpin_translate_source);
    EXPECT_EQ(b.max_mappings_per_host, 0u);
    EXPECT_EQ(b.max_mappings, 0u);
    // preset(name) returns the same knobs.
    const std::optional<NatBehavior> by_name = preset(want.name);
    ASSERT_TRUE(by_name.has_value());
    EXPECT_EQ(by_name->mapping, b.mapping);
    EXPECT_EQ(by_name->filtering, b.filtering);
    EXPECT_EQ(by_name->udp_timeout, b.udp_timeout);
    EXPECT_EQ(by_name->port_block_size, b.port_block_size);
  }
}

TEST(Presets, UnknownNamesAreNotPresets) {
  EXPECT_FALSE(preset("no-such").has_value());
  EXPECT_FALSE(preset("").has_value());
  EXPECT_FALSE(preset("Full-Cone").has_value());  // names are case-sensitive
  EXPECT_FALSE(preset("full-cone ").has_value());
}

TEST(Presets, DefaultBehaviourIsThePortRestrictedCone) {
  const NatBehavior d;
  const NatBehavior prc = preset("port-restricted-cone").value();
  EXPECT_EQ(d.mapping, prc.mapping);
  EXPECT_EQ(d.filtering, prc.filtering);
  EXPECT_EQ(d.port_assignment, prc.port_assignment);
  EXPECT_EQ(d.hairpinning, prc.hairpinning);
  EXPECT_EQ(d.udp_timeout, prc.udp_timeout);
}

// --- enum spellings

template <class E, class Parse>
void expect_round_trip(const std::vector<std::pair<E, std::string_view>>& names, Parse parse) {
  std::set<std::string_view> seen;
  for (const auto& [value, name] : names) {
    EXPECT_EQ(to_string(value), name);
    const std::optional<E> parsed = parse(to_string(value));
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, value) << name;
    seen.insert(to_string(value));
  }
  EXPECT_EQ(seen.size(), names.size());  // no two values share a spelling
  EXPECT_FALSE(parse("").has_value());
  EXPECT_FALSE(parse("no-such").has_value());
  EXPECT_FALSE(parse("?").has_value());
}

TEST(Presets, EnumNamesRoundTrip) {
  expect_round_trip<Mapping>({{EIM, "endpoint-independent"},
                              {ADM, "address-dependent"},
                              {APDM, "address-and-port-dependent"}},
                             [](std::string_view t) { return parse_mapping(t); });
  expect_round_trip<Filtering>({{EIF, "endpoint-independent"},
                                {ADF, "address-dependent"},
                                {APDF, "address-and-port-dependent"}},
                               [](std::string_view t) { return parse_filtering(t); });
  expect_round_trip<PortAssignment>(
      {{kPreserve, "preserve"}, {kSequential, "sequential"}, {kRandom, "random"}},
      [](std::string_view t) { return parse_port_assignment(t); });
  expect_round_trip<Pooling>({{Pooling::paired, "paired"}, {Pooling::arbitrary, "arbitrary"}},
                             [](std::string_view t) { return parse_pooling(t); });
  expect_round_trip<Translation>(
      {{kTranslate, "translate"}, {kFirewall, "firewall"}, {kOpen, "open"}},
      [](std::string_view t) { return parse_translation(t); });
  // Spellings are exact: no case folding, no underscores.
  EXPECT_FALSE(parse_mapping("Endpoint-Independent").has_value());
  EXPECT_FALSE(parse_mapping("endpoint_independent").has_value());
}

TEST(Presets, NatDropNamesAreDistinct) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kNatDropCount; ++i) {
    names.insert(to_string(static_cast<NatDrop>(i)));
  }
  EXPECT_EQ(names, (std::set<std::string_view>{"no_mapping", "expired", "filtered", "exhausted",
                                               "hairpin_disabled"}));
}

// --- behavioural classification (RFC 5780 §4.3 and §4.4, against the echo servers)

struct Classification {
  Mapping mapping;
  Filtering filtering;
};

// Sends from `socket` to an echo server and returns the source the server saw.
Endpoint observed_from(World& w, UdpSocket* socket, const Endpoint& server_endpoint) {
  testing::Server& server = server_endpoint.address == kS1.address ? w.servers[0] : w.servers[1];
  const std::size_t before = server.seen.size();
  EXPECT_TRUE(socket->send_to(server_endpoint, bytes("binding-request")));
  w.net.run();
  EXPECT_EQ(server.seen.size(), before + 1) << "the server never saw the request";
  return server.seen.size() > before ? server.seen.back() : Endpoint{};
}

bool received(const Inbox& inbox, std::string_view payload) {
  for (const std::string& p : inbox.payloads) {
    if (p == payload) return true;
  }
  return false;
}

// Probes a fresh site running `behavior` from the outside, as a discovery client would.
Classification classify(const NatBehavior& behavior) {
  World w;
  Site site = w.site("nat", behavior);
  Classification out{};

  // Mapping: one socket, three destinations; compare the sources the servers saw.
  Inbox mapping_probe(site.hosts[0]->udp_bind(5000).value());
  const Endpoint a = observed_from(w, mapping_probe.socket, kS1);
  const Endpoint b = observed_from(w, mapping_probe.socket, kS1OtherPort);
  const Endpoint c = observed_from(w, mapping_probe.socket, kS2);
  if (a == b && a == c) {
    out.mapping = EIM;
  } else if (a == b) {
    out.mapping = ADM;
  } else {
    EXPECT_NE(a, c) << "same mapping for another address but not for another port";
    EXPECT_NE(b, c);
    out.mapping = APDM;
  }

  // Filtering: a fresh socket contacts s1:3478 only; then s1 from its other port and s2
  // send to the mapped endpoint.
  Inbox filtering_probe(site.hosts[0]->udp_bind(6000).value());
  const Endpoint mapped = observed_from(w, filtering_probe.socket, kS1);
  EXPECT_TRUE(w.servers[0].sockets[1]->send_to(mapped, bytes("from-other-port")));
  EXPECT_TRUE(w.servers[1].sockets[0]->send_to(mapped, bytes("from-other-address")));
  w.net.run();
  const bool other_port = received(filtering_probe, "from-other-port");
  const bool other_address = received(filtering_probe, "from-other-address");
  EXPECT_TRUE(other_port || !other_address) << "admits another address but not another port";
  out.filtering = other_address ? EIF : other_port ? ADF : APDF;
  return out;
}

TEST(Presets, DiscoveryClassifiesEachPresetAsItsKnobsSay) {
  for (std::string_view name : {"full-cone", "restricted-cone", "port-restricted-cone", "symmetric",
                                "linux-masquerade", "enterprise-strict", "cgnat"}) {
    SCOPED_TRACE(name);
    const NatBehavior b = preset(name).value();
    const Classification found = classify(b);
    EXPECT_EQ(found.mapping, b.mapping) << "found " << to_string(found.mapping);
    EXPECT_EQ(found.filtering, b.filtering) << "found " << to_string(found.filtering);
  }
  // The classic RFC 3489 names mean what they say.
  EXPECT_EQ(classify(preset("full-cone").value()).filtering, EIF);
  EXPECT_EQ(classify(preset("restricted-cone").value()).filtering, ADF);
  EXPECT_EQ(classify(preset("port-restricted-cone").value()).filtering, APDF);
  EXPECT_EQ(classify(preset("symmetric").value()).mapping, APDM);
}

TEST(Presets, DiscoveryFindsAddressDependentMapping) {
  // No preset uses ADM; a hand-made behaviour checks the classifier can tell it apart.
  NatBehavior b;
  b.mapping = ADM;
  b.filtering = ADF;
  const Classification found = classify(b);
  EXPECT_EQ(found.mapping, ADM);
  EXPECT_EQ(found.filtering, ADF);
}

// --- a home NAT behind a carrier-grade NAT

TEST(Presets, HomeNatBehindCgnatTranslatesTwice) {
  World w;
  // The CGNAT: its LAN is the shared address space (RFC 6598), with no hosts of its own.
  SiteOptions cgn_options;
  cgn_options.behavior = preset("cgnat").value();
  cgn_options.hosts = 0;
  cgn_options.lan = *InterfaceAddress::parse("100.64.0.1/10");
  Site cgn = add_site(w.net, w.core, "cgn", cgn_options);
  ASSERT_TRUE(cgn.hosts.empty());

  // The home gateway: WAN on the CGNAT's LAN segment, its own LAN with one host.
  auto& home = w.net.add_node<NatGateway>("home", preset("port-restricted-cone").value());
  const sim::IfaceId home_wan = w.net.attach(home, cgn.lan);
  home.add_address(home_wan, "100.64.0.2/10");
  ASSERT_TRUE(home.set_default_route(ip("100.64.0.1")));
  home.set_wan(home_wan);
  sim::Link& home_lan = w.net.add_segment("home-lan");
  home.add_address(w.net.attach(home, home_lan), "192.168.1.1/24");
  sim::Host& inner = w.net.add_host("home-h1");
  inner.add_address(w.net.attach(inner, home_lan), "192.168.1.2/24");
  ASSERT_TRUE(inner.set_default_route(ip("192.168.1.1")));

  Inbox inbox(inner.udp_bind(5000).value());
  ASSERT_TRUE(inbox.socket->send_to(kS1, bytes("hello")));
  w.net.run();

  // The server sees the CGNAT's public address, on a port of the subscriber's block.
  ASSERT_EQ(w.servers[0].seen.size(), 1u);
  const Endpoint public_ep = w.servers[0].seen[0];
  EXPECT_EQ(public_ep.address, ip("203.0.113.2"));
  EXPECT_GE(public_ep.port, 1024);
  EXPECT_LT(public_ep.port, 1024 + 512);

  // The home NAT maps the host onto the shared address space...
  const auto home_maps = home.mappings();
  ASSERT_EQ(home_maps.size(), 1u);
  EXPECT_EQ(home_maps[0].internal, ep("192.168.1.2:5000"));
  EXPECT_TRUE(Prefix::parse("100.64.0.0/10")->contains(home_maps[0].external.address));
  EXPECT_EQ(home_maps[0].external, ep("100.64.0.2:5000"));  // port-preserving

  // ...and the CGNAT maps that external endpoint onto the public one.
  const auto cgn_maps = cgn.gateway.mappings();
  ASSERT_EQ(cgn_maps.size(), 1u);
  EXPECT_EQ(cgn_maps[0].internal, home_maps[0].external);
  EXPECT_EQ(cgn_maps[0].external, public_ep);

  // The echo came back through both NATs to the inner host.
  EXPECT_EQ(inbox.payloads, std::vector<std::string>{"hello"});
  EXPECT_EQ(inbox.from, std::vector<Endpoint>{kS1});
  EXPECT_EQ(home.nat_counters().inbound, 1u);
  EXPECT_EQ(cgn.gateway.nat_counters().inbound, 1u);

  // Another server: the CGNAT (EIF) lets it in, the home NAT (APDF) does not.
  ASSERT_TRUE(w.servers[1].sockets[0]->send_to(public_ep, bytes("unsolicited")));
  w.net.run();
  EXPECT_EQ(cgn.gateway.nat_counters().inbound, 2u);
  EXPECT_EQ(home.nat_counters().drops(NatDrop::filtered), 1u);
  EXPECT_EQ(inbox.payloads.size(), 1u);
}

}  // namespace
}  // namespace natsim::nat
