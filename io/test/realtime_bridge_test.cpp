// The real-time driver and the TUN port, without root: a SOCK_SEQPACKET socket pair
// stands in for the TUN device (both keep packet boundaries). Virtual times are asserted
// exactly; wall-clock bounds are loose, for loaded machines. Every run has a deadline.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "natsim/io/realtime_driver.hpp"
#include "natsim/io/tun_port.hpp"
#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::io {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// Runs handlers until `done()` or 5 s of wall time.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = Steady::now() + 5s;
  while (!done() && Steady::now() < deadline)
    io.run_one_for(50ms);
  return done();
}

TEST(RealtimeDriver, EventsRunWhenDueInVirtualAndWallTime) {
  boost::asio::io_context io;
  sim::Simulator sim;
  std::vector<TimePoint> ran;
  Steady::time_point wall_ran{};
  (void)sim.schedule_at(TimePoint{30ms}, [&] {
    ran.push_back(sim.now());
    wall_ran = Steady::now();
    // An event scheduling another: the timer is re-armed for it.
    (void)sim.schedule_in(20ms, [&] { ran.push_back(sim.now()); });
  });
  RealtimeDriver driver(io, sim);
  const auto start = Steady::now();
  driver.start();
  ASSERT_TRUE(run_until(io, [&] { return ran.size() == 2; }));
  EXPECT_EQ(ran[0], TimePoint{30ms});
  EXPECT_EQ(ran[1], TimePoint{50ms});
  EXPECT_GE(wall_ran - start, 30ms);
  EXPECT_LT(wall_ran - start, 30ms + 500ms);
  EXPECT_GE(driver.wakeups(), 2u);
  // Nothing left: the driver holds no timer, so run() returns.
  io.run();
  EXPECT_GE(sim.now(), TimePoint{50ms});
}

TEST(RealtimeDriver, InjectRunsAtTheWallClocksVirtualTime) {
  boost::asio::io_context io;
  sim::Simulator sim;
  RealtimeDriver driver(io, sim);
  driver.start();
  TimePoint injected = kTimeNever;
  TimePoint followed = kTimeNever;
  boost::asio::steady_timer outside(io);
  outside.expires_after(25ms);
  outside.async_wait([&](const boost::system::error_code&) {
    driver.inject([&] {
      injected = sim.now();
      (void)sim.schedule_in(10ms, [&] { followed = sim.now(); });
    });
  });
  ASSERT_TRUE(run_until(io, [&] { return followed != kTimeNever; }));
  EXPECT_GE(injected, TimePoint{25ms});
  EXPECT_LT(injected, TimePoint{25ms + 500ms});
  // What the input scheduled ran exactly its delay later, in virtual time.
  EXPECT_EQ(followed, injected + 10ms);
}

// Two hosts on a link with 20 ms of latency; `a` is attached to a packet socket pair.
struct TunWorld {
  sim::Network net{7};
  sim::Host& a = net.add_host("a");
  sim::Host& b = net.add_host("b");
  boost::asio::io_context io;
  RealtimeDriver driver{io, net.sim()};
  int peer = -1;  // the "kernel" side of the pair
  std::unique_ptr<TunPort> port;
  std::vector<TimePoint> echoed_at;

