#include "natsim/sim/node.hpp"

#include <gtest/gtest.h>

#include <set>

#include "test_world.hpp"

namespace natsim::sim {
namespace {

using testing::bytes;
using testing::ep;
using testing::ip;
using testing::Pair;

TEST(UdpBind, PortConflictsFollowWildcardRules) {
  Pair w;
  ASSERT_TRUE(w.a.udp_bind(ep("10.0.0.1:4000")));
  auto again = w.a.udp_bind(ep("10.0.0.1:4000"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), make_error_code(Errc::address_in_use));
  EXPECT_FALSE(w.a.udp_bind(4000));                 // wildcard collides with the specific bind
  ASSERT_TRUE(w.a.udp_bind(4001));                  // wildcard first...
  EXPECT_FALSE(w.a.udp_bind(ep("10.0.0.1:4001")));  // ...then a specific bind collides
  EXPECT_TRUE(w.b.udp_bind(ep("10.0.0.2:4000")));   // other nodes are independent
}

TEST(UdpBind, ForeignAddressIsUnavailable) {
  Pair w;
  auto r = w.a.udp_bind(ep("10.0.0.2:4000"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::address_unavailable));
}

TEST(UdpBind, EphemeralPortsAreDistinctAndInTheDynamicRange) {
  Pair w;
  std::set<std::uint16_t> ports;
  for (int i = 0; i < 100; ++i) {
    UdpSocket* s = w.a.udp_bind().value();
    EXPECT_GE(s->local().port, 49152);
    ports.insert(s->local().port);
  }
  EXPECT_EQ(ports.size(), 100u);
}

TEST(UdpBind, EphemeralRangeExhaustionIsAnError) {
  Pair w;
  for (std::uint32_t i = 0; i < 16384; ++i)
    ASSERT_TRUE(w.a.udp_bind());
  auto r = w.a.udp_bind();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::no_free_port));
}

TEST(UdpSocket, ClosingFreesThePortEvenInsideItsHandler) {
  Pair w;
  UdpSocket* server = w.b.udp_bind(9).value();
  int handled = 0;
  server->on_receive([&](const Datagram&) {
    ++handled;
    server->close();
  });
  UdpSocket* s = w.a.udp_bind().value();
  (void)s->send_to(ep("10.0.0.2:9"), bytes("one"));
  (void)s->send_to(ep("10.0.0.2:9"), bytes("two"));
  w.net.run();
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(w.b.counters().drops(DropReason::port_unreachable), 1u);
  EXPECT_TRUE(w.b.udp_bind(9));
  s->close();
  EXPECT_EQ(s->send_to(ep("10.0.0.2:9"), bytes("x")).error(), make_error_code(Errc::closed));
}

TEST(UdpSocket, UnroutableDestinationIsAnErrorAndACountedDrop) {
  Pair w;  // no default route
  UdpSocket* s = w.a.udp_bind().value();
  auto r = s->send_to(ep("192.0.2.1:9"), bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::no_route));
  EXPECT_EQ(w.a.counters().drops(DropReason::no_route), 1u);
  EXPECT_EQ(w.net.counters().drops(DropReason::no_route), 1u);
}

TEST(UdpSocket, BadArgumentsAreRejected) {
  Pair w;
  UdpSocket* s = w.a.udp_bind().value();
  EXPECT_EQ(s->send_to(ep("[2001:db8::1]:9"), bytes("x")).error(),
            make_error_code(Errc::invalid_argument));
  std::string huge(kMaxUdpPayload + 1, 'x');
  EXPECT_EQ(s->send_to(ep("10.0.0.2:9"), bytes(huge)).error(),
            make_error_code(Errc::invalid_argument));
}

TEST(UdpSocket, NoListenerIsPortUnreachable) {
  Pair w;
  UdpSocket* s = w.a.udp_bind().value();
  ASSERT_TRUE(s->send_to(ep("10.0.0.2:1234"), bytes("x")));
  w.net.run();
  EXPECT_EQ(w.b.counters().drops(DropReason::port_unreachable), 1u);
}

TEST(UdpSocket, SpecificBindWinsOverWildcard) {
  Pair w;
  auto c = w.net.connect(w.a, w.b);
  w.b.add_address(c.b_iface, "10.0.1.2/24");
  w.a.add_address(c.a_iface, "10.0.1.1/24");
  std::string got;
  UdpSocket* specific = w.b.udp_bind(ep("10.0.1.2:9")).value();
  UdpSocket* other = w.b.udp_bind(ep("10.0.0.2:9")).value();
  specific->on_receive([&](const Datagram& d) { got += "s:" + d.to.to_string() + " "; });
  other->on_receive([&](const Datagram& d) { got += "o:" + d.to.to_string() + " "; });
  UdpSocket* s = w.a.udp_bind().value();
  (void)s->send_to(ep("10.0.1.2:9"), bytes("x"));
  w.net.run();
  (void)s->send_to(ep("10.0.0.2:9"), bytes("x"));
  w.net.run();
  EXPECT_EQ(got, "s:10.0.1.2:9 o:10.0.0.2:9 ");
}

TEST(UdpSocket, SourceAddressFollowsTheRoute) {
  Pair w;
  w.listen();
  Endpoint from;
  w.sink->on_receive([&](const Datagram& d) { from = d.from; });
  UdpSocket* s = w.a.udp_bind(7777).value();
  EXPECT_EQ(s->local().to_string(), "0.0.0.0:7777");
  (void)s->send_to(ep("10.0.0.2:9"), bytes("x"));
  w.net.run();
  EXPECT_EQ(from, ep("10.0.0.1:7777"));
}

