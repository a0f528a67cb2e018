// RFC 5780 discovery from behind every NAT preset and every mapping x filtering
// combination, checked against the NAT model's ground truth.
#include "natsim/traversal/nat_discovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/traversal/stun_message.hpp"
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
  for (const Endpoint& e : o.lifetime_fresh_locals)
    sockets.push_back(host.udp_bind(e.port).value());
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
  EXPECT_NE(run.report.notes.front().find("also without SOFTWARE"), std::string::npos);
  // Four requests, then 2 s after the last: 0.5 + 1 + 2 + 2 = 5.5 s; twice, the second
  // time without SOFTWARE.
  EXPECT_EQ(run.report.elapsed, milliseconds(11000));
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

// Lifetime trials on fresh sockets measure a new flow each; with one timer for every flow
// the established flow checked after the search does not outlive a fresh one.
TEST(NatDiscovery, FreshFlowPerTrialGivesTheFreshFlowLifetime) {
  StunWorld w;
  nat::NatBehavior b = *nat::preset("port-restricted-cone");
  b.udp_timeout = seconds(30);
  nat::Site site = w.site("home", b);
  sim::Host& h = *site.hosts[0];
  DiscoveryOptions o;
  o.lifetime_local = ep("10.0.0.2:40001");
  o.lifetime_max = seconds(60);
  o.lifetime_precision = seconds(1);
  for (std::uint16_t port = 40010; port < 40026; ++port)
    o.lifetime_fresh_locals.push_back(Endpoint{*h.address(), port});
  const Probe run = discover(w, h, o);
  ASSERT_TRUE(run.report.binding_lifetime);
  EXPECT_GE(*run.report.binding_lifetime, seconds(29));
  EXPECT_LE(*run.report.binding_lifetime, seconds(30));
  EXPECT_TRUE(run.report.lifetime_of_fresh_flow);
  ASSERT_TRUE(run.report.established_flow_outlived_fresh);
  EXPECT_FALSE(*run.report.established_flow_outlived_fresh);
  // Trials idle 60 and 30 s (both lost: 5.5 s of unanswered check each), then 15, 22.5,
  // 26.25, 28.125 and 29.0625 s (answered): bounds 1 s apart. The established flow then
  // idles 30 + 1 s and is lost too (5.5 s). 241.94 s of idling, 16.5 s of unanswered
  // checks, 11 s for the tests before (two unanswered filtering tests) and round trips.
  EXPECT_EQ(run.report.elapsed, microseconds(269'437'500));
  EXPECT_TRUE(std::any_of(run.report.notes.begin(), run.report.notes.end(),
                          [](const std::string& n) { return n.find("fresh flow") != n.npos; }));
}

// One socket for every trial: once a check was answered, later trials reuse that flow;
// the report says a promoting NAT could have given them a longer timer.
TEST(NatDiscovery, ReusedFlowTrialsSayTheyMayHaveBeenPromoted) {
  StunWorld w;
  nat::NatBehavior b = *nat::preset("port-restricted-cone");
  b.udp_timeout = seconds(30);
  nat::Site site = w.site("home", b);
  DiscoveryOptions o;
  o.lifetime_local = ep("10.0.0.2:40001");
  o.lifetime_max = seconds(60);
  o.lifetime_precision = seconds(2);
  const Probe run = discover(w, *site.hosts[0], o);
  ASSERT_TRUE(run.report.binding_lifetime);
  EXPECT_FALSE(run.report.lifetime_of_fresh_flow);
  EXPECT_FALSE(run.report.established_flow_outlived_fresh);
  // 60 and 30 s lost, 15 to 28.125 s answered (2 s precision): 181.875 s idle, 11 s of
  // unanswered checks, 11 s for the tests before.
  EXPECT_EQ(run.report.elapsed, microseconds(203'875'000));
  EXPECT_TRUE(
      std::any_of(run.report.notes.begin(), run.report.notes.end(),
                  [](const std::string& n) { return n.find("reused that flow") != n.npos; }));
}

// A NAT that picks a random port for each new mapping: after a trial expires, the next
// refresh gets another port, and the report says the trials measured different flows.
TEST(NatDiscovery, MappedPortChangeBetweenTrialsIsNoted) {
  StunWorld w;
  nat::NatBehavior b = *nat::preset("port-restricted-cone");
  b.udp_timeout = seconds(30);
  b.port_assignment = nat::PortAssignment::random;
  nat::Site site = w.site("home", b);
  DiscoveryOptions o;
  o.lifetime_local = ep("10.0.0.2:40001");
  o.lifetime_max = seconds(60);
  o.lifetime_precision = seconds(2);
  const Probe run = discover(w, *site.hosts[0], o);
  ASSERT_TRUE(run.report.binding_lifetime);
  EXPECT_LE(*run.report.binding_lifetime, seconds(30));
  EXPECT_EQ(run.report.elapsed, microseconds(203'875'000));  // as above
  EXPECT_TRUE(
      std::any_of(run.report.notes.begin(), run.report.notes.end(), [](const std::string& n) {
        return n.find("mapped address changed between trials") != n.npos;
      }));
}

// A classic server that drops any request carrying SOFTWARE (as stund 0.97 does with a
// length that is not a multiple of 4): discovery retries without it and says why,
// instead of calling the server unreachable. Driven by hand, sans-I/O.
TEST(NatDiscovery, ServerThatIgnoresSoftwareIsRetriedWithoutIt) {
  DiscoveryOptions o;
  o.local = ep("10.0.0.2:40000");
  o.server = ep("198.51.100.10:3478");
  o.hairpinning = false;
  NatDiscovery d(7, o);
  TimePoint now{};
  d.start(now);
  std::array<std::uint8_t, 1500> buf{};
  int dropped = 0;
  // Every request with SOFTWARE goes unanswered: 0.5 + 1 + 2 s of retransmissions, 2 s wait.
  for (;;) {
    while (auto t = d.poll_transmit(buf)) {
      auto m = traversal::stun::Message::parse(ByteView(buf.data(), t->size));
      ASSERT_TRUE(m);
      if (m->text(traversal::stun::attr::software)) {
        ++dropped;
        continue;
      }
      // Answered as stund does: MAPPED-ADDRESS, no OTHER-ADDRESS / CHANGED-ADDRESS.
      EXPECT_EQ(now, TimePoint{} + milliseconds(5500));
      EXPECT_EQ(dropped, 4);
      std::array<std::uint8_t, 256> out{};
      traversal::stun::Writer w(out, traversal::stun::method::binding,
                                traversal::stun::Class::success, m->transaction_id());
      w.add_address(traversal::stun::attr::mapped_address, ep("203.0.113.2:40000"));
      const auto bytes = w.finish();
      ASSERT_TRUE(bytes);
      EXPECT_TRUE(d.handle_datagram(now, o.local, o.server, *bytes));
    }
    if (d.done()) break;
    const auto next = d.poll_timeout();
    ASSERT_TRUE(next);
    now = *next;
    d.handle_timeout(now);
  }
  EXPECT_EQ(d.report().mapped, ep("203.0.113.2:40000"));
  EXPECT_EQ(d.report().elapsed, milliseconds(5500));
  EXPECT_TRUE(std::any_of(d.report().notes.begin(), d.report().notes.end(),
                          [](const std::string& n) { return n.find("without it") != n.npos; }));
}

}  // namespace
}  // namespace natsim::scenarios
