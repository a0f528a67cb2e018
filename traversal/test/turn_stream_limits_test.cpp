// TURN over TCP against hostile clients: a connection that never allocates is closed a
// fixed time after it opened (however it trickles bytes), and a frame larger than the
// configured limit closes the connection instead of buffering.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "natsim/traversal/turn_server.hpp"
#include "turn_server_harness.hpp"

namespace natsim::traversal::turn {
namespace {

using test::Harness;
using test::kClient;
using test::kListen;
namespace attr = stun::attr;
namespace method = stun::method;
using stun::Class;
using stun::Message;

struct Written {
  std::vector<std::vector<std::uint8_t>> frames;  // bytes written on the connection
  bool closed = false;
};

Written drain(TurnServer& server) {
  Written w;
  std::array<std::uint8_t, 4096> buf{};
  while (auto t = server.poll_transmit(buf)) {
    EXPECT_EQ(t->transport, Transport::tcp);
    EXPECT_EQ(t->remote, kClient);
    if (t->close) w.closed = true;
    if (t->size > 0)
      w.frames.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(t->size));
  }
  return w;
}

// Feeds `bytes` on the connection, then lets the server's timers run up to `h.now`.
Written stream(Harness& h, ByteView bytes) {
  h.server.handle_stream(h.now, kListen, kClient, bytes);
  return drain(h.server);
}

std::vector<std::uint8_t> allocate_request(Harness& h, bool authenticated) {
  return h.build(
      method::allocate,
      [](stun::Writer& w) { w.add_u32(attr::requested_transport, kTransportUdp << 24); },
      authenticated ? "alice" : "");
}

TEST(TurnStreamLimits, SlowlorisConnectionIsClosedThirtySecondsAfterOpening) {
  Harness h;
  const TimePoint opened = h.now;
  h.server.handle_stream_opened(opened, kListen, kClient);
  EXPECT_EQ(h.server.stream_count(), 1u);
  EXPECT_EQ(h.server.poll_timeout(), opened + seconds(30));
  // One byte a second of a request that never completes: the deadline does not move.
  const auto request = allocate_request(h, false);
  for (int i = 0; i < 29; ++i) {
    h.now = opened + seconds(i);
    EXPECT_FALSE(stream(h, ByteView(&request[static_cast<std::size_t>(i)], 1)).closed);
  }
  EXPECT_EQ(h.server.poll_timeout(), opened + seconds(30));
  h.server.handle_timeout(opened + seconds(30) - nanoseconds(1));
  EXPECT_FALSE(drain(h.server).closed);
  h.server.handle_timeout(opened + seconds(30));
  EXPECT_TRUE(drain(h.server).closed);
  EXPECT_EQ(h.server.counters().streams_setup_timeout, 1u);
  EXPECT_EQ(h.server.stream_count(), 0u);
  EXPECT_EQ(h.server.poll_timeout(), std::nullopt);
}

TEST(TurnStreamLimits, ChattyConnectionWithoutAnAllocationIsClosedToo) {
  // Complete requests (Binding, a 401 challenge) are answered, but they are not set-up.
  ServerConfig c = test::config();
  c.unallocated_stream_timeout = seconds(5);
  Harness h(c);
  h.server.handle_stream_opened(h.now, kListen, kClient);
  const TimePoint opened = h.now;
  for (int i = 0; i < 4; ++i) {
    h.now = opened + seconds(i);
    auto out = stream(h, allocate_request(h, false));
    ASSERT_EQ(out.frames.size(), 1u);
    EXPECT_EQ(Message::parse(out.frames[0])->error_code()->code, 401);
  }
  h.server.handle_timeout(opened + seconds(5));
  EXPECT_TRUE(drain(h.server).closed);
  EXPECT_EQ(h.server.counters().streams_setup_timeout, 1u);
}

TEST(TurnStreamLimits, ConnectionThatAllocatesIsKept) {
  Harness h;
  const TimePoint opened = h.now;
  h.server.handle_stream_opened(opened, kListen, kClient);
  ASSERT_TRUE(h.answer(stream(h, allocate_request(h, false)).frames));  // the nonce
  h.now = opened + seconds(29);
  auto ok = h.answer(stream(h, allocate_request(h, true)).frames);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->cls(), Class::success);
  h.server.handle_timeout(opened + seconds(31));
  EXPECT_FALSE(drain(h.server).closed);
  EXPECT_EQ(h.server.allocation_count(), 1u);
  EXPECT_EQ(h.server.counters().streams_setup_timeout, 0u);
  // Its next deadline is the allocation's (10 minutes from the Allocate), not the setup's.
  EXPECT_EQ(h.server.poll_timeout(), opened + seconds(29) + minutes(10));
}

TEST(TurnStreamLimits, DriversThatDoNotReportTheOpenGetTheTimeoutFromTheFirstBytes) {
  Harness h;
  const TimePoint first = h.now;
  const auto request = allocate_request(h, false);
  EXPECT_FALSE(stream(h, ByteView(request.data(), 3)).closed);
  h.server.handle_timeout(first + seconds(30));
  EXPECT_TRUE(drain(h.server).closed);
}

TEST(TurnStreamLimits, OversizedFrameClosesTheConnection) {
  ServerConfig c = test::config();
  c.max_stream_frame = 1024;
  Harness h(c);
  h.server.handle_stream_opened(h.now, kListen, kClient);
  // A ChannelData header announcing 2000 bytes: buffering stops at the limit.
  std::vector<std::uint8_t> frame = {0x40, 0x00, 0x07, 0xd0};
  frame.resize(4 + 1000, 0xab);
  EXPECT_FALSE(stream(h, frame).closed);
  EXPECT_TRUE(stream(h, std::vector<std::uint8_t>(100, 0xab)).closed);
  EXPECT_EQ(h.server.counters().streams_oversized, 1u);
  EXPECT_EQ(h.server.stream_count(), 0u);
}

TEST(TurnStreamLimits, FramesWithinTheLimitPass) {
  ServerConfig c = test::config();
  c.max_stream_frame = 1024;
  Harness h(c);
  // A Binding request padded to exactly the limit is answered.
  auto binding = h.build(
      method::binding,
      [](stun::Writer& w) {
        w.add(attr::software, std::vector<std::uint8_t>(1024 - 20 - 4 - 8, 'x'));
      },
      "");
  ASSERT_EQ(binding.size(), 1024u);
  auto out = stream(h, binding);
  EXPECT_FALSE(out.closed);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(Message::parse(out.frames[0])->cls(), Class::success);
}

}  // namespace
}  // namespace natsim::traversal::turn