TEST(UdpSocket, LoopbackToOwnAddressIsAsynchronous) {
  Pair w;
  UdpSocket* s = w.a.udp_bind(ep("10.0.0.1:5")).value();
  int got = 0;
  s->on_receive([&](const Datagram& d) {
    ++got;
    EXPECT_EQ(d.from, ep("10.0.0.1:5"));
  });
  ASSERT_TRUE(s->send_to(ep("10.0.0.1:5"), bytes("me")));
  EXPECT_EQ(got, 0);  // not re-entrant
  w.net.run();
  EXPECT_EQ(got, 1);
}

TEST(Node, HostsDoNotForward) {
  Network net;
  Host& a = net.add_host("a");
  Host& b = net.add_host("b");
  auto c = net.connect(a, b);
  a.add_address(c.a_iface, "10.0.0.1/24");
  b.add_address(c.b_iface, "10.0.0.2/24");
  a.add_route(*Prefix::parse("0.0.0.0/0"), c.a_iface, ip("10.0.0.2"));
  UdpSocket* s = a.udp_bind().value();
  ASSERT_TRUE(s->send_to(ep("198.51.100.1:1"), bytes("x")));
  net.run();
  EXPECT_EQ(b.counters().drops(DropReason::not_forwarding), 1u);
}

TEST(Node, TimersRunInVirtualTimeAndRejectThePast) {
  Pair w;
  std::vector<TimePoint> fired;
  auto t1 = w.a.schedule_in(seconds(30), [&] { fired.push_back(w.a.now()); });
  auto t2 = w.a.schedule_in(seconds(10), [&] { fired.push_back(w.a.now()); });
  ASSERT_TRUE(t1 && t2);
  EXPECT_TRUE(w.a.cancel(*t1));
  w.net.run();
  EXPECT_EQ(fired, std::vector<TimePoint>{at(seconds(10))});
  auto past = w.a.schedule_at(at(seconds(5)), [] {});
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error(), make_error_code(Errc::time_in_past));
  EXPECT_FALSE(w.a.schedule_in(-seconds(1), [] {}));
}

TEST(Node, DefaultRouteNeedsAReachableGateway) {
  Pair w;
  EXPECT_EQ(w.a.set_default_route(ip("192.0.2.1")).error(), make_error_code(Errc::no_route));
  EXPECT_TRUE(w.a.set_default_route(ip("10.0.0.2")));
}

TEST(Node, Ipv6EndToEnd) {
  Network net;
  Host& a = net.add_host("a");
  Host& b = net.add_host("b");
  auto c = net.connect(a, b);
  a.add_address(c.a_iface, "2001:db8::1/64");
  b.add_address(c.b_iface, "2001:db8::2/64");
  UdpSocket* server = b.udp_bind(ep("[::]:3478")).value();
  Endpoint from;
  server->on_receive([&](const Datagram& d) { from = d.from; });
  UdpSocket* s = a.udp_bind(ep("[::]:5000")).value();
  ASSERT_TRUE(s->send_to(ep("[2001:db8::2]:3478"), bytes("six")));
  net.run();
  EXPECT_EQ(from, ep("[2001:db8::1]:5000"));
}

TEST(Network, NamesMustBeValidAndUnique) {
  Network net;
  net.add_host("a");
  EXPECT_THROW(net.add_host("a"), std::invalid_argument);
  EXPECT_THROW(net.add_host("has space"), std::invalid_argument);
  EXPECT_THROW(net.add_host("quote\""), std::invalid_argument);
  EXPECT_THROW(net.add_segment("a"), std::invalid_argument);  // shared namespace
  EXPECT_EQ(net.find_node("a")->name(), "a");
  EXPECT_EQ(net.find_node("zzz"), nullptr);
}

}  // namespace
}  // namespace natsim::sim

namespace natsim::sim {
namespace {

TEST(Node, DownNodeDropsWhatArrivesAndWhatItSends) {
  testing::Pair w;
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  w.b.set_up(false);
  ASSERT_TRUE(s->send_to(testing::ep("10.0.0.2:9"), testing::bytes("x")));
  w.net.run();
  EXPECT_EQ(w.b.counters().drops(DropReason::node_down), 1u);
  w.a.set_up(false);
  EXPECT_FALSE(s->send_to(testing::ep("10.0.0.2:9"), testing::bytes("x")));
  EXPECT_EQ(w.a.counters().drops(DropReason::node_down), 1u);
  w.a.set_up(true);
  w.b.set_up(true);
  ASSERT_TRUE(s->send_to(testing::ep("10.0.0.2:9"), testing::bytes("x")));
  w.net.run();
  EXPECT_EQ(w.payloads.size(), 1u);
}

TEST(Node, RemovedAddressIsNoLongerOwnedOrRouted) {
  testing::Pair w;
  EXPECT_TRUE(w.b.owns(testing::ip("10.0.0.2")));
  EXPECT_TRUE(w.b.remove_address(0, testing::ip("10.0.0.2")));
  EXPECT_FALSE(w.b.remove_address(0, testing::ip("10.0.0.2")));
  EXPECT_FALSE(w.b.owns(testing::ip("10.0.0.2")));
  EXPECT_EQ(w.b.routes().lookup(testing::ip("10.0.0.1")), nullptr);
  w.b.add_address(0, "10.0.0.3/24");
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  (void)s->send_to(testing::ep("10.0.0.3:9"), testing::bytes("new"));
  w.net.run();
  EXPECT_EQ(w.payloads, std::vector<std::string>{"new"});
}

}  // namespace
}  // namespace natsim::sim
