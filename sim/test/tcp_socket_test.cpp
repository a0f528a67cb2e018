// TCP sockets on simulated hosts: handshake, transfer and close in virtual time.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/pcap.hpp"
#include "tcp_world.hpp"

namespace natsim::sim {
namespace {

using namespace testing;

LinkParams ten_ms() {
  LinkParams p;
  p.latency = milliseconds(10);
  return p;
}

TEST(TcpSocket, HandshakeTakesOneRoundTripAndDataFlowsBothWays) {
  TcpPair w(ten_ms());
  w.connect();
  w.net.run_for(seconds(1));
  ASSERT_TRUE(w.connect_result.has_value());
  EXPECT_TRUE(*w.connect_result);
  EXPECT_EQ(w.connected_at, at(milliseconds(20)));  // SYN out, SYN-ACK back
  EXPECT_EQ(w.accepted_at, at(milliseconds(30)));   // the ACK arrives
  ASSERT_NE(w.server, nullptr);
  EXPECT_EQ(w.client->state(), TcpConnState::established);
  EXPECT_EQ(w.server->state(), TcpConnState::established);
  ASSERT_TRUE(w.client->send(bytes("hello")));
  ASSERT_TRUE(w.server->send(bytes("world")));
  w.net.run_for(seconds(1));
  EXPECT_EQ(w.received, "hello");
  EXPECT_EQ(w.client_received, "world");
  EXPECT_EQ(w.client->connection().mss(), 1460u);
}

TEST(TcpSocket, GracefulCloseBothWaysEndsInTimeWait) {
  TcpPair w(ten_ms());
  w.connect();
  w.net.run_for(seconds(1));
  const TimePoint t0 = w.net.now();
  (void)w.client->send(bytes("bye"));
  TcpSocket* client = w.client;
  client->close();
  EXPECT_EQ(client->state(), TcpConnState::fin_wait_1);
  w.net.run_for(milliseconds(15));
  EXPECT_EQ(w.server->state(), TcpConnState::close_wait);
  EXPECT_EQ(w.server_closed_at, t0 + milliseconds(10));
  EXPECT_EQ(w.received, "bye");
  w.server->close();
  EXPECT_EQ(w.server->state(), TcpConnState::last_ack);
  w.net.run_for(milliseconds(20));
  EXPECT_EQ(w.b.tcp_connections(), 0u);  // LAST-ACK -> CLOSED on the ACK of its FIN
  EXPECT_EQ(w.a.tcp_connections(), 1u);  // TIME-WAIT
  w.net.run_for(seconds(60));
  EXPECT_EQ(w.a.tcp_connections(), 0u);
}

TEST(TcpSocket, ClosedPortAnswersWithRstAndConnectIsRefused) {
  TcpPair w(ten_ms());
  TcpSocket* s = w.a.tcp_connect(ep("10.0.0.2:81")).value();
  std::optional<Result<void>> result;
  TimePoint when{};
  s->on_connect([&](Result<void> r) {
    result = r;
    when = w.net.now();
  });
  w.net.run_for(seconds(1));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->error(), make_error_code(TcpErrc::connection_refused));
  EXPECT_EQ(when, at(milliseconds(20)));
  EXPECT_EQ(w.b.tcp_resets_sent(), 1u);
  EXPECT_EQ(w.b.counters().drops(DropReason::port_unreachable), 1u);
}

TEST(TcpSocket, SilentDropKnobMakesConnectTimeOut) {
  TcpPair w(ten_ms());
  w.b.set_tcp_reset_closed_ports(false);
  TcpSocket* s = w.a.tcp_connect(ep("10.0.0.2:81")).value();
  std::optional<Result<void>> result;
  TimePoint when{};
  s->on_connect([&](Result<void> r) {
    result = r;
    when = w.net.now();
  });
  w.net.run_for(minutes(5));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->error(), make_error_code(TcpErrc::timed_out));
  // SYNs at 0, 1, 3, 7, 15, 31 and 63 s (the RTO doubles from 1 s), then one more RTO,
  // 64 s clamped to the 60 s maximum (RFC 6298 §2.5): connect fails at 123 s.
  EXPECT_EQ(when, at(seconds(123)));
  EXPECT_EQ(s->stats().retransmits, 6u);
  EXPECT_EQ(w.b.tcp_resets_sent(), 0u);
}

TEST(TcpSocket, CaptureHasValidChecksumsAndTheMssOption) {
  TcpPair w(ten_ms());
  const char* dir = std::getenv("NATSIM_TEST_TMP");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/natsim_tcp_test.pcap";
  PcapWriter pcap;
  ASSERT_TRUE(pcap.open(path));
  w.link.capture(&pcap);
  w.connect();
  w.net.run_for(seconds(1));
  (void)w.client->send(bytes("captured"));
  w.net.run_for(seconds(1));
  w.client->close();
  w.net.run_for(seconds(1));
  w.server->close();
  w.net.run_for(seconds(1));
  pcap.close();
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> image{std::istreambuf_iterator<char>(in),
                                        std::istreambuf_iterator<char>()};
  auto file = parse_pcap(image);
  ASSERT_TRUE(file);
  // SYN, SYN-ACK, ACK, data, its ACK, FIN, ACK, FIN, ACK.
  ASSERT_EQ(file->records.size(), 9u);
  std::string flags;
  for (const PcapRecord& r : file->records) {
    auto ip = parse_ip_packet(r.data);  // checks the IP and TCP checksums
    ASSERT_TRUE(ip);
    ASSERT_EQ(ip->proto, IpProto::tcp);
    flags += (ip->tcp.flags & tcp_flags::syn) != 0 ? 'S' : '-';
    flags += (ip->tcp.flags & tcp_flags::fin) != 0 ? 'F' : '-';
  }
  EXPECT_EQ(flags, "S-S--------F---F--");
  auto syn = parse_ip_packet(file->records[0].data);
  EXPECT_EQ(syn->tcp.mss, 1460);
  EXPECT_EQ(file->records[0].data.size(), 44u);  // 20 IP + 20 TCP + 4 MSS option
  EXPECT_EQ(file->records[3].t_ns, 1'000'000'000);
}

}  // namespace
}  // namespace natsim::sim
