// TCP moving data: the retransmission timeline (RFC 6298), fast retransmit (RFC 5681),
// flow control, and bulk transfers over lossy links with every byte in order.
#include <gtest/gtest.h>

#include "tcp_world.hpp"

namespace natsim::sim {
namespace {

using namespace testing;
using namespace tcp_flags;

constexpr std::uint32_t kIss = 1000;
constexpr std::uint32_t kPeer = 5000;

Machine established(TcpConfig config = {}) {
  Machine m(config);
  m.conn.open_active(kTimeZero, kIss);
  (void)m.drain(kTimeZero);
  m.feed(kTimeZero, seg(kPeer, kIss + 1, syn | ack, 65535, 1460));
  (void)m.drain(kTimeZero);
  (void)m.events();
  return m;
}

TEST(TcpRetransmission, RtoDoublesAndTheConnectionTimesOutAtTheDocumentedTime) {
  TcpConfig c;
  c.data_retries = 4;
  Machine m = established(c);
  const TimePoint t = kTimeZero + seconds(10);
  ASSERT_EQ(m.conn.send(bytes("payload")), 7u);
  ASSERT_EQ(m.drain(t).size(), 1u);
  std::vector<Duration> sent_at;
  for (int i = 0; i < 10; ++i) {
    auto due = m.conn.poll_timeout();
    if (!due) break;
    m.conn.handle_timeout(*due);
    auto out = m.drain(*due);
    if (m.conn.state() == TcpConnState::closed) {
      sent_at.push_back(*due - t);  // the failure
      break;
    }
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].payload, "payload");
    EXPECT_EQ(out[0].h.seq, kIss + 1);
    sent_at.push_back(*due - t);
  }
  // Retransmissions 1, 3, 7, 15 s after the first send; it fails 16 s later (31 s).
  EXPECT_EQ(sent_at,
            (std::vector<Duration>{seconds(1), seconds(3), seconds(7), seconds(15), seconds(31)}));
  EXPECT_EQ(m.conn.error(), TcpErrc::timed_out);
  EXPECT_EQ(m.conn.stats().retransmits, 4u);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::failed});
}

TEST(TcpRetransmission, SynRetransmissionsDoubleFromOneSecond) {
  Machine m;
  m.conn.open_active(kTimeZero, kIss);
  (void)m.drain(kTimeZero);
  std::vector<Duration> syns;
  while (auto due = m.conn.poll_timeout()) {
    m.conn.handle_timeout(*due);
    if (m.conn.state() == TcpConnState::closed) break;
    auto out = m.drain(*due);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].h.flags, syn);
    syns.push_back(*due - kTimeZero);
  }
  EXPECT_EQ(syns, (std::vector<Duration>{seconds(1), seconds(3), seconds(7), seconds(15),
                                         seconds(31), seconds(63)}));
  EXPECT_EQ(m.conn.error(), TcpErrc::timed_out);
}

TEST(TcpRetransmission, KarnIgnoresRetransmittedSegmentsAndAnAckRearmsTheTimer) {
  Machine m = established();  // the handshake gave a first sample of 0 ns
  const Duration srtt = m.conn.rtt().srtt();
  const TimePoint t = kTimeZero + seconds(10);
  (void)m.conn.send(bytes("abc"));
  (void)m.drain(t);
  m.conn.handle_timeout(t + seconds(1));
  (void)m.drain(t + seconds(1));
  EXPECT_EQ(m.conn.rto(), seconds(2));
  // The ACK of the retransmission gives no RTT sample (it is ambiguous), and the
  // backed-off RTO stays until a fresh segment is timed.
  m.feed(t + seconds(1) + milliseconds(50), seg(kPeer + 1, kIss + 4, ack));
  EXPECT_EQ(m.conn.rtt().srtt(), srtt);
  EXPECT_EQ(m.conn.poll_timeout(), std::nullopt);  // everything acknowledged (§5.2)
  (void)m.conn.send(bytes("def"));
  const TimePoint t2 = t + seconds(5);
  (void)m.drain(t2);
  EXPECT_EQ(m.conn.poll_timeout(), t2 + seconds(2));
  m.feed(t2 + milliseconds(100), seg(kPeer + 1, kIss + 7, ack));
  EXPECT_EQ(m.conn.rtt().srtt(), srtt + (milliseconds(100) - srtt) / 8);  // §2.3
  EXPECT_EQ(m.conn.rto(), seconds(1));  // raised to the 1 s minimum (§2.4)
}

