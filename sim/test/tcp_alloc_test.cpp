// A warm TCP transfer allocates nothing per segment: the packet pool, the event slots,
// the connection's rings and its timer are all reused.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tcp_world.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

// Counts every allocation in this test binary (the other tests do not look).
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace natsim::sim {
namespace {

using namespace testing;

TEST(TcpAllocation, AWarmTransferAllocatesNothingPerSegment) {
  LinkParams p;
  p.latency = milliseconds(5);
  p.bandwidth_bps = 100'000'000;
  TcpPair w(p);
  w.connect();
  std::vector<std::uint8_t> chunk(64 * 1024, 0x42);
  std::size_t received = 0;
  w.net.run_for(seconds(1));
  ASSERT_NE(w.server, nullptr);
  w.server->on_receive([&](ByteView v) { received += v.size(); });
  auto pump = [&](Duration d) {
    const TimePoint end = w.net.now() + d;
    while (w.net.now() < end) {
      while (w.client->send(ByteView(chunk)).value() != 0) {
      }
      w.net.run_for(milliseconds(10));
    }
  };
  pump(seconds(4));  // warm up: pool, event slots, hash tables reach their size
  const std::uint64_t before = g_allocations.load();
  const std::uint64_t segments_before = w.client->stats().segments_sent;
  const std::size_t received_before = received;
  pump(seconds(8));
  const std::uint64_t segments = w.client->stats().segments_sent - segments_before;
  EXPECT_GT(received - received_before, 50'000'000u);
  EXPECT_GT(segments, 30'000u);
  // What remains is the event queue's vectors growing now and then as virtual time
  // crosses into higher bits (amortised, not per segment): under one per 1,000.
  EXPECT_LT(g_allocations.load() - before, segments / 1000);
}

}  // namespace
}  // namespace natsim::sim
