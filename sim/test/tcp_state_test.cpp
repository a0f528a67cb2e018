// The TCP machine alone, state by state (RFC 9293 §3.3.2 and §3.10), with hand-made
// segments and exact virtual times.
#include <gtest/gtest.h>

#include "tcp_world.hpp"

namespace natsim::sim {
namespace {

using namespace testing;
using namespace tcp_flags;

constexpr std::uint32_t kIss = 1000;
constexpr std::uint32_t kPeer = 5000;
const TimePoint t0 = kTimeZero;

// A machine in ESTABLISHED after an active open: ISS 1000, peer ISS 5000.
Machine established(TcpConfig config = {}) {
  Machine m(config);
  m.conn.open_active(t0, kIss);
  (void)m.drain(t0);
  m.feed(t0 + milliseconds(10), seg(kPeer, kIss + 1, syn | ack, 65535, 1460));
  (void)m.drain(t0 + milliseconds(10));
  (void)m.events();
  return m;
}

TEST(TcpState, ActiveOpenSendsSynWithMssThenEstablishes) {
  Machine m;
  m.conn.open_active(t0, kIss);
  EXPECT_EQ(m.conn.state(), TcpConnState::syn_sent);
  auto out = m.drain(t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, syn);
  EXPECT_EQ(out[0].h.seq, kIss);
  EXPECT_EQ(out[0].h.mss, 1460);
  EXPECT_EQ(m.conn.poll_timeout(), t0 + seconds(1));  // RFC 6298 §2.1
  m.feed(t0 + milliseconds(40), seg(kPeer, kIss + 1, syn | ack, 65535, 1200));
  EXPECT_EQ(m.conn.state(), TcpConnState::established);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::connected});
  out = m.drain(t0 + milliseconds(40));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, ack);
  EXPECT_EQ(out[0].h.seq, kIss + 1);
  EXPECT_EQ(out[0].h.ack, kPeer + 1);
  EXPECT_EQ(m.conn.mss(), 1200u);  // the smaller of the two MSS options
  // RFC 6298 §2.2: first sample R = 40 ms, RTO = R + 4 * R/2, held at the 1 s minimum.
  EXPECT_EQ(m.conn.rtt().srtt(), milliseconds(40));
  EXPECT_EQ(m.conn.rto(), seconds(1));
  EXPECT_EQ(m.conn.poll_timeout(), std::nullopt);
}

TEST(TcpState, PassiveOpenAnswersSynAckAndEstablishesOnAck) {
  Machine m;
  m.conn.open_passive(t0, kIss, seg(kPeer, 0, syn, 65535, 1460));
  EXPECT_EQ(m.conn.state(), TcpConnState::syn_received);
  auto out = m.drain(t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, syn | ack);
  EXPECT_EQ(out[0].h.ack, kPeer + 1);
  m.feed(t0 + milliseconds(5), seg(kPeer + 1, kIss + 1, ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::established);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::connected});
}

TEST(TcpState, SynReceivedAnswersABadAckWithRst) {
  Machine m;
  m.conn.open_passive(t0, kIss, seg(kPeer, 0, syn));
  (void)m.drain(t0);
  m.feed(t0, seg(kPeer + 1, kIss + 77, ack));
  auto out = m.drain(t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, rst);
  EXPECT_EQ(out[0].h.seq, kIss + 77);
  EXPECT_EQ(m.conn.state(), TcpConnState::syn_received);
}