  TunWorld() {
    sim::LinkParams link;
    link.latency = 20ms;
    auto c = net.connect(a, b, link);
    a.add_address(c.a_iface, "10.0.0.1/24");
    b.add_address(c.b_iface, "10.0.0.2/24");
    sim::UdpSocket* echo = b.udp_bind(7).value();
    echo->on_receive([this, echo](const sim::Datagram& d) {
      echoed_at.push_back(d.at);
      (void)echo->send_to(d.from, d.payload);
    });
    std::array<int, 2> fds{};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds.data()), 0);
    peer = fds[1];
    port = std::make_unique<TunPort>(io, fds[0], a, driver);
    driver.start();
    port->start();
  }
  ~TunWorld() {
    port.reset();
    ::close(peer);
  }

  // What the kernel would write: an IP packet with valid checksums.
  void kernel_sends(const char* from, const char* to, std::string_view text,
                    sim::IpProto proto = sim::IpProto::udp) {
    sim::PacketPtr p = net.packets().acquire();
    p->src = *Endpoint::parse(from);
    p->dst = *Endpoint::parse(to);
    p->proto = proto;
    p->assign(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    std::vector<std::uint8_t> wire(p->wire_size());
    sim::encode_ip_packet(*p, wire);
    ASSERT_EQ(::write(peer, wire.data(), wire.size()), static_cast<ssize_t>(wire.size()));
  }
};

TEST(TunPort, UdpRoundTripThroughTheWorldWithValidChecksums) {
  TunWorld w;
  w.kernel_sends("10.0.0.1:5000", "10.0.0.2:7", "hello");
  std::array<std::uint8_t, 2048> buf{};
  ssize_t n = -1;
  TimePoint read_at = kTimeNever;
  boost::asio::posix::stream_descriptor kernel(w.io, ::dup(w.peer));
  kernel.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [&](const boost::system::error_code& ec) {
                      if (ec) return;
                      n = ::read(w.peer, buf.data(), buf.size());
                      read_at = w.driver.virtual_now();
                    });
  ASSERT_TRUE(run_until(w.io, [&] { return n >= 0; }));
  ASSERT_EQ(w.echoed_at.size(), 1u);
  // Into the world at the wall clock's virtual time; 20 ms each way, exactly.
  EXPECT_GE(read_at, w.echoed_at[0] + 20ms);
  EXPECT_EQ(w.port->counters().from_tun, 1u);
  EXPECT_EQ(w.port->counters().to_tun, 1u);
  // The kernel checks both checksums: parse_ip_packet does too.
  auto parsed = sim::parse_ip_packet(ByteView(buf.data(), static_cast<std::size_t>(n)));
  ASSERT_TRUE(parsed) << sim::to_string(parsed.error());
  EXPECT_EQ(parsed->src, *Endpoint::parse("10.0.0.2:7"));
  EXPECT_EQ(parsed->dst, *Endpoint::parse("10.0.0.1:5000"));
  EXPECT_EQ(std::string(parsed->payload.begin(), parsed->payload.end()), "hello");
  EXPECT_EQ(w.a.counters().delivered, 1u);  // counted as in simulation
  EXPECT_EQ(w.a.counters().sent, 1u);
}

TEST(TunPort, DropsAndCountsWhatItCannotCarry) {
  TunWorld w;
  // Garbage, an ICMP echo request, and a packet from an address `a` does not own.
  const std::array<std::uint8_t, 5> garbage{0x45, 1, 2, 3, 4};
  w.port->handle_packet(garbage);
  std::array<std::uint8_t, 28> icmp{0x45, 0, 0,  28, 0, 0, 0x40, 0, 64, 1,
                                    0,    0, 10, 0,  0, 1, 10,   0, 0,  2};
  const std::uint16_t sum = sim::checksum_finish(sim::checksum_add(0, ByteView(icmp).first(20)));
  icmp[10] = static_cast<std::uint8_t>(sum >> 8);
  icmp[11] = static_cast<std::uint8_t>(sum);
  w.port->handle_packet(icmp);
  w.kernel_sends("10.0.0.9:5000", "10.0.0.2:7", "spoofed");
  ASSERT_TRUE(run_until(w.io, [&] { return w.port->counters().foreign_source == 1; }));
  EXPECT_EQ(w.port->counters().malformed, 1u);
  EXPECT_EQ(w.port->counters().unsupported, 1u);
  EXPECT_EQ(w.port->counters().from_tun, 0u);
  EXPECT_TRUE(w.echoed_at.empty());
}

}  // namespace
}  // namespace natsim::io
