#include "natsim/sim/simulator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace natsim::sim {
namespace {

// A simulator destroyed with events pending leaves its queue storage to the next one on the
// thread: the pending closures must be destroyed with it, and the next simulator must hand
// out the same handles and run the same order as the one before it.
TEST(Simulator, QueueStorageLeftToTheNextSimulatorStartsClean) {
  auto token = std::make_shared<int>(0);
  {
    Simulator sim;
    for (int i = 0; i < 300; ++i)  // more than the first chunk of 256 slots
      (void)sim.schedule_at(at(milliseconds(1 + i % 7)), [token] { ++*token; });
    sim.run_until(at(milliseconds(3)));
    EXPECT_GT(*token, 0);
  }
  EXPECT_EQ(token.use_count(), 1);  // every pending closure destroyed with its simulator

  auto run_once = [] {
    Simulator sim;
    EXPECT_EQ(sim.pending(), 0u);
    EXPECT_FALSE(sim.step());
    std::vector<TimerId> ids;
    std::string order;
    for (int i = 0; i < 20; ++i) {
      const char c = static_cast<char>('a' + i);
      ids.push_back(
          sim.schedule_at(at(milliseconds(20 - i % 5)), [&order, c] { order += c; }).value());
    }
    EXPECT_TRUE(sim.cancel(ids[3]));
    sim.run();
    EXPECT_EQ(sim.now(), at(milliseconds(20)));
    return std::pair(ids, order);
  };
  const auto first = run_once();
  const auto second = run_once();
  EXPECT_EQ(first.first, second.first);
  EXPECT_EQ(first.second, second.second);
  EXPECT_EQ(first.second.size(), 19u);
}

TEST(Simulator, RunsEventsInTimeOrderAndTiesInSchedulingOrder) {
  Simulator sim;
  std::string order;
  (void)sim.schedule_at(at(milliseconds(5)), [&] { order += 'c'; });
  (void)sim.schedule_at(at(milliseconds(1)), [&] { order += 'a'; });
  (void)sim.schedule_at(at(milliseconds(5)), [&] { order += 'd'; });
  (void)sim.schedule_at(at(milliseconds(1)), [&] { order += 'b'; });
  EXPECT_EQ(sim.run(), 4u);
  EXPECT_EQ(order, "abcd");
  EXPECT_EQ(sim.now(), at(milliseconds(5)));
}

TEST(Simulator, CancelledEventsNeverRun) {
  Simulator sim;
  int ran = 0;
  auto keep = sim.schedule_in(milliseconds(1), [&] { ran += 1; }).value();
  auto gone = sim.schedule_in(milliseconds(2), [&] { ran += 10; }).value();
  EXPECT_TRUE(sim.is_pending(gone));
  EXPECT_TRUE(sim.cancel(gone));
  EXPECT_FALSE(sim.cancel(gone));
  EXPECT_FALSE(sim.is_pending(gone));
  EXPECT_EQ(sim.pending(), 1u);
  sim.run();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(sim.cancel(keep));  // already ran
}

TEST(Simulator, StaleHandleDoesNotCancelReusedSlot) {
  Simulator sim;
  int ran = 0;
  auto first = sim.schedule_in(milliseconds(1), [] {}).value();
  sim.run();
  auto second = sim.schedule_in(milliseconds(1), [&] { ++ran; }).value();
  EXPECT_EQ(first.slot, second.slot);  // the slot was reused...
  EXPECT_FALSE(sim.cancel(first));     // ...but the old handle cannot touch it
  sim.run();
  EXPECT_EQ(ran, 1);
}

TEST(Simulator, PastTimesAreRejected) {
  Simulator sim;
  (void)sim.schedule_at(at(seconds(1)), [] {});
  sim.run();
  auto r = sim.schedule_at(at(milliseconds(999)), [] {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::time_in_past));
  EXPECT_FALSE(sim.schedule_in(-nanoseconds(1), [] {}));
  EXPECT_TRUE(sim.schedule_at(sim.now(), [] {}));  // "now" is not the past
}

TEST(Simulator, RunUntilStopsAtTheBoundaryAndAdvancesTime) {
  Simulator sim;
  std::vector<int> ran;
  for (int i = 1; i <= 5; ++i)
    (void)sim.schedule_at(at(milliseconds(i * 10)), [&, i] { ran.push_back(i); });
  EXPECT_EQ(sim.run_until(at(milliseconds(30))), 3u);  // the event at exactly 30ms runs
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(sim.now(), at(milliseconds(30)));
  sim.run_for(milliseconds(5));
  EXPECT_EQ(sim.now(), at(milliseconds(35)));
  EXPECT_EQ(ran.size(), 3u);
  EXPECT_EQ(sim.next_event_time(), at(milliseconds(40)));
  sim.run();
  EXPECT_EQ(ran.size(), 5u);
  EXPECT_EQ(sim.next_event_time(), kTimeNever);
}

TEST(Simulator, EventsCanScheduleMoreEventsAndStop) {
  Simulator sim;
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks == 3) sim.stop();
    (void)sim.schedule_in(milliseconds(1), [&] { tick(); });
  };
  (void)sim.schedule_in(milliseconds(1), [&] { tick(); });
  sim.run();
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(sim.pending(), 1u);
}

