// IPv6 sites (docs/scenario-format.md): the "ipv6" key, its address plan, the load errors
// for what an IPv6 site cannot be, and a datagram through an IPv6 firewall in the world.
#include <gtest/gtest.h>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world.hpp"
#include "natsim/scenarios/world_builder.hpp"

namespace natsim::scenarios {
namespace {

using nlohmann::json;

// One IPv6 firewall site with one host, and an IPv6 public host 5 + 10 + 10 ms from it.
json v6_base() {
  return json::parse(R"({
    "name": "v6",
    "topology": {
      "core": { "latency": "10ms" },
      "servers": [{"name": "peer", "type": "host", "address": "2001:db8:5100::30",
                   "link": {"latency": "5ms"}}],
      "sites": [{"name": "home", "ipv6": true, "nat": "firewall", "hosts": ["alice"]}]
    },
    "timeline": []
  })");
}

std::string error_of(const json& doc) {
  try {
    (void)load_scenario_text(doc.dump(2), "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

Scenario load(const json& doc) {
  auto s = load_scenario_text(doc.dump(), "ok.json");
  EXPECT_EQ(s.size(), 1u);
  return s.at(0);
}

TEST(Ipv6Site, DefaultAddressPlanIsInTheDocumentationPrefix) {
  json d = v6_base();
  d["topology"]["sites"].push_back(json{{"name", "office"}, {"ipv6", true}, {"nat", "open"}});
  const Scenario s = load(d);
  EXPECT_TRUE(s.sites[0].ipv6);
  World w(s, 1);
  EXPECT_EQ(w.host("alice").address(IpFamily::v6), IpAddress::parse("2001:db8:1::2"));
  EXPECT_FALSE(w.host("alice").address(IpFamily::v4));
  EXPECT_EQ(w.host("office-h1").address(IpFamily::v6), IpAddress::parse("2001:db8:2::2"));
  EXPECT_EQ(w.gateway("home").address(IpFamily::v6), IpAddress::parse("2001:db8:ffff::2"));
  EXPECT_EQ(w.gateway("office").address(IpFamily::v6), IpAddress::parse("2001:db8:ffff:1::2"));
}

TEST(Ipv6Site, GivenAddressesAreUsed) {
  json d = v6_base();
  d["topology"]["sites"][0]["lan"] = "2001:db8:aa::1/64";
  d["topology"]["sites"][0]["wan"] = "2001:db8:bb::2/126";
  World w(load(d), 1);
  EXPECT_EQ(w.host("alice").address(IpFamily::v6), IpAddress::parse("2001:db8:aa::2"));
  EXPECT_EQ(w.gateway("home").address(IpFamily::v6), IpAddress::parse("2001:db8:bb::2"));
}

TEST(Ipv6Site, TranslatingNatIsRefused) {
  json d = v6_base();
  d["topology"]["sites"][0]["nat"] = "symmetric";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/nat: an IPv6 site has no address translation (no "
            "NAT66): use the 'open' or 'firewall' preset, or a profile with ipv4 and ipv6 "
            "'open' or 'firewall'");
  // The default NAT (port-restricted-cone) translates too.
  d["topology"]["sites"][0].erase("nat");
  EXPECT_NE(error_of(d).find("/topology/sites/0/nat: an IPv6 site has no"), std::string::npos);
  // A firewall profile with other filtering is fine.
  d["topology"]["sites"][0]["nat"] = {{"preset", "firewall"}, {"filtering", "address-dependent"}};
  EXPECT_EQ(error_of(d), "no error");
}

TEST(Ipv6Site, OtherMistakesAreRefused) {
  json d = v6_base();
  d["topology"]["sites"][0]["port_mapping"] = true;
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/port_mapping: PCP and NAT-PMP serve IPv4 sites only, "
            "not an IPv6 site");

  d = v6_base();
  d["topology"]["sites"][0]["lan"] = "192.168.1.1/24";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/lan: 192.168.1.1/24 is not an IPv6 address, as an IPv6 "
            "site needs");

  d = v6_base();
  d["topology"]["sites"][0].erase("ipv6");
  d["topology"]["sites"][0]["wan"] = "2001:db8:bb::2/126";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/wan: 2001:db8:bb::2/126 is not an IPv4 address, as an "
            "IPv4 site needs (\"ipv6\": true makes it IPv6)");

  d = v6_base();
  d["topology"]["sites"][0]["sites"] = json::array({json{{"name", "inner"}, {"nat", "full-cone"}}});
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/sites/0/ipv6: an IPv4 site cannot be nested in the IPv6 "
            "site 'home'");

