#include <gtest/gtest.h>

#include "natsim/sim/network.hpp"
#include "test_world.hpp"

namespace natsim::sim {
namespace {

using testing::ep;
using testing::ip;

struct Outcome {
  std::uint64_t digest;
  std::uint64_t delivered;
  std::uint64_t dropped;
};

// A busy little world: jitter, loss, burst loss, duplication, a queue, a router and
// several clients sending at staggered times.
Outcome run_world(std::uint64_t seed) {
  Network net(seed);
  Router& r = net.add_router("r");
  Host& server = net.add_host("server");
  LinkParams core;
  core.latency = milliseconds(5);
  core.jitter = milliseconds(3);
  core.loss = 0.05;
  core.bandwidth_bps = 2'000'000;
  core.queue_bytes = 4000;
  auto sc = net.connect(server, r, core);
  server.add_address(sc.a_iface, "10.9.0.2/30");
  r.add_address(sc.b_iface, "10.9.0.1/30");
  (void)server.set_default_route(ip("10.9.0.1"));
  UdpSocket* echo = server.udp_bind(3478).value();
  echo->on_receive([echo](const Datagram& d) { (void)echo->send_to(d.from, d.payload); });
  for (int i = 0; i < 5; ++i) {
    Host& h = net.add_host("h" + std::to_string(i));
    LinkParams access;
    access.latency = milliseconds(1 + i);
    access.burst = GilbertElliott{0.02, 0.3, 0.0, 0.8};
    access.duplicate = 0.01;
    auto c = net.connect(h, r, access);
    const std::string base = "10.0." + std::to_string(i) + ".";
    h.add_address(c.a_iface, base + "2/30");
    r.add_address(c.b_iface, base + "1/30");
    (void)h.set_default_route(ip((base + "1").c_str()));
    UdpSocket* s = h.udp_bind().value();
    s->on_receive([](const Datagram&) {});
    for (int k = 0; k < 200; ++k) {
      (void)h.schedule_in(milliseconds(2) * k + microseconds(137) * i, [s, k] {
        std::uint8_t payload[64];
        for (auto& b : payload)
          b = static_cast<std::uint8_t>(k);
        (void)s->send_to(ep("10.9.0.2:3478"), payload);
      });
    }
  }
  net.run();
  return {net.trace().digest(), net.counters().delivered, net.counters().total_drops()};
}

TEST(Determinism, SameSeedSameDigest) {
  const Outcome a = run_world(42);
  const Outcome b = run_world(42);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.delivered, b.delivered);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_GT(a.delivered, 1000u);
  EXPECT_GT(a.dropped, 10u);  // the world really is lossy
}

TEST(Determinism, DifferentSeedDifferentDigest) {
  EXPECT_NE(run_world(42).digest, run_world(43).digest);
}

TEST(Determinism, AddingAHostLeavesOtherRandomChoicesAlone) {
  // The loss pattern on a link depends only on the seed and the link's name.
  auto losses = [](bool extra_host) {
    Network net(5);
    Host& a = net.add_host("a");
    if (extra_host) net.add_host("unrelated");
    Host& b = net.add_host("b");
    LinkParams lp;
    lp.loss = 0.3;
    auto c = net.connect(a, b, lp, "ab");
    a.add_address(c.a_iface, "10.0.0.1/24");
    b.add_address(c.b_iface, "10.0.0.2/24");
    std::string pattern;
    UdpSocket* sink = b.udp_bind(9).value();
    sink->on_receive([&](const Datagram& d) { pattern += static_cast<char>(d.payload[0]); });
    UdpSocket* s = a.udp_bind().value();
    for (int i = 0; i < 64; ++i) {
      const std::uint8_t byte = static_cast<std::uint8_t>('0' + i % 64);
      (void)s->send_to(ep("10.0.0.2:9"), ByteView(&byte, 1));
    }
    net.run();
    return pattern;
  };
  EXPECT_EQ(losses(false), losses(true));
}

TEST(Determinism, TraceLogIsIdenticalAcrossRuns) {
  auto log_of = [](std::uint64_t seed) {
    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    {
      Network net(seed);
      net.trace().set_log(mem);
      Host& a = net.add_host("a");
      Host& b = net.add_host("b");
      LinkParams lp;
      lp.jitter = milliseconds(4);
      lp.loss = 0.2;
      auto c = net.connect(a, b, lp);
      a.add_address(c.a_iface, "10.0.0.1/24");
      b.add_address(c.b_iface, "10.0.0.2/24");
      UdpSocket* s = a.udp_bind(1000).value();
      for (int i = 0; i < 50; ++i)
        (void)s->send_to(ep("10.0.0.2:9"), testing::bytes("x"));
      (void)a.schedule_in(seconds(1), [] {});
      net.run();
      net.trace().close_log();
    }
    std::fclose(mem);
    std::string out(buf, len);
    std::free(buf);
    return out;
  };
  const std::string first = log_of(3);
  EXPECT_EQ(first, log_of(3));
  EXPECT_NE(first, log_of(4));
  EXPECT_NE(first.find(R"("ev":"drop")"), std::string::npos);
  EXPECT_NE(first.find(R"("reason":"port_unreachable")"), std::string::npos);
  EXPECT_NE(first.find(R"("ev":"timer","at":"a")"), std::string::npos);
}

}  // namespace
}  // namespace natsim::sim