TEST(Simulator, ManyEventsComeOutSorted) {
  Simulator sim;
  std::vector<std::int64_t> seen;
  std::uint64_t x = 12345;
  for (int i = 0; i < 5000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const auto t = static_cast<std::int64_t>(x >> 40);
    (void)sim.schedule_at(TimePoint{Duration{t}}, [&, t] { seen.push_back(t); });
  }
  sim.run();
  ASSERT_EQ(seen.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST(InlineFunction, LargeCapturesStillWork) {
  Simulator sim;
  std::array<std::uint64_t, 32> big{};
  big[31] = 7;
  std::uint64_t got = 0;
  (void)sim.schedule_in(milliseconds(1), [big, &got] { got = big[31]; });
  sim.run();
  EXPECT_EQ(got, 7u);
}

}  // namespace
}  // namespace natsim::sim

namespace natsim::sim {
namespace {

TEST(Simulator, SchedulingBeforeAPeekedEventStillRunsInOrder) {
  Simulator sim;
  std::string order;
  (void)sim.schedule_at(at(seconds(10)), [&] { order += 'b'; });
  EXPECT_EQ(sim.next_event_time(), at(seconds(10)));  // looks ahead of now()
  (void)sim.schedule_at(at(seconds(1)), [&] { order += 'a'; });
  (void)sim.schedule_at(at(seconds(10)), [&] { order += 'c'; });
  sim.run();
  EXPECT_EQ(order, "abc");
}

TEST(Simulator, QueueDrainedThroughCancelledEventsAcceptsEarlierTimes) {
  Simulator sim;
  auto late = sim.schedule_at(at(seconds(50)), [] {}).value();
  sim.cancel(late);
  EXPECT_EQ(sim.run(), 0u);
  EXPECT_EQ(sim.now(), kTimeZero);
  int ran = 0;
  (void)sim.schedule_at(at(seconds(1)), [&] { ++ran; });
  sim.run();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(sim.now(), at(seconds(1)));
}

TEST(Simulator, RandomisedAgainstAReferenceOrder) {
  // Schedules, cancels and peeks at random; the run order must equal (time, seq) order.
  Simulator sim;
  std::uint64_t x = 99;
  auto rnd = [&x] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  std::vector<std::pair<std::int64_t, int>> expected;
  std::vector<std::pair<std::int64_t, int>> ran;
  std::vector<std::pair<TimerId, std::pair<std::int64_t, int>>> live;
  int next = 0;
  int cancelled = 0;
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 20; ++k) {
      const std::int64_t t = to_ns(sim.now()) + static_cast<std::int64_t>(rnd() % 1000);
      const int id = next++;
      auto timer = sim.post_at(TimePoint{Duration{t}}, [&ran, t, id] { ran.emplace_back(t, id); });
      live.push_back({timer, {t, id}});
    }
    if (rnd() % 3 == 0 && !live.empty()) {
      const std::size_t victim = rnd() % live.size();
      cancelled += sim.cancel(live[victim].first) ? 1 : 0;
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(victim));
    }
    if (rnd() % 4 == 0) (void)sim.next_event_time();
    sim.run_for(Duration{static_cast<std::int64_t>(rnd() % 700)});
    std::erase_if(live, [&](const auto& l) { return !sim.is_pending(l.first); });
  }
  sim.run();
  // Reference: everything not cancelled, sorted by time then id (id order = seq order).
  std::vector<std::pair<std::int64_t, int>> sorted = ran;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(ran, sorted);
  EXPECT_EQ(ran.size(), static_cast<std::size_t>(next - cancelled));
  EXPECT_GT(cancelled, 20);
}

}  // namespace
}  // namespace natsim::sim
