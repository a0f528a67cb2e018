#include "natsim/sim/link.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_world.hpp"

namespace natsim::sim {
namespace {

using testing::bytes;
using testing::ep;
using testing::ip;
using testing::Pair;

// 100-byte payload: 128 bytes on an IPv4 wire.
const std::string kPayload(100, 'x');

TEST(Link, DeliveryTimeIsSerialisationPlusLatency) {
  LinkParams lp;
  lp.latency = milliseconds(10);
  lp.bandwidth_bps = 1'000'000;  // 128 bytes = 1024 bits = 1.024 ms
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind(5000).value();
  (void)s->send_to(ep("10.0.0.2:9"), bytes(kPayload));
  (void)s->send_to(ep("10.0.0.2:9"), bytes(kPayload));  // queued behind the first
  w.net.run();
  ASSERT_EQ(w.arrivals.size(), 2u);
  EXPECT_EQ(w.arrivals[0], at(microseconds(11'024)));
  EXPECT_EQ(w.arrivals[1], at(microseconds(12'048)));
  EXPECT_EQ(w.link.counters().delivered, 2u);
  EXPECT_EQ(w.link.counters().bytes_delivered, 256u);
}

TEST(Link, UnlimitedBandwidthAddsOnlyLatency) {
  LinkParams lp;
  lp.latency = microseconds(250);
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  for (int i = 0; i < 3; ++i)
    (void)s->send_to(ep("10.0.0.2:9"), bytes(kPayload));
  w.net.run();
  ASSERT_EQ(w.arrivals.size(), 3u);
  for (auto t : w.arrivals)
    EXPECT_EQ(t, at(microseconds(250)));
}

TEST(Link, DropTailQueueOverflows) {
  LinkParams lp;
  lp.bandwidth_bps = 1'000'000;
  lp.queue_bytes = 128 * 4;  // room for four packets (one in service + three waiting)
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  for (int i = 0; i < 10; ++i)
    (void)s->send_to(ep("10.0.0.2:9"), bytes(kPayload));
  w.net.run();
  EXPECT_EQ(w.arrivals.size(), 4u);
  EXPECT_EQ(w.link.counters().drops(DropReason::queue_full), 6u);
  EXPECT_EQ(w.net.counters().drops(DropReason::queue_full), 6u);
  // Once the queue drains there is room again.
  (void)s->send_to(ep("10.0.0.2:9"), bytes(kPayload));
  w.net.run();
  EXPECT_EQ(w.arrivals.size(), 5u);
}

TEST(Link, RandomLossRateMatchesWithinStatisticalBounds) {
  LinkParams lp;
  lp.loss = 0.1;
  Pair w(lp, /*seed=*/2024);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i)
    (void)s->send_to(ep("10.0.0.2:9"), bytes("p"));
  w.net.run();
  const double lost = static_cast<double>(w.link.counters().drops(DropReason::random_loss));
  // Binomial(20000, 0.1): sigma = 42.4; allow 5 sigma.
  EXPECT_NEAR(lost, 2000.0, 5 * std::sqrt(kN * 0.1 * 0.9));
  EXPECT_EQ(w.arrivals.size() + static_cast<std::size_t>(lost), static_cast<std::size_t>(kN));
}

TEST(Link, GilbertElliottLosesInBursts) {
  LinkParams lp;
  lp.burst = GilbertElliott{
      .p_good_to_bad = 0.01, .p_bad_to_good = 0.25, .loss_good = 0.0, .loss_bad = 1.0};
  Pair w(lp, 7);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  constexpr int kN = 40000;
  for (int i = 0; i < kN; ++i) {
    const std::string seq = std::to_string(i);
    (void)s->send_to(ep("10.0.0.2:9"), bytes(seq));
  }
  w.net.run();
  // Recover loss runs from the gaps in the received sequence numbers.
  std::vector<int> runs;
  int expected = 0;
  for (const auto& p : w.payloads) {
    const int seq = std::stoi(p);
    if (seq > expected) runs.push_back(seq - expected);
    expected = seq + 1;
  }
  const double lost = static_cast<double>(kN - static_cast<int>(w.payloads.size()));
  EXPECT_EQ(w.link.counters().drops(DropReason::burst_loss), static_cast<std::uint64_t>(lost));
  // Stationary bad-state share p/(p+r) = 0.0385; mean burst length 1/r = 4.
  EXPECT_NEAR(lost / kN, 0.01 / 0.26, 0.01);
  const double mean_run = lost / static_cast<double>(runs.size());
  EXPECT_NEAR(mean_run, 4.0, 0.6);
  EXPECT_GT(*std::max_element(runs.begin(), runs.end()), 10);  // independent loss at 4% would not
}

TEST(Link, OversizedPacketsAreDroppedAndCounted) {
  LinkParams lp;
  lp.mtu = 1280;
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  EXPECT_TRUE(s->send_to(ep("10.0.0.2:9"), bytes(std::string(1252, 'a'))));  // 1280 on the wire
  EXPECT_TRUE(s->send_to(ep("10.0.0.2:9"), bytes(std::string(1253, 'a'))));  // 1281
  w.net.run();
  EXPECT_EQ(w.arrivals.size(), 1u);
  EXPECT_EQ(w.link.counters().drops(DropReason::mtu_exceeded), 1u);
}

TEST(Link, DownLinkDropsNewAndInFlightPackets) {
  LinkParams lp;
  lp.latency = milliseconds(10);
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  (void)s->send_to(ep("10.0.0.2:9"), bytes("in flight"));
  (void)w.a.schedule_in(milliseconds(5), [&] { w.link.set_up(false); });
  (void)w.a.schedule_in(milliseconds(6), [&] { (void)s->send_to(ep("10.0.0.2:9"), bytes("x")); });
  (void)w.a.schedule_in(milliseconds(7), [&] { w.link.set_up(true); });
  (void)w.a.schedule_in(milliseconds(8), [&] { (void)s->send_to(ep("10.0.0.2:9"), bytes("ok")); });
  w.net.run();
  EXPECT_EQ(w.payloads, std::vector<std::string>{"ok"});
  EXPECT_EQ(w.link.counters().drops(DropReason::link_down), 2u);
}

TEST(Link, JitterKeepsOrderUnlessReorderingIsAllowed) {
  for (bool reorder : {false, true}) {
    LinkParams lp;
    lp.latency = milliseconds(10);
    lp.jitter = milliseconds(10);
    lp.reorder = reorder;
    Pair w(lp, 99);
    w.listen();
    UdpSocket* s = w.a.udp_bind().value();
    for (int i = 0; i < 200; ++i) {
      (void)w.a.schedule_in(microseconds(100) * i, [&, i] {
        (void)s->send_to(ep("10.0.0.2:9"), bytes(std::to_string(i)));
      });
    }
    w.net.run();
    ASSERT_EQ(w.payloads.size(), 200u);
    bool in_order = true;
    for (std::size_t i = 0; i < w.payloads.size(); ++i)
      in_order &= std::stoi(w.payloads[i]) == static_cast<int>(i);
    EXPECT_EQ(in_order, !reorder) << "reorder=" << reorder;
    for (auto t : w.arrivals)
      EXPECT_GE(t, at(milliseconds(10)));
    EXPECT_LE(w.arrivals.back(), at(milliseconds(20) + microseconds(100) * 199));
  }
}

TEST(Link, DuplicationDeliversTwice) {
  LinkParams lp;
  lp.duplicate = 1.0;
  Pair w(lp);
  w.listen();
  UdpSocket* s = w.a.udp_bind().value();
  (void)s->send_to(ep("10.0.0.2:9"), bytes("twice"));
  w.net.run();
  EXPECT_EQ(w.payloads, (std::vector<std::string>{"twice", "twice"}));
}

TEST(Link, DirectionsHaveTheirOwnParameters) {
  Pair w;
  LinkParams up;
  up.latency = milliseconds(30);
  LinkParams down;
  down.latency = milliseconds(5);
  w.link.set_params_from(w.a, up);
  w.link.set_params_from(w.b, down);
  EXPECT_EQ(w.link.params_from(w.a).latency, milliseconds(30));
  UdpSocket* echo = w.b.udp_bind(7).value();
  echo->on_receive([echo](const Datagram& d) { (void)echo->send_to(d.from, d.payload); });
  UdpSocket* s = w.a.udp_bind().value();
  TimePoint back;
  s->on_receive([&](const Datagram& d) { back = d.at; });
  (void)s->send_to(ep("10.0.0.2:7"), bytes("ping"));
  w.net.run();
  EXPECT_EQ(back, at(milliseconds(35)));
}

TEST(Segment, DeliversByAddressAndFloodsMulticast) {
  Network net;
  Link& lan = net.add_segment("lan");
  Host& a = net.add_host("a");
  Host& b = net.add_host("b");
  Host& c = net.add_host("c");
  a.add_address(net.attach(a, lan), "192.168.1.10/24");
  b.add_address(net.attach(b, lan), "192.168.1.11/24");
  c.add_address(net.attach(c, lan), "192.168.1.12/24");
  std::vector<std::string> seen;
  for (Host* h : {&b, &c}) {
    UdpSocket* s = h->udp_bind(1900).value();
    s->on_receive([&seen, h](const Datagram& d) {
      seen.push_back(h->name() + ":" + std::string(d.payload.begin(), d.payload.end()));
    });
  }
  a.add_route(*Prefix::parse("239.0.0.0/8"), 0);
  UdpSocket* s = a.udp_bind().value();
  (void)s->send_to(ep("192.168.1.12:1900"), bytes("unicast"));
  (void)s->send_to(ep("239.255.255.250:1900"), bytes("ssdp"));
  (void)s->send_to(ep("192.168.1.99:1900"), bytes("nobody"));
  net.run();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"b:ssdp", "c:ssdp", "c:unicast"}));
  EXPECT_EQ(lan.counters().drops(DropReason::no_neighbor), 1u);
}

// A LAN of 40 hosts outgrows the few neighbours scanned in place: delivery by address must
// stay right across the change, and an address removed from a host is no longer delivered.
TEST(Segment, DeliversByAddressOnALargeLan) {
  Network net;
  LinkParams params;
  params.latency = milliseconds(1);
  Link& lan = net.add_segment("lan", params);
  std::vector<Host*> hosts;
  std::vector<std::uint64_t> got(40, 0);
  for (int i = 0; i < 40; ++i) {
    Host& h = net.add_host("h" + std::to_string(i));
    h.add_address(net.attach(h, lan), "10.0.0." + std::to_string(10 + i) + "/24");
    UdpSocket* s = h.udp_bind(5000).value();
    s->on_receive([&got, i](const Datagram&) { ++got[static_cast<std::size_t>(i)]; });
    hosts.push_back(&h);
  }
  UdpSocket* sender = hosts[0]->udp_bind().value();
  for (int i = 1; i < 40; ++i)
    (void)sender->send_to(ep(("10.0.0." + std::to_string(10 + i) + ":5000").c_str()), bytes("x"));
  net.run();
  for (int i = 1; i < 40; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)], 1u) << i;
  EXPECT_EQ(net.now(), kTimeZero + milliseconds(1));

  EXPECT_TRUE(hosts[25]->remove_address(0, ip("10.0.0.35")));
  (void)sender->send_to(ep("10.0.0.35:5000"), bytes("x"));
  (void)sender->send_to(ep("10.0.0.36:5000"), bytes("x"));
  net.run();
  EXPECT_EQ(got[25], 1u);
  EXPECT_EQ(got[26], 2u);
  EXPECT_EQ(lan.counters().drops(DropReason::no_neighbor), 1u);
}

}  // namespace
}  // namespace natsim::sim
