// traversal::pump drains a machine until it is quiet: what an event handler sends leaves
// in the same pump, before the deadline is read.
#include <gtest/gtest.h>

#include <array>
#include <deque>
#include <functional>

#include "natsim/traversal/machine.hpp"

namespace natsim::traversal {
namespace {

// Every datagram in becomes an event; echo() queues a datagram out (as an application
// does from its event handler).
struct EchoMachine {
  bool handle_datagram(TimePoint, const Endpoint&, const Endpoint& remote, ByteView bytes) {
    events.push_back(remote);
    (void)bytes;
    return true;
  }
  void handle_timeout(TimePoint) {}
  std::optional<Transmit> poll_transmit(MutableByteView out) { return queue.pop(out); }
  std::optional<TimePoint> poll_timeout() const {
    if (queue.empty()) return deadline;
    return std::nullopt;  // a machine only knows its deadline once it has sent
  }
  std::optional<Endpoint> poll_event() {
    if (events.empty()) return std::nullopt;
    Endpoint e = events.front();
    events.pop_front();
    return e;
  }
  void echo(const Endpoint& to) {
    const std::uint8_t byte = 1;
    queue.push(Endpoint{}, to, ByteView(&byte, 1));
  }

  TransmitQueue queue;
  std::deque<Endpoint> events;
  std::optional<TimePoint> deadline = TimePoint{} + seconds(240);
};
static_assert(ProtocolMachine<EchoMachine>);

TEST(Pump, WhatAnEventHandlerSendsLeavesInTheSamePump) {
  EchoMachine m;
  std::array<std::uint8_t, 64> buffer{};
  const Endpoint peer{*IpAddress::parse("192.0.2.1"), 1000};
  const std::uint8_t byte = 0;
  (void)m.handle_datagram(TimePoint{}, Endpoint{}, peer, ByteView(&byte, 1));
  std::vector<Endpoint> sent;
  int events = 0;
  const auto deadline = pump(
      m, buffer, [&](const Transmit& t, ByteView) { sent.push_back(t.remote); },
      [&](const Endpoint& from) {
        ++events;
        m.echo(from);
      });
  EXPECT_EQ(events, 1);
  ASSERT_EQ(sent.size(), 1u);  // the echo, not at the next timer (240 s later)
  EXPECT_EQ(sent[0], peer);
  EXPECT_EQ(deadline, TimePoint{} + seconds(240));  // read once quiet
}

TEST(Pump, AHandlerThatPumpsAgainIsDrainedOnce) {
  EchoMachine m;
  std::array<std::uint8_t, 64> buffer{};
  const Endpoint peer{*IpAddress::parse("192.0.2.1"), 1000};
  m.events.push_back(peer);
  m.events.push_back(peer);
  int sent = 0;
  std::function<void()> drive;
  drive = [&] {
    (void)pump(
        m, buffer, [&](const Transmit&, ByteView) { ++sent; },
        [&](const Endpoint& from) {
          m.echo(from);
          drive();  // a driver's pump() called from its own event handler
        });
  };
  drive();
  EXPECT_EQ(sent, 2);
  EXPECT_TRUE(m.queue.empty());
  EXPECT_TRUE(m.events.empty());
}

}  // namespace
}  // namespace natsim::traversal
