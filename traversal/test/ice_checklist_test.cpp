// The checklist (RFC 8445 §6.1.2): pair ordering and every state transition.
#include "natsim/traversal/ice_checklist.hpp"

#include <gtest/gtest.h>

namespace natsim::traversal::ice {
namespace {

Endpoint ep(std::uint8_t last, std::uint16_t port) {
  return Endpoint{IpAddress::v4(10, 0, 0, last), port};
}

const auto kAll = [](const CandidatePair&) { return true; };

struct Lists {
  std::vector<Candidate> local{
      make_candidate(CandidateType::host, ep(1, 5000), ep(1, 5000)),
      make_candidate(CandidateType::relay, ep(9, 49152), ep(9, 49152), IpAddress::v4(10, 0, 0, 9))};
  std::vector<Candidate> remote{
      make_candidate(CandidateType::host, ep(2, 6000), ep(2, 6000)),
      make_candidate(CandidateType::srflx, ep(3, 7000), ep(2, 6000), IpAddress::v4(10, 0, 0, 9)),
      make_candidate(CandidateType::host, ep(4, 6000), ep(4, 6000))};
  Checklist list;
  void pair_all(bool controlling = true) {
    for (std::size_t l = 0; l < local.size(); ++l)
      for (std::size_t r = 0; r < remote.size(); ++r)
        (void)list.add(l, local[l], r, remote[r], controlling);
  }
};

TEST(IceChecklist, PairsAreOrderedByPairPriority) {
  Lists s;
  s.pair_all();
  ASSERT_EQ(s.list.size(), 6u);
  const auto order = s.list.ordered();
  for (std::size_t i = 1; i < order.size(); ++i)
    EXPECT_GE(s.list[order[i - 1]].priority, s.list[order[i]].priority);
  // host-host first, relay-srflx last.
  EXPECT_EQ(s.list[order.front()].local, 0u);
  EXPECT_EQ(s.list[order.back()].local, 1u);
  EXPECT_EQ(s.list[order.back()].remote, 1u);
  EXPECT_EQ(s.list[order.front()].priority,
            pair_priority(s.local[0].priority, s.remote[0].priority));
  // The controlled agent computes the same value with the roles swapped.
  s.list.set_role(false);
  EXPECT_EQ(s.list[order.front()].priority,
            pair_priority(s.remote[0].priority, s.local[0].priority));
}

TEST(IceChecklist, RedundantPairsAndFamiliesAreNotAdded) {
  Lists s;
  s.pair_all();
  // The same base and remote address again: the pair that exists stands for it.
  EXPECT_EQ(s.list.add(0, s.local[0], 0, s.remote[0], true), std::optional<std::size_t>(0));
  EXPECT_EQ(s.list.size(), 6u);
  const Candidate v6 = make_candidate(CandidateType::host, *Endpoint::parse("[2001:db8::1]:5000"),
                                      *Endpoint::parse("[2001:db8::1]:5000"));
  EXPECT_FALSE(s.list.add(0, s.local[0], 3, v6, true));
  Checklist small(2);
  EXPECT_TRUE(small.add(0, s.local[0], 0, s.remote[0], true));
  EXPECT_TRUE(small.add(0, s.local[0], 1, s.remote[1], true));
  EXPECT_FALSE(small.add(0, s.local[0], 2, s.remote[2], true));  // §6.1.2.5 limit
}

TEST(IceChecklist, InitialUnfreezingWakesTheBestPairOfEachFoundation) {
  Lists s;
  s.pair_all();
  for (const auto& p : s.list.pairs())
    EXPECT_EQ(p.state, PairState::frozen);
  s.list.unfreeze_initial();
  // Remote hosts 10.0.0.2 and 10.0.0.4 have different foundations, so each local
  // candidate has three foundations: every pair is its foundation's only one.
  std::size_t waiting = 0;
  for (const auto& p : s.list.pairs())
    waiting += p.state == PairState::waiting ? 1 : 0;
  EXPECT_EQ(waiting, 6u);
  // Two pairs of one foundation: only the better one wakes.
  Checklist one;
  const Candidate h1 = make_candidate(CandidateType::host, ep(1, 5000), ep(1, 5000));
  const Candidate h2 = make_candidate(CandidateType::host, ep(1, 5001), ep(1, 5001), {}, 65000);
  const Candidate r = make_candidate(CandidateType::host, ep(2, 6000), ep(2, 6000));
  ASSERT_EQ(h1.foundation, h2.foundation);
  (void)one.add(0, h1, 0, r, true);
  (void)one.add(1, h2, 0, r, true);
  one.unfreeze_initial();
  EXPECT_EQ(one[0].state, PairState::waiting);
  EXPECT_EQ(one[1].state, PairState::frozen);
  // Waiting → In-Progress; Succeeded unfreezes the foundation's frozen pair.
  EXPECT_EQ(one.next(kAll), std::optional<std::size_t>(0));
  EXPECT_EQ(one[0].state, PairState::in_progress);
  one.succeed(0, 0);
  EXPECT_EQ(one[0].state, PairState::succeeded);
  EXPECT_EQ(one[0].valid_local, std::optional<std::size_t>(0));
  EXPECT_EQ(one[1].state, PairState::waiting);  // §7.2.5.3.3
  EXPECT_EQ(one.best_valid(), std::optional<std::size_t>(0));
  EXPECT_EQ(one.next(kAll), std::optional<std::size_t>(1));
  one.fail(1);
  EXPECT_EQ(one[1].state, PairState::failed);
  EXPECT_TRUE(one.finished());
  // Failed → Waiting through a triggered check (§7.3.1.4), then In-Progress.
  one.trigger(1);
  EXPECT_EQ(one[1].state, PairState::waiting);
  EXPECT_FALSE(one.finished());
  EXPECT_EQ(one.next(kAll), std::optional<std::size_t>(1));
  EXPECT_EQ(one[1].state, PairState::in_progress);
  // A succeeded pair is never triggered again.
  one.trigger(0);
  EXPECT_EQ(one[0].state, PairState::succeeded);
  EXPECT_EQ(one.triggered(), 0u);
}

TEST(IceChecklist, TriggeredChecksGoFirstAndFrozenPairsWakeWhenNothingWaits) {
  Checklist list;
  const Candidate h1 = make_candidate(CandidateType::host, ep(1, 5000), ep(1, 5000));
  const Candidate h2 = make_candidate(CandidateType::host, ep(1, 5001), ep(1, 5001), {}, 65000);
  const Candidate r = make_candidate(CandidateType::host, ep(2, 6000), ep(2, 6000));
  const Candidate r2 = make_candidate(CandidateType::host, ep(3, 6000), ep(3, 6000));
  (void)list.add(0, h1, 0, r, true);   // foundation A
  (void)list.add(1, h2, 0, r, true);   // foundation A, lower
  (void)list.add(0, h1, 1, r2, true);  // foundation B
  list.unfreeze_initial();
  EXPECT_EQ(list[1].state, PairState::frozen);
  list.trigger(1);  // Frozen → Waiting, queued
  EXPECT_EQ(list[1].state, PairState::waiting);
  EXPECT_EQ(list.next(kAll), std::optional<std::size_t>(1));  // triggered first
  // Not ready (a relayed pair without its permission): skipped.
  EXPECT_EQ(list.next([](const CandidatePair& p) { return p.remote != 0; }),
            std::optional<std::size_t>(2));
  EXPECT_EQ(list.next(kAll), std::optional<std::size_t>(0));
  EXPECT_FALSE(list.next(kAll));
  list.fail(0);
  list.fail(1);
  list.fail(2);
  EXPECT_TRUE(list.finished());
  EXPECT_FALSE(list.best_valid());
  // §6.1.4.2: with nothing Waiting, a Frozen pair whose foundation is idle wakes.
  Checklist f;
  (void)f.add(0, h1, 0, r, true);
  (void)f.add(1, h2, 0, r, true);
  EXPECT_EQ(f.next(kAll), std::optional<std::size_t>(0));  // never unfrozen: next() does it
  EXPECT_EQ(f[1].state, PairState::frozen);                // its foundation is In-Progress
  f.fail(0);
  EXPECT_EQ(f.next(kAll), std::optional<std::size_t>(1));
  EXPECT_TRUE(f.better_pending(0));
  EXPECT_FALSE(f.better_pending(f[1].priority));
}

// RFC 8445 §7.3.1.4: a triggered check replaces an In-Progress one — the pair goes back
// to Waiting in the queue. Pairs marked unlikely go after the other Waiting pairs.
TEST(IceChecklist, TriggerOnInProgressAndUnlikelyPairsLast) {
  Checklist list;
  const Candidate h = make_candidate(CandidateType::host, ep(1, 5000), ep(1, 5000));
  const Candidate r1 = make_candidate(CandidateType::host, ep(2, 6000), ep(2, 6000));
  const Candidate r2 = make_candidate(CandidateType::srflx, ep(3, 7000), ep(2, 6000));
  (void)list.add(0, h, 0, r1, true);  // host-host: the higher priority
  (void)list.add(0, h, 1, r2, true);
  list.unfreeze_initial();
  EXPECT_EQ(list.active(), 2u);  // RFC 8445 §14.3: Waiting + In-Progress
  list[0].unlikely = true;
  EXPECT_EQ(list.next(kAll), std::optional<std::size_t>(1));  // the likely pair first
  EXPECT_EQ(list.next(kAll), std::optional<std::size_t>(0));
  EXPECT_EQ(list.active(), 2u);
  list.trigger(0);
  EXPECT_EQ(list[0].state, PairState::waiting);
  EXPECT_TRUE(list.queued(0));
  EXPECT_FALSE(list.queued(1));
  EXPECT_EQ(list.next(kAll), std::optional<std::size_t>(0));
  EXPECT_FALSE(list.queued(0));
  list.succeed(1, 0);
  EXPECT_EQ(list.active(), 1u);
}

}  // namespace
}  // namespace natsim::traversal::ice