TEST(TcpState, SimultaneousOpenGoesThroughSynReceived) {
  Machine a;
  Machine b;
  a.conn.open_active(t0, kIss);
  b.conn.open_active(t0, kPeer);
  auto syn_a = a.drain(t0);
  auto syn_b = b.drain(t0);
  a.feed(t0, syn_b[0].h);
  b.feed(t0, syn_a[0].h);
  EXPECT_EQ(a.conn.state(), TcpConnState::syn_received);
  EXPECT_EQ(b.conn.state(), TcpConnState::syn_received);
  auto synack_a = a.drain(t0);
  auto synack_b = b.drain(t0);
  ASSERT_EQ(synack_a.size(), 1u);
  EXPECT_EQ(synack_a[0].h.flags, syn | ack);
  EXPECT_EQ(synack_a[0].h.seq, kIss);
  EXPECT_EQ(synack_a[0].h.ack, kPeer + 1);
  // Each SYN-ACK falls outside the other's window: it is answered with an ACK, and the
  // ACKs complete the handshake (RFC 9293 §3.5, figure 8).
  a.feed(t0, synack_b[0].h);
  b.feed(t0, synack_a[0].h);
  auto ack_a = a.drain(t0);
  auto ack_b = b.drain(t0);
  ASSERT_EQ(ack_a.size(), 1u);
  EXPECT_EQ(ack_a[0].h.flags, ack);
  a.feed(t0, ack_b[0].h);
  b.feed(t0, ack_a[0].h);
  EXPECT_EQ(a.conn.state(), TcpConnState::established);
  EXPECT_EQ(b.conn.state(), TcpConnState::established);
}

TEST(TcpState, RstWithAcceptableAckRefusesTheConnection) {
  Machine m;
  m.conn.open_active(t0, kIss);
  (void)m.drain(t0);
  m.feed(t0, seg(0, kIss + 2, rst | ack));  // unacceptable ACK: ignored
  EXPECT_EQ(m.conn.state(), TcpConnState::syn_sent);
  m.feed(t0, seg(0, kIss + 1, rst | ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::closed);
  EXPECT_EQ(m.conn.error(), TcpErrc::connection_refused);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::failed});
}

TEST(TcpState, SynSentAnswersAnUnacceptableAckWithRst) {
  Machine m;
  m.conn.open_active(t0, kIss);
  (void)m.drain(t0);
  m.feed(t0, seg(kPeer, kIss + 9, ack));
  auto out = m.drain(t0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, rst);
  EXPECT_EQ(out[0].h.seq, kIss + 9);
}

TEST(TcpState, RstInWindowButNotExactGetsAChallengeAck) {
  Machine m = established();
  m.feed(t0 + seconds(1), seg(kPeer + 100, 0, rst));
  EXPECT_EQ(m.conn.state(), TcpConnState::established);
  auto out = m.drain(t0 + seconds(1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, ack);
  EXPECT_EQ(out[0].h.ack, kPeer + 1);
  m.feed(t0 + seconds(1), seg(kPeer + 1, 0, rst));
  EXPECT_EQ(m.conn.state(), TcpConnState::closed);
  EXPECT_EQ(m.conn.error(), TcpErrc::reset);
}

TEST(TcpState, SynInEstablishedGetsAChallengeAck) {
  Machine m = established();
  m.feed(t0 + seconds(1), seg(kPeer + 1, 0, syn));
  EXPECT_EQ(m.conn.state(), TcpConnState::established);
  auto out = m.drain(t0 + seconds(1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, ack);
}

TEST(TcpState, ActiveCloseFinWait1ToFinWait2ToTimeWaitToClosed) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  m.conn.close(t);
  EXPECT_EQ(m.conn.state(), TcpConnState::fin_wait_1);
  auto out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, fin | ack);
  EXPECT_EQ(out[0].h.seq, kIss + 1);
  m.feed(t, seg(kPeer + 1, kIss + 2, ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::fin_wait_2);
  m.feed(t, seg(kPeer + 1, kIss + 2, fin | ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::time_wait);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::peer_closed});
  EXPECT_EQ(m.conn.poll_timeout(), t + seconds(60));
  // A retransmitted FIN is acknowledged again and restarts the 2 MSL timer.
  (void)m.drain(t);
  m.feed(t + seconds(10), seg(kPeer + 1, kIss + 2, fin | ack));
  ASSERT_EQ(m.drain(t + seconds(10)).size(), 1u);
  EXPECT_EQ(m.conn.poll_timeout(), t + seconds(70));
  m.conn.handle_timeout(t + seconds(70));
  EXPECT_EQ(m.conn.state(), TcpConnState::closed);
  EXPECT_EQ(m.events(), std::vector{TcpEventKind::closed});
}