  d = v6_base();
  d["topology"]["sites"][0]["ipv6"] = "yes";
  EXPECT_NE(error_of(d).find("/topology/sites/0/ipv6: expected true or false"), std::string::npos)
      << error_of(d);
}

TEST(Ipv6Site, NestedFirewallSitesAreRoutedThrough) {
  json d = v6_base();
  d["topology"]["sites"][0]["sites"] =
      json::array({json{{"name", "lab"}, {"ipv6", true}, {"nat", "open"}, {"hosts", {"bob"}}}});
  World w(load(d), 1);
  // The nested site's WAN is planned from 2001:db8:fffe::/48, its LAN is the second /64.
  EXPECT_EQ(w.gateway("lab").address(IpFamily::v6), IpAddress::parse("2001:db8:fffe::2"));
  const Endpoint bob{*IpAddress::parse("2001:db8:2::2"), 4000};
  sim::UdpSocket* in = w.host("bob").udp_bind(Endpoint{*IpAddress::parse("::"), 4000}).value();
  std::vector<TimePoint> got;
  in->on_receive([&](const sim::Datagram& g) { got.push_back(g.at); });
  // Outbound from bob through both gateways opens the outer firewall for the reply.
  sim::UdpSocket* peer =
      w.server_host("peer").udp_bind(Endpoint{*IpAddress::parse("2001:db8:5100::30"), 9}).value();
  ASSERT_TRUE(in->send_to(Endpoint{*IpAddress::parse("2001:db8:5100::30"), 9}, {}));
  w.net.run();
  ASSERT_TRUE(peer->send_to(bob, {}));
  w.net.run();
  EXPECT_EQ(got.size(), 1u);
}

// The firewall filters IPv6 as IPv4: a datagram from outside is dropped until the host
// has sent to its source, then passes. Times: server link 5 ms, core (the site's uplink)
// 10 ms, LAN 0 ms.
TEST(Ipv6Site, FirewallDropsUnsolicitedThenPassesAfterOutbound) {
  World w(load(v6_base()), 1);
  const Endpoint alice{*IpAddress::parse("2001:db8:1::2"), 5000};
  const Endpoint peer_ep{*IpAddress::parse("2001:db8:5100::30"), 9};
  sim::UdpSocket* a = w.host("alice").udp_bind(Endpoint{*IpAddress::parse("::"), 5000}).value();
  sim::UdpSocket* p = w.server_host("peer").udp_bind(peer_ep).value();
  std::vector<TimePoint> at_alice, at_peer;
  std::vector<Endpoint> seen_by_peer;
  a->on_receive([&](const sim::Datagram& g) { at_alice.push_back(g.at); });
  p->on_receive([&](const sim::Datagram& g) {
    at_peer.push_back(g.at);
    seen_by_peer.push_back(g.from);
  });

  ASSERT_TRUE(p->send_to(alice, {}));  // unsolicited: filtered
  w.net.run();
  EXPECT_TRUE(at_alice.empty());
  EXPECT_EQ(w.gateway("home").nat_counters().drops(nat::NatDrop::no_mapping), 1u);

  const TimePoint sent = w.net.now();
  ASSERT_TRUE(a->send_to(peer_ep, {}));
  w.net.run();
  ASSERT_EQ(at_peer.size(), 1u);
  EXPECT_EQ(at_peer[0] - sent, milliseconds(15));
  EXPECT_EQ(seen_by_peer[0], alice);  // no translation

  const TimePoint replied = w.net.now();
  ASSERT_TRUE(p->send_to(alice, {}));
  w.net.run();
  ASSERT_EQ(at_alice.size(), 1u);
  EXPECT_EQ(at_alice[0] - replied, milliseconds(15));
  EXPECT_EQ(w.gateway("home").nat_counters().drops(nat::NatDrop::no_mapping), 1u);
}

