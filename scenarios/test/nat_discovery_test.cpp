// RFC 5780 discovery from behind every NAT preset and every mapping x filtering
// combination, checked against the NAT model's ground truth.
#include "natsim/traversal/nat_discovery.hpp"

#include <gtest/gtest.h>

#include "natsim/nat_models/nat_behavior.hpp"
#include "stun_world.hpp"

namespace natsim::scenarios {
namespace {

using testing::ep;
using testing::StunWorld;
using traversal::DiscoveryOptions;
using traversal::DiscoveryReport;
using traversal::FilteringBehavior;
using traversal::MappingBehavior;
using traversal::NatDiscovery;

struct Probe {
  DiscoveryReport report;
  int events = 0;
};

Probe discover(StunWorld& w, sim::Host& host, DiscoveryOptions o = {}) {
  sim::UdpSocket* s = host.udp_bind(40000).value();
  std::vector<sim::UdpSocket*> sockets{s};
  o.local = Endpoint{*host.address(), 40000};
  o.server = ep("198.51.100.10:3478");
  if (o.lifetime_local) sockets.push_back(host.udp_bind(o.lifetime_local->port).value());
  NatDiscovery d(7, o);
  SimDriver<NatDiscovery> driver(host, d, sockets);
  Probe run;
  driver.on_event([&](const DiscoveryReport& r) {
    run.report = r;
    ++run.events;
  });
  d.start(host.now());
  driver.pump();
  w.net.run();
  EXPECT_TRUE(d.done());
  return run;
}

MappingBehavior expected_mapping(const nat::NatBehavior& b) {
  if (b.ipv4 != nat::Translation::translate) return MappingBehavior::none;
  switch (b.mapping) {
    case nat::Mapping::endpoint_independent:
      return MappingBehavior::endpoint_independent;
    case nat::Mapping::address_dependent:
      return MappingBehavior::address_dependent;
    case nat::Mapping::address_and_port_dependent:
      return MappingBehavior::address_and_port_dependent;
  }
  return MappingBehavior::undetermined;
}

FilteringBehavior expected_filtering(const nat::NatBehavior& b) {
  if (b.ipv4 == nat::Translation::open) return FilteringBehavior::endpoint_independent;
  switch (b.filtering) {
    case nat::Filtering::endpoint_independent:
      return FilteringBehavior::endpoint_independent;
    case nat::Filtering::address_dependent:
      return FilteringBehavior::address_dependent;
    case nat::Filtering::address_and_port_dependent:
      return FilteringBehavior::address_and_port_dependent;
  }
  return FilteringBehavior::undetermined;
}

// §4.5 sends to the client's own mapped address: the request comes back only if the NAT
// hairpins and its filtering admits the client's own (hairpin-translated) endpoint.
std::optional<bool> expected_hairpin(const nat::NatBehavior& b) {
  if (b.ipv4 != nat::Translation::translate) return std::nullopt;
  return b.hairpinning && (b.mapping == nat::Mapping::endpoint_independent ||
                           b.filtering == nat::Filtering::endpoint_independent);
}

TEST(NatDiscovery, EveryPresetIsClassifiedAsItsModel) {
  for (const nat::Preset& p : nat::presets()) {
    StunWorld w;
    nat::Site site = w.site("home", p.behavior);
    if (p.behavior.ipv4 != nat::Translation::translate) {
      // Without translation the inside addresses must be routed on the internet.
      w.core.add_route(*Prefix::parse("10.0.0.0/24"), site.upstream_iface,
                       testing::ip("203.0.113.2"));
    }
    const Probe run = discover(w, *site.hosts[0]);
    SCOPED_TRACE(std::string(p.name));
    EXPECT_EQ(run.events, 1);
    EXPECT_EQ(run.report.mapping, expected_mapping(p.behavior));
    EXPECT_EQ(run.report.filtering, expected_filtering(p.behavior));
    EXPECT_EQ(run.report.hairpinning, expected_hairpin(p.behavior));
    ASSERT_TRUE(run.report.mapped);
    if (p.behavior.ipv4 == nat::Translation::translate) {
      EXPECT_EQ(run.report.mapped->address, ep("203.0.113.2:1").address);
    }
  }
}

TEST(NatDiscovery, EveryMappingAndFilteringCombination) {
  for (auto m : {nat::Mapping::endpoint_independent, nat::Mapping::address_dependent,
                 nat::Mapping::address_and_port_dependent}) {
    for (auto f : {nat::Filtering::endpoint_independent, nat::Filtering::address_dependent,
                   nat::Filtering::address_and_port_dependent}) {
      for (auto ports : {nat::PortAssignment::preserve, nat::PortAssignment::random}) {
        nat::NatBehavior b;
        b.mapping = m;
        b.filtering = f;
        b.port_assignment = ports;
        StunWorld w(3);
        nat::Site site = w.site("home", b);
        const Probe run = discover(w, *site.hosts[0]);
        SCOPED_TRACE(std::string(nat::to_string(m)) + " / " + std::string(nat::to_string(f)));
        EXPECT_EQ(run.report.mapping, expected_mapping(b));
        EXPECT_EQ(run.report.filtering, expected_filtering(b));
        EXPECT_EQ(run.report.hairpinning, expected_hairpin(b));
      }
    }
  }
}

TEST(NatDiscovery, DoubleNatReportsTheOutermostBehaviour) {
  StunWorld w;
  // A CGNAT site whose LAN hosts a home NAT's WAN.
  nat::SiteOptions cgn;
  cgn.behavior = *nat::preset("cgnat");
  cgn.hosts = 0;
  cgn.lan = *InterfaceAddress::parse("100.64.0.1/10");
  nat::Site carrier = nat::add_site(w.net, w.core, "cgn", cgn);
  auto& home = w.net.add_node<nat::NatGateway>("home", *nat::preset("symmetric"));
  const sim::IfaceId wan = w.net.attach(home, carrier.lan);
  home.add_address(wan, "100.64.0.2/10");
  ASSERT_TRUE(home.set_default_route(testing::ip("100.64.0.1")));
  home.set_wan(wan);
  sim::Host& h = w.net.add_host("h");
  auto lan = w.net.connect(h, home);
  h.add_address(lan.a_iface, "192.168.1.2/24");
  home.add_address(lan.b_iface, "192.168.1.1/24");
  ASSERT_TRUE(h.set_default_route(testing::ip("192.168.1.1")));
  const Probe run = discover(w, h);
  EXPECT_EQ(run.report.mapping, MappingBehavior::address_and_port_dependent);  // the stricter
  EXPECT_EQ(run.report.filtering, FilteringBehavior::address_and_port_dependent);
  EXPECT_EQ(run.report.mapped->address, testing::ip("203.0.113.2"));
}

TEST(NatDiscovery, UndeterminedWhenTheServerLacksRfc5780) {
  StunWorld w(1, /*rfc5780=*/false);
  nat::Site site = w.site("home", *nat::preset("symmetric"));
  const Probe run = discover(w, *site.hosts[0]);
  EXPECT_EQ(run.report.mapping, MappingBehavior::undetermined);
  EXPECT_EQ(run.report.filtering, FilteringBehavior::undetermined);
  ASSERT_TRUE(run.report.mapped);
  ASSERT_FALSE(run.report.notes.empty());
  EXPECT_NE(run.report.notes.front().find("RFC 5780"), std::string::npos);
}

TEST(NatDiscovery, UndeterminedWhenUdpIsBlocked) {
  sim::LinkParams dead;
  dead.loss = 1.0;
  StunWorld w(1, true, dead);
  nat::Site site = w.site("home", *nat::preset("full-cone"));
  const Probe run = discover(w, *site.hosts[0]);
  EXPECT_EQ(run.report.mapping, MappingBehavior::undetermined);
  EXPECT_FALSE(run.report.mapped);
  EXPECT_NE(run.report.notes.front().find("no answer"), std::string::npos);
  // Four requests, then 2 s after the last: 0.5 + 1 + 2 + 2 = 5.5 s.
  EXPECT_EQ(run.report.elapsed, milliseconds(5500));
}

TEST(NatDiscovery, BindingLifetimeIsFoundByBinarySearch) {
  for (Duration timeout : {Duration{seconds(30)}, Duration{minutes(2)}, Duration{minutes(5)}}) {
    StunWorld w;
    nat::NatBehavior b = *nat::preset("port-restricted-cone");
    b.udp_timeout = timeout;
    nat::Site site = w.site("home", b);
    DiscoveryOptions o;
    o.lifetime_local = ep("10.0.0.2:40001");
    o.lifetime_max = minutes(10);
    o.lifetime_precision = seconds(2);
    const Probe run = discover(w, *site.hosts[0], o);
    ASSERT_TRUE(run.report.binding_lifetime) << format_duration(timeout);
    EXPECT_LE(*run.report.binding_lifetime, timeout);
    EXPECT_GE(*run.report.binding_lifetime, timeout - seconds(2));
    EXPECT_FALSE(run.report.lifetime_at_least_max);
  }
}

TEST(NatDiscovery, LifetimeBeyondTheSearchRangeIsReportedAsSuch) {
  StunWorld w;
  nat::NatBehavior b = *nat::preset("full-cone");
  b.udp_timeout = hours(1);
  nat::Site site = w.site("home", b);
  DiscoveryOptions o;
  o.lifetime_local = ep("10.0.0.2:40001");
  o.lifetime_max = minutes(5);
  const Probe run = discover(w, *site.hosts[0], o);
  EXPECT_TRUE(run.report.lifetime_at_least_max);
  EXPECT_EQ(run.report.binding_lifetime, minutes(5));
}

}  // namespace
}  // namespace natsim::scenarios
