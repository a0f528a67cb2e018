#include "natsim/sim/routing_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "test_world.hpp"

namespace natsim::sim {
namespace {

using testing::ip;

TEST(RoutingTable, LongestPrefixWins) {
  RoutingTable t;
  t.add({*Prefix::parse("0.0.0.0/0"), 0, ip("192.0.2.1")});
  t.add({*Prefix::parse("10.0.0.0/8"), 1, {}});
  t.add({*Prefix::parse("10.1.0.0/16"), 2, {}});
  t.add({*Prefix::parse("10.1.2.3/32"), 3, {}});
  t.add({*Prefix::parse("::/0"), 4, {}});
  EXPECT_EQ(t.lookup(ip("10.1.2.3"))->iface, 3u);
  EXPECT_EQ(t.lookup(ip("10.1.2.4"))->iface, 2u);
  EXPECT_EQ(t.lookup(ip("10.2.0.1"))->iface, 1u);
  EXPECT_EQ(t.lookup(ip("8.8.8.8"))->iface, 0u);
  EXPECT_EQ(t.lookup(ip("8.8.8.8"))->next_hop(ip("8.8.8.8")), ip("192.0.2.1"));
  EXPECT_EQ(t.lookup(ip("2001:db8::1"))->iface, 4u);
  EXPECT_EQ(t.size(), 5u);
}

TEST(RoutingTable, MissingRouteAndRemoval) {
  RoutingTable t;
  t.add({*Prefix::parse("10.0.0.0/8"), 1, {}});
  EXPECT_EQ(t.lookup(ip("11.0.0.1")), nullptr);
  EXPECT_EQ(t.lookup(ip("2001:db8::1")), nullptr);  // families never mix
  EXPECT_TRUE(t.remove(*Prefix::parse("10.0.0.0/8")));
  EXPECT_FALSE(t.remove(*Prefix::parse("10.0.0.0/8")));
  EXPECT_EQ(t.lookup(ip("10.0.0.1")), nullptr);
}

TEST(RoutingTable, ReplacingARouteKeepsOneEntry) {
  RoutingTable t;
  t.add({*Prefix::parse("10.0.0.0/8"), 1, {}});
  t.add({*Prefix::parse("10.9.9.9/8"), 2, {}});  // same prefix once masked
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.lookup(ip("10.0.0.1"))->iface, 2u);
  EXPECT_EQ(t.routes().front().prefix.to_string(), "10.0.0.0/8");
}

// A table grows from a few scanned routes into per-length indexes past eight routes, and
// shrinks by removal in both forms: every lookup must agree with a brute-force longest
// match over what was added, at every size.
TEST(RoutingTable, AgreesWithBruteForceSmallAndIndexed) {
  Rng rng = Rng::for_component(7, "routing-test");
  RoutingTable t;
  std::vector<Route> added;
  auto random_address = [&](bool v6) {
    IpAddress::Bytes16 b{};
    for (auto& byte : b)
      byte = static_cast<std::uint8_t>(rng.below(3));  // few values: prefixes overlap
    return v6 ? IpAddress::v6(b) : IpAddress::v4(b[0], b[1], b[2], b[3]);
  };
  auto check = [&] {
    for (int probe = 0; probe < 200; ++probe) {
      const IpAddress dst = random_address(rng.below(3) == 0);
      const Route* best = nullptr;
      for (const Route& r : added) {
        if (r.prefix.contains(dst) && (!best || r.prefix.length() > best->prefix.length()))
          best = &r;
      }
      const Route* got = t.lookup(dst);
      ASSERT_EQ(got == nullptr, best == nullptr) << dst.to_string();
      if (got) {
        EXPECT_EQ(got->prefix, best->prefix) << dst.to_string();
        EXPECT_EQ(got->iface, best->iface);
      }
    }
    EXPECT_EQ(t.size(), added.size());
  };
  // Twice: once staying small (at most eight routes, scanned), once growing to 24 (indexed),
  // removing everything after each.
  for (const IfaceId count : {IfaceId{8}, IfaceId{24}}) {
    for (IfaceId i = 0; i < count; ++i) {
      const bool v6 = i % 4 == 3;
      const auto length = static_cast<std::uint8_t>(v6 ? rng.below(129) : rng.below(33));
      const Route r{Prefix(random_address(v6), length), i, {}};
      t.add(r);
      auto same = std::find_if(added.begin(), added.end(),
                               [&](const Route& a) { return a.prefix == r.prefix; });
      if (same != added.end()) {
        *same = r;
      } else {
        added.push_back(r);
      }
      check();
    }
    while (!added.empty()) {
      EXPECT_TRUE(t.remove(added.back().prefix));
      added.pop_back();
      check();
    }
  }
}

TEST(Routing, PacketsCrossAChainOfFourRouters) {
  // h1 - r0 - r1 - r2 - r3 - h2, /30 per link, static routes both ways.
  Network net;
  Host& h1 = net.add_host("h1");
  Host& h2 = net.add_host("h2");
  std::vector<Router*> r;
  for (int i = 0; i < 4; ++i)
    r.push_back(&net.add_router("r" + std::to_string(i)));
  LinkParams lp;
  lp.latency = milliseconds(1);
  std::vector<Node*> chain{&h1, r[0], r[1], r[2], r[3], &h2};
  std::vector<std::pair<IfaceId, IfaceId>> ifaces;
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    auto c = net.connect(*chain[i], *chain[i + 1], lp);
    const std::string base = "10.0." + std::to_string(i) + ".";
    chain[i]->add_address(c.a_iface, base + "1/30");
    chain[i + 1]->add_address(c.b_iface, base + "2/30");
    ifaces.emplace_back(c.a_iface, c.b_iface);
  }
  ASSERT_TRUE(h1.set_default_route(ip("10.0.0.2")));
  ASSERT_TRUE(h2.set_default_route(ip("10.0.4.1")));
  for (std::size_t i = 1; i + 1 < chain.size(); ++i) {
    // Toward h2: next link's far end; toward h1: previous link's near end.
    const std::string fwd = "10.0." + std::to_string(i) + ".2";
    const std::string back = "10.0." + std::to_string(i - 1) + ".1";
    chain[i]->add_route(*Prefix::parse("10.0.4.0/30"), ifaces[i].first, ip(fwd.c_str()));
    chain[i]->add_route(*Prefix::parse("10.0.0.0/30"), ifaces[i - 1].second, ip(back.c_str()));
  }
  UdpSocket* server = h2.udp_bind(3478).value();
  server->on_receive([server](const Datagram& d) { (void)server->send_to(d.from, d.payload); });
  UdpSocket* client = h1.udp_bind(5000).value();
  std::vector<Datagram> got;
  TimePoint got_at;
  client->on_receive([&](const Datagram& d) {
    got.push_back(d);
    got_at = d.at;
  });
  ASSERT_TRUE(client->send_to(testing::ep("10.0.4.2:3478"), testing::bytes("hello")));
  net.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, testing::ep("10.0.4.2:3478"));
  EXPECT_EQ(got_at, at(milliseconds(10)));  // five 1 ms hops each way
  for (Router* router : r)
    EXPECT_EQ(router->counters().forwarded, 2u);
  EXPECT_EQ(net.counters().total_drops(), 0u);
}

