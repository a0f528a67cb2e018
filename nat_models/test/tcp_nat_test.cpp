// TCP segments through NAT gateways (RFC 5382): translation of a real connection,
// unsolicited SYNs dropped or reset, and simultaneous open through two NATs.
#include <gtest/gtest.h>

#include "nat_world.hpp"

namespace natsim::nat {
namespace {

using namespace testing;
using sim::TcpConnState;
using sim::TcpErrc;
using sim::TcpSocket;

Site site_with_latency(World& w, const std::string& name, const NatBehavior& b, const char* wan,
                       const char* upstream) {
  SiteOptions o;
  o.behavior = b;
  o.wan = *InterfaceAddress::parse(wan);
  o.upstream = *InterfaceAddress::parse(upstream);
  o.wan_link.latency = milliseconds(10);
  return add_site(w.net, w.core, name, o);
}

TEST(TcpThroughNat, ConnectionIsTranslatedBothWays) {
  World w;
  Site home = site_with_latency(w, "home", *preset("port-restricted-cone"), "203.0.113.2/30",
                                "203.0.113.1/30");
  sim::TcpListener* l = w.servers[0].host->tcp_listen(80).value();
  Endpoint seen;
  std::string got;
  l->on_accept([&](TcpSocket* s) {
    seen = s->remote();
    s->on_receive([&, s](ByteView v) {
      got.append(v.begin(), v.end());
      (void)s->send(v);  // echo
    });
  });
  TcpSocket* c = home.hosts[0]->tcp_connect(ep("198.51.100.10:80")).value();
  std::string echoed;
  TimePoint connected{};
  c->on_connect([&](Result<void> r) {
    ASSERT_TRUE(r);
    connected = w.net.now();
    (void)c->send(bytes("through the NAT"));
  });
  c->on_receive([&](ByteView v) { echoed.append(v.begin(), v.end()); });
  w.net.run_for(seconds(5));
  EXPECT_EQ(connected, kTimeZero + milliseconds(20));  // one 10 ms WAN hop each way
  EXPECT_EQ(seen.address, ip("203.0.113.2"));
  EXPECT_EQ(got, "through the NAT");
  EXPECT_EQ(echoed, "through the NAT");
  auto m = home.gateway.mappings();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].proto, sim::IpProto::tcp);
  // RFC 5382 REQ-5: established, so the mapping lives for the 124-minute timer.
  EXPECT_GT(m[0].expires, w.net.now() + minutes(120));
}

TEST(TcpThroughNat, UnsolicitedSynIsDroppedByDefault) {
  World w;
  Site home = site_with_latency(w, "home", *preset("port-restricted-cone"), "203.0.113.2/30",
                                "203.0.113.1/30");
  (void)home.hosts[0]->tcp_listen(80).value();
  sim::TcpConfig quick;
  quick.syn_retries = 1;
  TcpSocket* s = w.servers[0].host->tcp_connect(ep("203.0.113.2:80"), quick).value();
  std::optional<Result<void>> result;
  TimePoint when{};
  s->on_connect([&](Result<void> r) {
    result = r;
    when = w.net.now();
  });
  w.net.run_for(seconds(10));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), make_error_code(TcpErrc::timed_out));
  EXPECT_EQ(when, kTimeZero + seconds(3));  // SYN at 0 and 1 s, gives up at 3 s
  EXPECT_EQ(home.gateway.nat_counters().drops(NatDrop::no_mapping), 2u);
}

TEST(TcpThroughNat, ResetKnobAnswersUnsolicitedSynWithRst) {
  World w;
  NatBehavior b = *preset("port-restricted-cone");
  b.tcp_unsolicited_syn = UnsolicitedSyn::reset;
  Site home = site_with_latency(w, "home", b, "203.0.113.2/30", "203.0.113.1/30");
  TcpSocket* s = w.servers[0].host->tcp_connect(ep("203.0.113.2:80")).value();
  std::optional<Result<void>> result;
  TimePoint when{};
  s->on_connect([&](Result<void> r) {
    result = r;
    when = w.net.now();
  });
  w.net.run_for(seconds(10));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), make_error_code(TcpErrc::connection_refused));
  EXPECT_EQ(when, kTimeZero + milliseconds(20));
}

// Two hosts behind NATs that keep ports (EIM) connect to each other's external
// endpoint at the same moment: each SYN opens its own NAT for the other's.
void simultaneous_open(UnsolicitedSyn policy, bool expect_connected) {
  World w;
  NatBehavior b = *preset("port-restricted-cone");
  b.tcp_unsolicited_syn = policy;
  Site a = site_with_latency(w, "a", b, "203.0.113.2/30", "203.0.113.1/30");
  Site c = site_with_latency(w, "c", b, "203.0.113.6/30", "203.0.113.5/30");
  TcpSocket* sa = a.hosts[0]->tcp_connect(ep("203.0.113.6:7000"), {}, 7000).value();
  // c's SYN leaves 30 ms later: a's SYN meets c's NAT (at 20 ms) before c opened it.
  TcpSocket* sc = nullptr;
  (void)c.hosts[0]->schedule_in(milliseconds(30), [&] {
    sc = c.hosts[0]->tcp_connect(ep("203.0.113.2:7000"), {}, 7000).value();
  });
  w.net.run_for(seconds(10));
  ASSERT_NE(sc, nullptr);
  if (expect_connected) {
    EXPECT_EQ(sa->state(), TcpConnState::established);
    EXPECT_EQ(sc->state(), TcpConnState::established);
    EXPECT_EQ(sa->remote(), ep("203.0.113.6:7000"));
    ASSERT_TRUE(sa->send(bytes("punched")));
    std::string got;
    sc->on_receive([&](ByteView v) { got.append(v.begin(), v.end()); });
    w.net.run_for(seconds(1));
    EXPECT_EQ(got, "punched");
  } else {
    // c's NAT answered a's early SYN with a RST: a gave up at 40 ms, before c's SYN
    // reached it (50 ms), and a's host then reset c's SYN as one for a closed port.
    EXPECT_EQ(sa->connection().error(), TcpErrc::connection_refused);
    EXPECT_EQ(sc->connection().error(), TcpErrc::connection_refused);
  }
}

TEST(TcpThroughNat, SimultaneousOpenThroughTwoNats) {
  simultaneous_open(UnsolicitedSyn::drop, true);
}

TEST(TcpThroughNat, SimultaneousOpenFailsWhenANatResetsTheEarlySyn) {
  simultaneous_open(UnsolicitedSyn::reset, false);
}

}  // namespace
}  // namespace natsim::nat