TEST(Ipv6Site, WorldBuilderMakesIpv6Sites) {
  auto w = WorldBuilder(1).site("home", "firewall", {"alice"}).ipv6().build();
  EXPECT_EQ(w->host("alice").address(IpFamily::v6), IpAddress::parse("2001:db8:1::2"));
  try {
    (void)WorldBuilder(1).site("home", "symmetric", {"alice"}).ipv6().build();
    ADD_FAILURE() << "a translating IPv6 site was built";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no NAT66"), std::string::npos) << e.what();
  }
}

// Hosts of an IPv6 site aimed at IPv4 servers and peers: no common family, so the
// actions fail or time out, and the run ends normally.
TEST(Ipv6Site, CrossFamilyActionsFailWithoutCrashing) {
  json d = v6_base();
  d["topology"]["servers"].push_back(
      json{{"name", "echo4"}, {"type", "echo"}, {"address", "198.51.100.20"}});
  d["topology"]["servers"].push_back(
      json{{"name", "stun4"}, {"type", "stun"}, {"address", "198.51.100.10"}});
  d["topology"]["sites"].push_back(json{{"name", "office"}, {"hosts", {"bob"}}});
  d["timeline"] =
      json::array({json{{"id", "s"}, {"action", "send"}, {"host", "alice"}, {"server", "echo4"}},
                   json{{"id", "t"}, {"action", "tcp"}, {"host", "alice"}, {"server", "echo4"}},
                   json{{"id", "b"}, {"action", "binding"}, {"host", "alice"}, {"server", "stun4"}},
                   json{{"id", "c"},
                        {"action", "connect"},
                        {"a", "alice"},
                        {"b", "bob"},
                        {"stun", "stun4"},
                        {"timeout", "5s"}}});
  d["expect"] = json::array({json{{"action", "c"}, {"outcome", "connected"}}});
  d["duration"] = "20s";
  const RunResult r = run_scenario(load(d), 1);
  ASSERT_EQ(r.expectations.size(), 1u);
  EXPECT_FALSE(r.expectations[0].passed);
  ASSERT_EQ(r.actions.size(), 4u);
  EXPECT_EQ(r.actions[0]["echoed"], 0);
}

// RFC 5780 discovery from an IPv6 firewall site: no translation, the firewall's filtering.
TEST(Ipv6Site, ProbeSeesNoMappingAndTheFirewallsFiltering) {
  json d = v6_base();
  d["topology"]["servers"].push_back(json{{"name", "stun"},
                                          {"type", "stun"},
                                          {"address", "2001:db8:5100::10"},
                                          {"alternate_address", "2001:db8:5100::11"}});
  d["timeline"].push_back(
      json{{"at", "0s"}, {"id", "p"}, {"action", "probe"}, {"host", "alice"}, {"server", "stun"}});
  d["expect"] = json::array(
      {json{{"action", "p"}, {"mapping", "none"}, {"filtering", "address-and-port-dependent"}}});
  const RunResult r = run_scenario(load(d), 1);
  ASSERT_EQ(r.expectations.size(), 1u);
  EXPECT_TRUE(r.expectations[0].passed) << r.expectations[0].message;
}

// The library scenario: every pair of IPv6 sites connects on the host pair, and the
// relay_only connect relays over IPv6; both with their setup times pinned in the file.
TEST(Ipv6Site, LibraryScenarioConnectsEveryPairDirectly) {
  const auto variants =
      load_scenario_file(std::string(NATSIM_SCENARIO_DIR) + "/library/connect-ipv6-firewall.json");
  ASSERT_EQ(variants.size(), 16u);
  for (const Scenario& s : variants) {
    const RunResult r = run_scenario(s, 1);
    SCOPED_TRACE(s.variant);
    for (const auto& e : r.expectations)
      EXPECT_TRUE(e.passed) << e.pointer << ": " << e.message;
    ASSERT_EQ(r.actions.size(), 2u);
    EXPECT_EQ(r.actions[0]["local"]["address"], "[2001:db8:1::2]:51906");
    EXPECT_EQ(r.actions[1]["local"]["type"], "relay");
    EXPECT_EQ(r.actions[1]["local"]["address"].get<std::string>().rfind("[2001:db8:5100::20]:", 0),
              0u);
    EXPECT_EQ(run_scenario(s, 1).digest, r.digest);
  }
}

}  // namespace
}  // namespace natsim::scenarios