TEST(Routing, TtlExpiresInALoop) {
  // Two routers pointing at each other for 192.0.2.0/24: a routing loop.
  Network net;
  Host& h = net.add_host("h");
  Router& r1 = net.add_router("r1");
  Router& r2 = net.add_router("r2");
  auto hc = net.connect(h, r1);
  h.add_address(hc.a_iface, "10.0.0.1/30");
  r1.add_address(hc.b_iface, "10.0.0.2/30");
  auto rc = net.connect(r1, r2);
  r1.add_address(rc.a_iface, "10.0.1.1/30");
  r2.add_address(rc.b_iface, "10.0.1.2/30");
  ASSERT_TRUE(h.set_default_route(ip("10.0.0.2")));
  r1.add_route(*Prefix::parse("192.0.2.0/24"), rc.a_iface, ip("10.0.1.2"));
  r2.add_route(*Prefix::parse("192.0.2.0/24"), rc.b_iface, ip("10.0.1.1"));
  UdpSocket* s = h.udp_bind().value();
  ASSERT_TRUE(s->send_to(testing::ep("192.0.2.9:1"), testing::bytes("x")));
  net.run();
  EXPECT_EQ(net.counters().drops(DropReason::ttl_expired), 1u);
  EXPECT_EQ(r1.counters().forwarded + r2.counters().forwarded, 63u);  // TTL 64, dies at 1
}

}  // namespace
}  // namespace natsim::sim
