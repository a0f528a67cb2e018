// The STUN transaction layer every client machine uses: the RFC 8489 §6.2.1 timeline,
// §6.2.2 over TCP, matching, and transaction IDs that depend only on the seed.
#include "natsim/traversal/stun_transactions.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::stun {
namespace {

const Endpoint kLocal{*IpAddress::parse("10.0.0.2"), 5000};
const Endpoint kServer{*IpAddress::parse("192.0.2.10"), 3478};

std::vector<Duration> send_times(Transport transport) {
  TransactionTable<int> table;
  TransmitQueue out;
  std::array<std::uint8_t, 64> buffer{};
  const std::uint8_t request[4] = {1, 2, 3, 4};
  const TimePoint start{};
  (void)table.start(start, TransactionId{}, kLocal, kServer, transport, ByteView(request, 4), 7,
                    out);
  std::vector<Duration> sent;
  TimePoint now = start;
  for (;;) {
    while (out.pop(buffer))
      sent.push_back(now - start);
    const auto deadline = table.next_deadline();
    if (!deadline) break;
    now = *deadline;
    table.retransmit_due(now, out);
    if (auto done = table.pop_expired(now)) {
      EXPECT_EQ(done->context, 7);
      sent.push_back(now - start);  // the give-up instant, last
    }
  }
  return sent;
}

TEST(StunTransactions, UdpTimelineIsRfc8489Section621) {
  // RFC 8489 §6.2.1: with RTO 500 ms, requests at 0, 500, 1500, 3500, 7500, 15500 and
  // 31500 ms; the client gives up 16 × 500 ms after the last, at 39500 ms.
  const std::vector<Duration> expected = {
      milliseconds(0),    milliseconds(500),   milliseconds(1500),  milliseconds(3500),
      milliseconds(7500), milliseconds(15500), milliseconds(31500), milliseconds(39500)};
  EXPECT_EQ(send_times(Transport::udp), expected);
}

TEST(StunTransactions, TcpSendsOnceAndGivesUpAfterTi) {
  const std::vector<Duration> expected = {milliseconds(0), milliseconds(39500)};
  EXPECT_EQ(send_times(Transport::tcp), expected);
}

TEST(StunTransactions, TakeRemovesOnlyTheMatchedTransaction) {
  TransactionTable<std::string> table;
  TransmitQueue out;
  Rng rng(1);
  const auto a = random_transaction_id(rng);
  const auto b = random_transaction_id(rng);
  ASSERT_NE(a, b);
  (void)table.start(TimePoint{}, a, kLocal, kServer, Transport::udp, {}, "a", out);
  (void)table.start(TimePoint{}, b, kLocal, kServer, Transport::udp, {}, "b", out);
  EXPECT_FALSE(table.take(TransactionId{}));
  auto taken = table.take(b);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->context, "b");
  EXPECT_TRUE(table.contains(a));
  EXPECT_FALSE(table.contains(b));
  EXPECT_EQ(table.counters().requests, 2u);
}

TEST(StunTransactions, IdsAreTheSeedsBytesOnEveryCpu) {
  // Pinned: the ID is the stream's first two words, most significant byte first, so a
  // big-endian machine puts the same bytes on the wire.
  Rng rng(42);
  const std::uint64_t w0 = rng();
  const std::uint64_t w1 = rng();
  Rng again(42);
  const TransactionId id = random_transaction_id(again);
  for (std::size_t i = 0; i < 8; ++i)
    EXPECT_EQ(id[i], static_cast<std::uint8_t>(w0 >> (56 - 8 * i)));
  for (std::size_t i = 8; i < 12; ++i)
    EXPECT_EQ(id[i], static_cast<std::uint8_t>(w1 >> (56 - 8 * (i - 8))));
  EXPECT_EQ(w0, 0x15780b2e0c2ec716ull) << std::hex << w0;  // xoshiro256** seeded by splitmix64(42)
}

TEST(StunClient, ARequestTooLargeToEncodeIsAnErrorNotACrash) {
  StunClient client(1);
  RequestOptions o;
  o.username = std::string(70'000, 'u');  // more than a STUN message can carry
  (void)client.send_binding(TimePoint{}, kLocal, kServer, o);
  std::array<std::uint8_t, 1500> buffer{};
  EXPECT_FALSE(client.poll_transmit(buffer));
  const auto r = client.poll_event();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, BindingResult::Outcome::error);
  EXPECT_FALSE(r->error_code);
  EXPECT_EQ(r->transmissions, 0);
  EXPECT_EQ(client.counters().unsendable, 1u);
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(StunClient, SaysWhetherADatagramWasItsOwn) {
  StunClient client(1);
  const auto id = client.send_binding(TimePoint{}, kLocal, kServer);
  std::array<std::uint8_t, 256> buffer{};
  Writer w(buffer, method::binding, Class::success, id);
  w.add_xor_address(attr::xor_mapped_address, Endpoint{*IpAddress::parse("203.0.113.5"), 4000});
  const auto response = *w.finish();
  std::array<std::uint8_t, 64> other_buffer{};
  Writer other(other_buffer, method::binding, Class::success, TransactionId{});
  const auto stranger = *other.finish();
  const std::uint8_t junk[3] = {0xff, 0, 1};
  EXPECT_FALSE(client.handle_datagram(TimePoint{}, kLocal, kServer, ByteView(junk, 3)));
  EXPECT_FALSE(client.handle_datagram(TimePoint{}, kLocal, kServer, stranger));
  EXPECT_TRUE(client.handle_datagram(TimePoint{} + milliseconds(30), kLocal, kServer, response));
  const auto r = client.poll_event();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rtt, milliseconds(30));
  EXPECT_EQ(r->mapped->port, 4000);
}

}  // namespace
}  // namespace natsim::traversal::stun
