// sim::VirtualStack: timers that a callback-based stack can use (one-shot, periodic,
// cancelled from their own callback, cancelled with the stack), and UDP and TCP through
// a NAT in virtual time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "natsim/sim/stack.hpp"
#include "natsim/testing/matchers.hpp"
#include "natsim/testing/world_test.hpp"

namespace {

using namespace natsim;

sim::LinkParams latency(Duration d) {
  sim::LinkParams p;
  p.latency = d;
  return p;
}

ByteView bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class VirtualStackTest : public natsim::testing::WorldTest {
 protected:
  scenarios::World& two_hosts() {
    return build(scenarios::WorldBuilder(5)
                     .core_link(latency(milliseconds(5)))
                     .public_host("server", "198.51.100.30")
                     .site("home", "port-restricted-cone", {"alice"}));
  }
};

TEST_F(VirtualStackTest, TimersFireAtTheirVirtualTimes) {
  scenarios::World& w = two_hosts();
  sim::VirtualStack stack(w.host("alice"));
  std::vector<TimePoint> once, ticks;
  stack.after(milliseconds(30), [&] { once.push_back(stack.now()); });
  sim::VirtualStack::TimerHandle tick = 0;
  tick = stack.every(milliseconds(100), [&] {
    ticks.push_back(stack.now());
    if (ticks.size() == 3) {
      EXPECT_TRUE(stack.cancel(tick));  // from its own callback
    }
  });
  const auto cancelled = stack.after(milliseconds(50), [&] { ADD_FAILURE() << "cancelled"; });
  EXPECT_TRUE(stack.cancel(cancelled));
  EXPECT_FALSE(stack.cancel(cancelled));
  run_for(seconds(1));
  EXPECT_EQ(once, std::vector<TimePoint>{at(milliseconds(30))});
  EXPECT_EQ(ticks, (std::vector<TimePoint>{at(milliseconds(100)), at(milliseconds(200)),
                                           at(milliseconds(300))}));
  EXPECT_EQ(stack.pending_timers(), 0u);
}

TEST_F(VirtualStackTest, DestroyingTheStackCancelsItsTimers) {
  scenarios::World& w = two_hosts();
  int fired = 0;
  {
    sim::VirtualStack stack(w.host("alice"));
    stack.every(milliseconds(10), [&] { ++fired; });
    run_for(milliseconds(35));
  }
  run_for(seconds(1));
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(now(), at(milliseconds(1035)));
}

TEST_F(VirtualStackTest, UdpThroughTheNat) {
  scenarios::World& w = two_hosts();
  sim::VirtualStack alice(w.host("alice"));
  sim::VirtualStack server(w.server_host("server"));
  sim::UdpSocket* srv = server.udp_bind(9000).value();
  srv->on_receive([srv](const sim::Datagram& d) { (void)srv->send_to(d.from, d.payload); });
  sim::UdpSocket* a = alice.udp_bind(0).value();
  TimePoint answered = kTimeNever;
  a->on_receive([&](const sim::Datagram& d) { answered = d.at; });
  ASSERT_TRUE(a->send_to({*IpAddress::parse("198.51.100.30"), 9000}, bytes("ping")));
  run_for(seconds(1));
  EXPECT_THAT(srv, natsim::testing::Delivered(1));
  // Uplink and the server's link, 5 ms each, both ways.
  EXPECT_EQ(answered, at(milliseconds(20)));
}

TEST_F(VirtualStackTest, TcpThroughTheNat) {
  scenarios::World& w = two_hosts();
  sim::VirtualStack alice(w.host("alice"));
  sim::VirtualStack server(w.server_host("server"));
  sim::TcpListener* l = server.tcp_listen(8080).value();
  std::string at_server;
  l->on_accept([&](sim::TcpSocket* s) {
    s->on_receive([&, s](ByteView b) {
      at_server.append(b.begin(), b.end());
      (void)s->send(b);  // echo
    });
  });
  sim::TcpSocket* c = alice.tcp_connect({*IpAddress::parse("198.51.100.30"), 8080}).value();
  TimePoint connected = kTimeNever, echoed = kTimeNever;
  c->on_connect([&](Result<void> r) {
    ASSERT_TRUE(r);
    connected = alice.now();
    (void)c->send(bytes("hello"));
  });
  c->on_receive([&](ByteView) { echoed = alice.now(); });
  run_for(seconds(1));
  EXPECT_EQ(at_server, "hello");
  // SYN and SYN-ACK: one 20 ms round trip; the data and its echo: another.
  EXPECT_EQ(connected, at(milliseconds(20)));
  EXPECT_EQ(echoed, at(milliseconds(40)));
  c->close();
  l->close();
}

}  // namespace