TEST(TcpRetransmission, ThreeDuplicateAcksTriggerFastRetransmit) {
  Machine m = established();
  const TimePoint t = kTimeZero + seconds(10);
  std::string data(1460 * 3, 'x');
  ASSERT_EQ(m.conn.send(bytes(data)), data.size());
  auto out = m.drain(t);
  ASSERT_EQ(out.size(), 3u);  // the initial window: 3 segments of 1460 (RFC 5681 §3.1)
  m.feed(t, seg(kPeer + 1, kIss + 1, ack));
  m.feed(t, seg(kPeer + 1, kIss + 1, ack));
  EXPECT_TRUE(m.drain(t).empty());
  m.feed(t, seg(kPeer + 1, kIss + 1, ack));
  out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.seq, kIss + 1);
  EXPECT_EQ(out[0].payload.size(), 1460u);
  EXPECT_EQ(m.conn.stats().fast_retransmits, 1u);
  // ssthresh = max(FlightSize / 2, 2 SMSS) = 2920 (RFC 5681 equation 4), cwnd =
  // ssthresh + 3 SMSS.
  EXPECT_EQ(m.conn.cwnd(), 2920u + 3 * 1460u);
}

TEST(TcpFlowControl, AZeroWindowIsProbedAndReopens) {
  TcpConfig small;
  small.receive_buffer = 4000;
  LinkParams p;
  p.latency = milliseconds(10);
  TcpPair w(p, 1, small);
  w.connect();
  w.net.run_for(seconds(1));
  ASSERT_NE(w.server, nullptr);
  w.server->pause_receive(true);
  std::string data(10000, 'z');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(w.client->send(bytes(data)).value(), data.size());
  w.net.run_for(seconds(10));
  EXPECT_EQ(w.received, "");
  EXPECT_EQ(w.client->connection().unacked(), data.size() - 4000);  // the window filled
  w.server->pause_receive(false);  // the window update lets the rest flow
  w.net.run_for(seconds(30));
  EXPECT_EQ(w.received, data);
}

struct Bulk {
  Bulk(const LinkParams& p, std::uint64_t seed, std::size_t total) : w(p, seed), data(total) {
    for (std::size_t i = 0; i < total; ++i)
      data[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    w.connect();
    w.client->on_writable([this] { push(); });
    w.client->on_connect([this](Result<void>) { push(); });
  }
  void push() {
    while (offset < data.size()) {
      auto n = w.client->send(ByteView(data.data() + offset, data.size() - offset));
      if (!n || *n == 0) return;
      offset += *n;
    }
  }
  TimePoint run() {
    while (w.received.size() < data.size() && w.net.now() < kTimeZero + minutes(10))
      w.net.run_for(milliseconds(100));
    return w.net.now();
  }
  [[nodiscard]] bool intact() const {
    return w.received.size() == data.size() &&
           std::equal(data.begin(), data.end(), w.received.begin(),
                      [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); });
  }
  TcpPair w;
  std::vector<std::uint8_t> data;
  std::size_t offset = 0;
};

TEST(TcpTransfer, OneMegabyteOverALossyLinkArrivesWholeAndInOrder) {
  LinkParams p;
  p.latency = milliseconds(25);
  p.bandwidth_bps = 10'000'000;
  p.loss = 0.01;
  Bulk b(p, 7, 1'000'000);
  const TimePoint done = b.run();
  ASSERT_TRUE(b.intact());
  EXPECT_GT(b.w.client->stats().retransmits, 0u);
  // At least the serialisation time (0.83 s of payload at 10 Mbps), and far from the
  // 10-minute cap.
  EXPECT_GT(done, kTimeZero + milliseconds(800));
  EXPECT_LT(done, kTimeZero + seconds(30));
  // The same seed replays the same run.
  Bulk again(p, 7, 1'000'000);
  EXPECT_EQ(again.run(), done);
  EXPECT_EQ(again.w.net.trace().digest(), b.w.net.trace().digest());
}

TEST(TcpTransfer, TenMegabytesOverALossyLinkComeWithinAQuarterOfMathis) {
  // 10 Mbps, 50 ms RTT, 1% loss each way (the reference transfer).
  LinkParams p;
  p.latency = milliseconds(25);
  p.bandwidth_bps = 10'000'000;
  p.loss = 0.01;
  Bulk b(p, 1, 10'000'000);
  const TimePoint done = b.run();
  ASSERT_TRUE(b.intact());
  const double goodput = 10'000'000 * 8 / to_seconds(done - kTimeZero);
  // Mathis et al.: MSS / RTT x sqrt(3/2) / sqrt(p) = 2.86 Mbps for NewReno.
  const double mathis = 1460 * 8 / 0.050 * 1.2247449 / 0.1;
  EXPECT_GT(goodput, 0.75 * mathis);
  EXPECT_LT(goodput, 1.25 * mathis);
}

TEST(TcpTransfer, ReorderingDuplicatingLinkStillDeliversInOrder) {
  LinkParams p;
  p.latency = milliseconds(5);
  p.jitter = milliseconds(5);
  p.reorder = true;
  p.duplicate = 0.05;
  p.loss = 0.02;
  Bulk b(p, 3, 300'000);
  b.run();
  EXPECT_TRUE(b.intact());
  EXPECT_GT(b.w.server->stats().out_of_order, 0u);
}

}  // namespace
}  // namespace natsim::sim
