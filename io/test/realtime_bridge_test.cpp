// The real-time driver and the TUN port, without root: a SOCK_SEQPACKET socket pair
// stands in for the TUN device (both keep packet boundaries). Virtual times are asserted
// exactly; wall-clock bounds are loose, for loaded machines. Every run has a deadline.
#include <fcntl.h>
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
                    sim::IpProto proto = sim::IpProto::udp, sim::IcmpHeader icmp = {}) {
    write_to_port(wire(from, to, text, proto, icmp));
  }
  std::vector<std::uint8_t> wire(const char* from, const char* to, std::string_view text,
                                 sim::IpProto proto = sim::IpProto::udp,
                                 sim::IcmpHeader icmp = {}) {
    sim::PacketPtr p = net.packets().acquire();
    p->src = *Endpoint::parse(from);
    p->dst = *Endpoint::parse(to);
    p->proto = proto;
    p->icmp = icmp;
    p->assign(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    std::vector<std::uint8_t> out(p->wire_size());
    sim::encode_ip_packet(*p, out);
    return out;
  }
  void write_to_port(const std::vector<std::uint8_t>& bytes) {
    ASSERT_EQ(::write(peer, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // Reads one packet the port wrote to the "kernel", noting the virtual time.
  std::vector<std::uint8_t> kernel_reads(TimePoint& at) {
    std::vector<std::uint8_t> buf(70000);
    ssize_t n = -1;
    boost::asio::posix::stream_descriptor kernel(io, ::dup(peer));
    kernel.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [&](const boost::system::error_code& ec) {
                        if (ec) return;
                        n = ::read(peer, buf.data(), buf.size());
                        at = driver.virtual_now();
                      });
    if (!run_until(io, [&] { return n >= 0; })) return {};
    buf.resize(static_cast<std::size_t>(n));
    return buf;
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
  // Garbage, ICMP echo request and reply, an IPv4 fragment, an IPv6 datagram larger than
  // the simulator's largest, and a packet from an address `a` does not own.
  const std::array<std::uint8_t, 5> garbage{0x45, 1, 2, 3, 4};
  w.port->handle_packet(garbage);
  w.port->handle_packet(
      w.wire("10.0.0.1:0", "10.0.0.2:0", "ping", sim::IpProto::icmp, sim::IcmpHeader{8, 0}));
  w.port->handle_packet(w.wire("10.0.0.1:0", "10.0.0.2:0", "pong", sim::IpProto::icmp));
  // RFC 791 §3.1: MF set, offset 0 (the first fragment: a whole UDP header inside).
  std::vector<std::uint8_t> fragment = w.wire("10.0.0.1:5000", "10.0.0.2:7", "frag");
  fragment[6] = 0x20;
  fragment[7] = 0;
  fragment[10] = fragment[11] = 0;
  const std::uint16_t ip_sum =
      sim::checksum_finish(sim::checksum_add(0, ByteView(fragment).first(20)));
  fragment[10] = static_cast<std::uint8_t>(ip_sum >> 8);
  fragment[11] = static_cast<std::uint8_t>(ip_sum);
  w.port->handle_packet(fragment);
  {
    // IPv6, UDP payload 65527 bytes (RFC 8200 allows it; the simulator holds 65507).
    std::vector<std::uint8_t> big(sim::kIpv6HeaderSize + 65535, 0);
    big[0] = 0x60;
    big[4] = big[5] = 0xff;  // payload length 65535
    big[6] = 17;
    big[7] = 64;
    big[8] = 0xfd;
    big[23] = 1;  // fd00::1 to fd00::2
    big[24] = 0xfd;
    big[39] = 2;
    std::uint8_t* udp = big.data() + sim::kIpv6HeaderSize;
    udp[0] = 0x13;  // ports 5000 and 7
    udp[1] = 0x88;
    udp[3] = 7;
    udp[4] = udp[5] = 0xff;
    std::uint32_t sum = sim::checksum_add(0, ByteView(big).subspan(8, 32));
    sum += 17 + 0xffff;
    sum = sim::checksum_add(sum, ByteView(udp, 65535));
    const std::uint16_t c = sim::checksum_finish(sum);
    udp[6] = static_cast<std::uint8_t>(c >> 8);
    udp[7] = static_cast<std::uint8_t>(c);
    ASSERT_TRUE(sim::parse_ip_packet(big));
    w.port->handle_packet(big);  // used to trip Packet::resize's assert
  }
  w.kernel_sends("10.0.0.9:5000", "10.0.0.2:7", "spoofed");
  ASSERT_TRUE(run_until(w.io, [&] { return w.port->counters().foreign_source == 1; }));
  EXPECT_EQ(w.port->counters().malformed, 2u);    // garbage, oversize
  EXPECT_EQ(w.port->counters().unsupported, 3u);  // echo request and reply, fragment
  EXPECT_EQ(w.port->counters().from_tun, 0u);
  EXPECT_TRUE(w.echoed_at.empty());
}

// The namespace's port-unreachable enters the world as that, with its quote: the socket
// on `b` that sent the refused datagram sees the error 20 ms later.
TEST(TunPort, IcmpUnreachableFromTheKernelKeepsTypeCodeAndQuote) {
  TunWorld w;
  sim::UdpSocket* s = w.b.udp_bind(9000).value();
  std::vector<sim::SocketError> errors;
  s->on_error([&](const sim::SocketError& e) { errors.push_back(e); });
  // What b's datagram looked like on arrival; the kernel quotes its header and 8 bytes.
  std::vector<std::uint8_t> refused = w.wire("10.0.0.2:9000", "10.0.0.1:4000", "x");
  refused.resize(sim::kIpv4HeaderSize + 8);
  w.kernel_sends("10.0.0.1:0", "10.0.0.2:0",
                 std::string_view(reinterpret_cast<const char*>(refused.data()), refused.size()),
                 sim::IpProto::icmp, sim::IcmpHeader{3, 3});
  ASSERT_TRUE(run_until(w.io, [&] { return !errors.empty(); }));
  EXPECT_EQ(w.port->counters().from_tun, 1u);
  EXPECT_EQ(errors[0].type, 3);
  EXPECT_EQ(errors[0].code, 3);
  EXPECT_EQ(errors[0].remote, *Endpoint::parse("10.0.0.1:4000"));
  EXPECT_EQ(errors[0].reporter, *IpAddress::parse("10.0.0.1"));
  EXPECT_GE(errors[0].at, TimePoint{20ms});
}

// The other way: a closed port in the world answers the namespace's datagram with an
// ICMP error the kernel accepts (checksums valid, its own datagram quoted), so the
// namespace's socket gets ECONNREFUSED; 20 ms each way.
TEST(TunPort, IcmpUnreachableFromTheWorldIsWrittenToTheDevice) {
  TunWorld w;
  w.b.set_icmp_port_unreachable(true);
  w.kernel_sends("10.0.0.1:5000", "10.0.0.2:9", "nobody");
  TimePoint at = kTimeNever;
  const std::vector<std::uint8_t> bytes = w.kernel_reads(at);
  ASSERT_FALSE(bytes.empty());
  auto parsed = sim::parse_ip_packet(bytes);
  ASSERT_TRUE(parsed) << sim::to_string(parsed.error());
  EXPECT_EQ(parsed->proto, sim::IpProto::icmp);
  EXPECT_EQ(parsed->icmp.type, 3);
  EXPECT_EQ(parsed->icmp.code, 3);
  EXPECT_EQ(parsed->src.address, *IpAddress::parse("10.0.0.2"));
  EXPECT_EQ(parsed->dst.address, *IpAddress::parse("10.0.0.1"));
  auto q = sim::parse_icmp_quote(parsed->payload);
  ASSERT_TRUE(q) << sim::to_string(q.error());
  EXPECT_EQ(q->src, *Endpoint::parse("10.0.0.1:5000"));
  EXPECT_EQ(q->dst, *Endpoint::parse("10.0.0.2:9"));
  EXPECT_EQ(w.b.icmp_errors_sent(), 1u);
  EXPECT_EQ(w.port->counters().to_tun, 1u);
  EXPECT_GE(at, TimePoint{40ms});
}

// The device going away (its namespace deleted) ends reading: no spinning on an
// error epoll keeps reporting.
TEST(TunPort, ClosesItselfWhenTheDeviceIsGone) {
  TunWorld w;
  ::close(w.peer);
  w.peer = ::open("/dev/null", O_RDONLY);  // for the destructor
  ASSERT_TRUE(run_until(w.io, [&] { return w.port->counters().read_failed == 1; }));
  // Nothing is left waiting on the descriptor: the loop runs out of work.
  w.driver.stop();
  const auto start = Steady::now();
  w.io.run_for(200ms);
  EXPECT_LT(Steady::now() - start, 200ms);
  EXPECT_EQ(w.port->counters().from_tun, 0u);
}

}  // namespace
}  // namespace natsim::io