TEST(TcpState, PassiveCloseCloseWaitToLastAckToClosed) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  m.feed(t, seg(kPeer + 1, kIss + 1, fin | ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::close_wait);
  auto out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.ack, kPeer + 2);
  m.conn.close(t);
  EXPECT_EQ(m.conn.state(), TcpConnState::last_ack);
  out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, fin | ack);
  m.feed(t, seg(kPeer + 2, kIss + 2, ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::closed);
}

TEST(TcpState, SimultaneousCloseGoesThroughClosing) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  m.conn.close(t);
  (void)m.drain(t);
  m.feed(t, seg(kPeer + 1, kIss + 1, fin | ack));  // their FIN, not yet acking ours
  EXPECT_EQ(m.conn.state(), TcpConnState::closing);
  m.feed(t, seg(kPeer + 2, kIss + 2, ack));
  EXPECT_EQ(m.conn.state(), TcpConnState::time_wait);
}

TEST(TcpState, AbortSendsRstAndCloses) {
  Machine m = established();
  m.conn.abort();
  EXPECT_EQ(m.conn.state(), TcpConnState::closed);
  auto out = m.drain(t0 + seconds(1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.flags, rst);
  EXPECT_EQ(out[0].h.seq, kIss + 1);
}

TEST(TcpState, ResetForNoConnectionFollowsRfc9293) {
  auto r = tcp_reset_for(seg(77, 0, syn), 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, rst | ack);
  EXPECT_EQ(r->seq, 0u);
  EXPECT_EQ(r->ack, 78u);
  r = tcp_reset_for(seg(77, 99, ack), 10);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, rst);
  EXPECT_EQ(r->seq, 99u);
  EXPECT_FALSE(tcp_reset_for(seg(1, 2, rst | ack), 0));
}

TEST(TcpState, OutOfOrderAndDuplicateSegmentsAreReassembled) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  const std::uint32_t base = kPeer + 1;
  m.feed(t, seg(base + 5, kIss + 1, ack), "fghij");  // ahead of a gap
  auto out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.ack, base);  // a duplicate ACK at once (RFC 5681 §4.2)
  EXPECT_EQ(m.conn.stats().out_of_order, 1u);
  EXPECT_EQ(m.read(), "");
  m.feed(t, seg(base, kIss + 1, ack), "abcde");
  EXPECT_EQ(m.read(), "abcdefghij");
  m.feed(t, seg(base + 3, kIss + 1, ack), "defgh");  // old: trimmed away, ACKed
  out = m.drain(t);
  EXPECT_EQ(out.back().h.ack, base + 10);
  m.feed(t, seg(base + 8, kIss + 1, ack), "ijklm");  // overlaps: only "klm" is new
  EXPECT_EQ(m.read(), "klm");
}

TEST(TcpState, FinAheadOfAGapWaitsForTheGap) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  m.feed(t, seg(kPeer + 4, kIss + 1, fin | ack), "def");
  EXPECT_EQ(m.conn.state(), TcpConnState::established);
  m.feed(t, seg(kPeer + 1, kIss + 1, ack), "abc");
  EXPECT_EQ(m.conn.state(), TcpConnState::close_wait);
  EXPECT_EQ(m.read(), "abcdef");
}

TEST(TcpState, SegmentsOutsideTheWindowAreAckedAndDropped) {
  Machine m = established();
  const TimePoint t = t0 + seconds(1);
  m.feed(t, seg(kPeer + 1 + 70000, kIss + 1, ack), "x");
  auto out = m.drain(t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].h.ack, kPeer + 1);
  EXPECT_EQ(m.conn.stats().dropped, 1u);
  m.feed(t, seg(kPeer + 1, kIss + 500, ack));  // acknowledges what was never sent
  EXPECT_EQ(m.drain(t).size(), 1u);
  EXPECT_EQ(m.conn.stats().dropped, 2u);
}

}  // namespace
}  // namespace natsim::sim
