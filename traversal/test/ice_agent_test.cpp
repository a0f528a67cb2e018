// Two ICE agents back to back in virtual time (10 ms one way): connecting with exact
// times, nomination (regular and aggressive), role conflicts both ways, peer-reflexive
// candidates, consent expiry at 30 s, failure with a reason, and bad requests.
#include "natsim/traversal/ice_agent.hpp"

#include <gtest/gtest.h>

#include "ice_harness.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::ice {
namespace {

static_assert(ProtocolMachine<Agent>);

using testing::exchange;
using testing::Wire;

const Endpoint kA{IpAddress::v4(10, 0, 0, 1), 5000};
const Endpoint kB{IpAddress::v4(10, 0, 0, 2), 6000};

AgentConfig config(bool controlling, const Endpoint& host) {
  AgentConfig c;
  c.controlling = controlling;
  c.host = {host};
  return c;
}

struct Pair {
  explicit Pair(AgentConfig ca = config(true, kA), AgentConfig cb = config(false, kB),
                std::uint64_t seed_a = 1, std::uint64_t seed_b = 2)
      : a(seed_a, std::move(ca)), b(seed_b, std::move(cb)) {
    w.a.agent = &a;
    w.b.agent = &b;
    w.a.addresses = {kA};
    w.b.addresses = {kB};
  }
  Agent a, b;
  Wire w;
};

TEST(IceAgent, HostCandidatesConnectWithRegularNominationAtExactTimes) {
  Pair p;
  exchange(p.w);
  p.w.run_until(at(seconds(1)));
  // t=0 both check; t=20 both pairs succeed (request 10 ms, answer 10 ms). Nothing better
  // is pending, so A nominates at once: B sees USE-CANDIDATE at 30 and selects, A gets
  // the answer at 40 — the first valid pair plus one round trip.
  const auto sa = Wire::first_event<Selected>(p.w.a);
  const auto sb = Wire::first_event<Selected>(p.w.b);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->first, at(milliseconds(40)));
  EXPECT_EQ(sb->first, at(milliseconds(30)));
  EXPECT_EQ(sa->second.path, PathType::host);
  EXPECT_EQ(sa->second.local.address, kA);
  EXPECT_EQ(sa->second.remote.address, kB);
  EXPECT_EQ(sb->second.remote.address, kA);
  EXPECT_EQ(p.a.state(), Agent::State::connected);
  EXPECT_EQ(p.b.state(), Agent::State::connected);
  EXPECT_EQ(p.a.counters().checks_sent, 2u);  // the check and the nomination
  EXPECT_EQ(p.b.counters().checks_sent, 1u);
  // B's check reached A at 10 while A's was In-Progress: A queued a triggered check
  // (cancelling its own, RFC 8445 §7.3.1.4), but the cancelled check's answer at 20 still
  // made the pair valid, so the triggered check never left.
  EXPECT_EQ(p.a.counters().triggered_checks, 1u);
  EXPECT_EQ(p.a.counters().role_conflicts, 0u);
  EXPECT_EQ(Wire::count<Failed>(p.w.a), 0u);
  EXPECT_EQ(p.w.unclaimed, 0u);
  // Gathering finished at once with the host candidate.
  const auto g = Wire::first_event<GatheringDone>(p.w.a);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->first, kTimeZero);
  ASSERT_EQ(g->second.candidates.size(), 1u);
  EXPECT_EQ(g->second.candidates[0].priority, 2130706431u);
}

TEST(IceAgent, DataFlowsBothWaysOverTheSelectedPair) {
  Pair p;
  std::vector<std::pair<TimePoint, std::vector<std::uint8_t>>> got_b, got_a;
  p.w.b.on_event = [&](Wire::Side&, const Event& e) {
    if (const auto* d = std::get_if<Data>(&e)) {
      got_b.emplace_back(p.w.now, std::vector<std::uint8_t>(d->bytes.begin(), d->bytes.end()));
      const std::uint8_t reply[] = {'p', 'o', 'n', 'g'};
      EXPECT_TRUE(p.b.send(p.w.now, reply));
    }
  };
  p.w.a.on_event = [&](Wire::Side&, const Event& e) {
    if (std::holds_alternative<Selected>(e)) {
      const std::uint8_t ping[] = {'p', 'i', 'n', 'g'};
      EXPECT_TRUE(p.a.send(p.w.now, ping));
    } else if (const auto* d = std::get_if<Data>(&e)) {
      got_a.emplace_back(p.w.now, std::vector<std::uint8_t>(d->bytes.begin(), d->bytes.end()));
    }
  };
  const std::uint8_t early[] = {1};
  EXPECT_FALSE(p.a.send(kTimeZero, early));  // nothing selected yet
  exchange(p.w);
  p.w.run_until(at(seconds(1)));
  // A selects at 40 and sends at once; B answers on arrival.
  ASSERT_EQ(got_b.size(), 1u);
  EXPECT_EQ(got_b[0].first, at(milliseconds(50)));
  EXPECT_EQ(got_b[0].second, (std::vector<std::uint8_t>{'p', 'i', 'n', 'g'}));
  ASSERT_EQ(got_a.size(), 1u);
  EXPECT_EQ(got_a[0].first, at(milliseconds(60)));
  EXPECT_EQ(p.a.counters().data_dropped, 1u);
  EXPECT_EQ(p.a.counters().data_out, 1u);
  EXPECT_EQ(p.b.counters().data_in, 1u);
}

TEST(IceAgent, AggressiveNominationSelectsOnTheFirstRoundTrip) {
  AgentConfig ca = config(true, kA);
  ca.aggressive_nomination = true;
  Pair p(ca);
  exchange(p.w);
  p.w.run_until(at(seconds(1)));
  const auto sa = Wire::first_event<Selected>(p.w.a);
  const auto sb = Wire::first_event<Selected>(p.w.b);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->first, at(milliseconds(20)));
  // B saw USE-CANDIDATE at 10 while its own check was out; its answer came at 20.
  EXPECT_EQ(sb->first, at(milliseconds(20)));
  EXPECT_EQ(p.a.counters().checks_sent, 1u);
}

TEST(IceAgent, TaPacesChecksAcrossPairs) {
  AgentConfig ca = config(true, kA);
  ca.ta = milliseconds(20);
  // Three host addresses: three foundations, all Waiting at once (one address with three
  // ports would be one foundation, checked one pair at a time).
  ca.host = {kA, Endpoint{IpAddress::v4(10, 0, 0, 3), 5000},
             Endpoint{IpAddress::v4(10, 0, 0, 4), 5000}};
  Pair p(ca);
  p.w.a.addresses = ca.host;
  // B never answers: every check A sends is one new transaction, paced by Ta.
  p.w.pass = [](const Endpoint& from, const Endpoint&) { return from != kB; };
  exchange(p.w);
  p.w.run_until(at(milliseconds(45)));
  EXPECT_EQ(p.a.counters().checks_sent, 3u);  // at 0, 20, 40
  p.w.run_until(at(milliseconds(59)));
  EXPECT_EQ(p.a.counters().checks_sent, 3u);
}

// The requests (not answers) an agent sends from `from`, with their times and whether they
// carry USE-CANDIDATE.
struct Requests {
  std::vector<std::pair<Duration, bool>> sent;
  void watch(Wire& w, const Endpoint& from) {
    w.observe = [this, &w, from](const Endpoint& local, const Endpoint&, ByteView bytes) {
      const auto m = stun::Message::parse(bytes);
      if (local != from || !m || m->cls() != stun::Class::request) return;
      sent.emplace_back(w.now - kTimeZero, m->has(stun::attr::use_candidate));
    };
  }
};

// RFC 8445 §7.3.1.4: a check arriving on a pair whose own check is In-Progress cancels
// that transaction (no retransmissions) and queues a triggered check in its place.
TEST(IceAgent, TriggeredCheckCancelsTheInProgressTransaction) {
  Pair p;
  Requests ra;
  ra.watch(p.w, kA);
  // A's first check is lost; B's, at 0, reaches A at 10 while A's is In-Progress.
  bool lost = false;
  p.w.pass = [&lost](const Endpoint& from, const Endpoint&) {
    if (from != kA || lost) return true;
    lost = true;
    return false;
  };
  exchange(p.w);
  p.w.run_until(at(seconds(2)));
  // A's checks: the lost one at 0, the triggered one at the next Ta slot (50, answered
  // at 70), then the nomination at 70. The lost check is never retransmitted (it would
  // have been at 500 ms).
  const std::vector<std::pair<Duration, bool>> expected = {
      {milliseconds(0), false}, {milliseconds(50), false}, {milliseconds(70), true}};
  EXPECT_EQ(ra.sent, expected);
  EXPECT_EQ(p.a.counters().triggered_checks, 1u);
  EXPECT_EQ(p.a.counters().check_timeouts, 0u);
  const auto sa = Wire::first_event<Selected>(p.w.a);
  const auto sb = Wire::first_event<Selected>(p.w.b);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->first, at(milliseconds(90)));
  EXPECT_EQ(sb->first, at(milliseconds(80)));
}

// A pair of higher priority than the valid one holds nomination while its answer is still
// plausible: for 2 × the valid pair's round trip after its check left.
TEST(IceAgent, PlausibleBetterPairHoldsNominationForTwoRoundTrips) {
  const Endpoint a2{IpAddress::v4(10, 0, 0, 3), 5000};
  AgentConfig ca = config(true, kA);
  ca.ta = milliseconds(10);
  ca.host = {kA, a2};  // kA first: its pair has the higher priority
  Pair p(ca);
  p.w.a.addresses = ca.host;
  // Nothing from or to kA gets through.
  p.w.pass = [](const Endpoint& from, const Endpoint& to) { return from != kA && to != kA; };
  exchange(p.w);
  p.w.run_until(at(seconds(1)));
  // A checks kA→kB at 0 (lost) and a2→kB at 10, valid at 30 (a 20 ms round trip). The
  // kA pair, out since 0, is plausible until 0 + 2 × 20 = 40: nomination leaves then, B
  // sees it at 50 and selects once its own (triggered) check of the pair succeeds at 70;
  // A has the answer at 60.
  const auto sa = Wire::first_event<Selected>(p.w.a);
  const auto sb = Wire::first_event<Selected>(p.w.b);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->second.local.address, a2);
  EXPECT_EQ(sa->first, at(milliseconds(60)));
  EXPECT_EQ(sb->first, at(milliseconds(70)));
}

// RFC 8445 §14.3: a check's initial RTO is MAX(500 ms, Ta × N × (Num-Waiting +
// Num-In-Progress)), computed as the transaction starts.
TEST(IceAgent, CheckRtoFollowsTheChecklist) {
  auto run = [](bool from_checklist) {
    AgentConfig ca = config(true, kA);
    // Four host addresses (four foundations): four pairs, all Waiting at the start.
    ca.host = {kA, Endpoint{IpAddress::v4(10, 0, 0, 3), 5000},
               Endpoint{IpAddress::v4(10, 0, 0, 4), 5000},
               Endpoint{IpAddress::v4(10, 0, 0, 5), 5000}};
    ca.check_rto_from_checklist = from_checklist;
    Pair p(ca);
    p.w.a.addresses = ca.host;
    Requests ra;
    ra.watch(p.w, kA);
    p.w.pass = [](const Endpoint&, const Endpoint&) { return false; };  // no answers
    exchange(p.w);
    p.w.run_until(at(seconds(3)));
    std::vector<Duration> times;
    for (const auto& [t, use] : ra.sent)
      times.push_back(t);
    return times;
  };
  // At 0 the pair from kA is In-Progress and the other three Waiting: 50 ms × 4 × 4 =
  // 800 ms, doubling: sent at 0, 800 and 2400 ms.
  EXPECT_EQ(run(true),
            (std::vector<Duration>{milliseconds(0), milliseconds(800), milliseconds(2400)}));
  // The fixed RFC 8489 §6.2.1 timeline: 0, 500, 1500.
  EXPECT_EQ(run(false),
            (std::vector<Duration>{milliseconds(0), milliseconds(500), milliseconds(1500)}));
}

// Both agents think they are controlling: the larger tie-breaker stays controlling, the
// other gets 487 for its check (or sees the conflict in the request) and switches.
TEST(IceAgent, RoleConflictBothControlling) {
  Pair p(config(true, kA), config(true, kB), 1, 2);
  exchange(p.w);
  p.w.run_until(at(seconds(2)));
  const bool a_wins = p.a.tie_breaker() >= p.b.tie_breaker();
  EXPECT_EQ(p.a.controlling(), a_wins);
  EXPECT_EQ(p.b.controlling(), !a_wins);
  EXPECT_EQ(p.a.state(), Agent::State::connected);
  EXPECT_EQ(p.b.state(), Agent::State::connected);
  EXPECT_GE(p.a.counters().role_conflicts, 1u);
  EXPECT_GE(p.b.counters().role_conflicts, 1u);
  ASSERT_TRUE(Wire::first_event<Selected>(p.w.a));
  ASSERT_TRUE(Wire::first_event<Selected>(p.w.b));
}

TEST(IceAgent, RoleConflictBothControlled) {
  Pair p(config(false, kA), config(false, kB), 3, 4);
  exchange(p.w);
  p.w.run_until(at(seconds(2)));
  const bool a_wins = p.a.tie_breaker() >= p.b.tie_breaker();
  EXPECT_EQ(p.a.controlling(), a_wins);  // §7.3.1.1: the larger becomes controlling
  EXPECT_EQ(p.b.controlling(), !a_wins);
  EXPECT_EQ(p.a.state(), Agent::State::connected);
  EXPECT_EQ(p.b.state(), Agent::State::connected);
}

// A sees B's 487 answer: A's request claimed controlling, B's tie-breaker is larger.
TEST(IceAgent, ErrorResponse487SwitchesTheRoleAndChecksAgain) {
  // Find seeds where B's tie-breaker is larger (both controlling).
  std::uint64_t sa = 1, sb = 2;
  while (Agent(sa, config(true, kA)).tie_breaker() >= Agent(sb, config(true, kB)).tie_breaker())
    ++sb;
  Pair p(config(true, kA), config(true, kB), sa, sb);
  // B's first check to A is lost, so A learns of the conflict only from the 487.
  bool lost = false;
  p.w.pass = [&lost](const Endpoint& from, const Endpoint&) {
    if (from != kB || lost) return true;
    lost = true;
    return false;
  };
  exchange(p.w);
  p.w.run_until(at(milliseconds(20)));
  EXPECT_FALSE(p.a.controlling());
  EXPECT_TRUE(p.b.controlling());
  p.w.run_until(at(seconds(1)));
  EXPECT_EQ(p.a.state(), Agent::State::connected);
  EXPECT_EQ(p.b.state(), Agent::State::connected);
}

TEST(IceAgent, ConsentExpiresThirtySecondsAfterTheLastAnswer) {
  Pair p;
  exchange(p.w);
  p.w.run_until(at(seconds(60)));
  EXPECT_EQ(p.a.state(), Agent::State::connected);
  EXPECT_GE(p.a.counters().consent_checks, 10u);  // every 4–6 s
  EXPECT_LE(p.a.counters().consent_checks, 15u);
  EXPECT_GT(p.a.consent_expires(), at(seconds(60)));
  // The path dies at 60 s: nothing gets through any more.
  const TimePoint expires_a = p.a.consent_expires();
  const TimePoint expires_b = p.b.consent_expires();
  EXPECT_LE(expires_a, at(seconds(90)));
  p.w.pass = [](const Endpoint&, const Endpoint&) { return false; };
  p.w.run_until(at(seconds(120)));
  const auto fa = Wire::first_event<Failed>(p.w.a);
  const auto fb = Wire::first_event<Failed>(p.w.b);
  ASSERT_TRUE(fa && fb);
  EXPECT_EQ(fa->first, expires_a);  // exactly 30 s after the last answer
  EXPECT_EQ(fb->first, expires_b);
  EXPECT_EQ(fa->second.reason, "consent expired: no answer on the selected pair for 30s");
  EXPECT_EQ(p.a.state(), Agent::State::failed);
  const std::uint8_t x[] = {1};
  EXPECT_FALSE(p.a.send(p.w.now, x));
  // Consent was renewed by the last answer before 60 s: expiry is within (60 s, 90 s].
  EXPECT_GT(expires_a, at(seconds(60)) + seconds(30) - seconds(7));
}

TEST(IceAgent, FailsWithAReasonWhenNoPairWorks) {
  Pair p;
  p.w.pass = [](const Endpoint&, const Endpoint&) { return false; };
  exchange(p.w);
  p.w.run_until(at(seconds(60)));
  const auto fa = Wire::first_event<Failed>(p.w.a);
  ASSERT_TRUE(fa);
  // One check, retransmitted per RFC 8489 §6.2.1, gives up after 39.5 s.
  EXPECT_EQ(fa->first, at(milliseconds(39500)));
  EXPECT_EQ(fa->second.reason, "all 1 candidate pairs failed");
  EXPECT_EQ(p.a.state(), Agent::State::failed);
  EXPECT_EQ(p.a.checklist()[0].state, PairState::failed);
  EXPECT_EQ(p.a.counters().check_timeouts, 1u);
}

TEST(IceAgent, WithoutEndOfCandidatesItKeepsWaitingForTrickle) {
  Pair p;
  p.w.pass = [](const Endpoint&, const Endpoint&) { return false; };
  exchange(p.w, /*end_of_candidates=*/false);
  p.w.run_until(at(seconds(60)));
  EXPECT_FALSE(Wire::first_event<Failed>(p.w.a));
  EXPECT_EQ(p.a.state(), Agent::State::checking);
  // A trickled candidate that works, then the end of candidates.
  p.w.pass = [](const Endpoint&, const Endpoint&) { return true; };
  const Endpoint b2{kB.address, 6001};
  p.w.b.addresses.push_back(b2);
  // B has no socket on 6001 in its config, so its check answers go from 6000 only; A's
  // check to 6001 reaches B, which answers from 6001 (the address it was sent to).
  p.a.add_remote_candidate(p.w.now, make_candidate(CandidateType::host, b2, b2));
  p.a.end_of_remote_candidates(p.w.now);
  p.w.pump_both();
  p.w.run_until(at(seconds(61)));
  EXPECT_EQ(p.a.checklist().size(), 2u);
}

TEST(IceAgent, RemoteCandidatesAreBounded) {
  Pair p;
  exchange(p.w, /*end_of_candidates=*/false);
  const std::size_t max = AgentConfig{}.max_remote_candidates;
  for (std::uint16_t port = 7000; port < 7000 + 2 * max; ++port) {
    const Endpoint e{kB.address, port};
    p.a.add_remote_candidate(p.w.now, make_candidate(CandidateType::host, e, e));
  }
  EXPECT_EQ(p.a.counters().remote_refused, max + 1);  // B's own candidate took one place
  EXPECT_LE(p.a.checklist().size(), max);
}

TEST(IceAgent, PeerReflexiveRemoteFromAnUnsignalledAddress) {
  // B's candidates never reach A (say, trickled late): A learns B from B's check.
  Pair p;
  p.a.gather(kTimeZero);
  p.b.gather(kTimeZero);
  p.a.set_remote(kTimeZero, p.b.ufrag(), p.b.pwd(), {}, false);
  p.b.set_remote(kTimeZero, p.a.ufrag(), p.a.pwd(), p.a.local_candidates(), true);
  p.w.pump_both();
  p.w.run_until(at(seconds(2)));
  EXPECT_EQ(p.a.counters().prflx_remote, 1u);
  ASSERT_EQ(p.a.remote_candidates().size(), 1u);
  EXPECT_EQ(p.a.remote_candidates()[0].type, CandidateType::prflx);
  EXPECT_EQ(p.a.remote_candidates()[0].address, kB);
  // PRIORITY of B's check: a peer-reflexive candidate of B's base.
  EXPECT_EQ(p.a.remote_candidates()[0].priority, 1862270975u);
  const auto sa = Wire::first_event<Selected>(p.w.a);
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->second.path, PathType::prflx);
  // B's check reaches A at 10; A's triggered check leaves at once (no check sent yet),
  // succeeds at 30; A nominates at once (nothing else to wait for), B answers at 40, A
  // selects at 50.
  EXPECT_EQ(sa->first, at(milliseconds(50)));
  EXPECT_EQ(p.a.counters().triggered_checks, 1u);
}

TEST(IceAgent, SignalledCandidateReplacesTheLearntPeerReflexiveOne) {
  // B's check comes first (A learns B as peer-reflexive, selects at 50); B's host
  // candidate, trickled late, then names the same address (RFC 8838 §11).
  Pair p;
  p.a.gather(kTimeZero);
  p.b.gather(kTimeZero);
  p.a.set_remote(kTimeZero, p.b.ufrag(), p.b.pwd(), {}, false);
  p.b.set_remote(kTimeZero, p.a.ufrag(), p.a.pwd(), p.a.local_candidates(), true);
  p.w.pump_both();
  p.w.run_until(at(seconds(2)));
  const auto sa = Wire::first_event<Selected>(p.w.a);
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->first, at(milliseconds(50)));
  const Candidate host = p.b.local_candidates()[0];
  ASSERT_EQ(host.type, CandidateType::host);
  p.a.add_remote_candidate(at(seconds(2)), host);
  ASSERT_EQ(p.a.remote_candidates().size(), 1u);
  EXPECT_EQ(p.a.remote_candidates()[0].type, CandidateType::host);
  EXPECT_EQ(p.a.remote_candidates()[0].priority, host.priority);
  EXPECT_EQ(p.a.remote_candidates()[0].foundation, host.foundation);
  // The pair keeps its state (still selected), its priority computed with the new one.
  ASSERT_TRUE(p.a.selected_pair());
  const CandidatePair& pair = p.a.checklist()[*p.a.selected_pair()];
  EXPECT_EQ(pair.state, PairState::succeeded);
  EXPECT_EQ(pair.remote_priority, host.priority);
  EXPECT_EQ(pair.priority, pair_priority(pair.local_priority, host.priority));
}

// Hand-made requests: wrong credentials get 401, no USERNAME 400, nothing without
// FINGERPRINT.
TEST(IceAgent, BadRequestsAreAnsweredOrDropped) {
  Agent a(1, config(false, kA));
  a.gather(kTimeZero);
  a.set_remote(kTimeZero, "rem", "remote-password-0123456789");
  std::array<std::uint8_t, 65536> buf;
  while (a.poll_transmit(buf)) {
  }
  auto request = [&](std::string_view user, std::string_view key, bool fp) {
    std::vector<std::uint8_t> out(512);
    stun::Writer w(out, stun::method::binding, stun::Class::request, stun::TransactionId{7});
    if (!user.empty()) w.add_text(stun::attr::username, user);
    w.add_u32(stun::attr::priority, 1);
    w.add_u64(stun::attr::ice_controlling, 5);
    if (!key.empty()) w.add_message_integrity(stun::as_bytes(key));
    if (fp) w.add_fingerprint();
    const auto b = w.finish();
    return std::vector<std::uint8_t>(b->begin(), b->end());
  };
  auto answer_code = [&](const std::vector<std::uint8_t>& req) -> std::optional<std::uint16_t> {
    EXPECT_TRUE(a.handle_datagram(kTimeZero, kA, kB, req));
    std::optional<std::uint16_t> code;
    while (const auto t = a.poll_transmit(buf)) {
      const auto m = stun::Message::parse(ByteView(buf.data(), t->size));
      EXPECT_TRUE(m);
      if (!m || m->transaction_id() != stun::TransactionId{7}) continue;  // a triggered check
      code = m->cls() == stun::Class::success ? 0 : m->error_code()->code;
    }
    return code;
  };
  const std::string good_user = a.ufrag() + ":rem";
  EXPECT_EQ(answer_code(request(good_user, a.pwd(), true)), 0);
  EXPECT_EQ(answer_code(request(good_user, "wrong", true)), 401);
  EXPECT_EQ(answer_code(request("other:rem", a.pwd(), true)), 401);
  EXPECT_EQ(answer_code(request("", a.pwd(), true)), 400);
  EXPECT_EQ(answer_code(request(good_user, a.pwd(), false)), std::nullopt);
  EXPECT_EQ(a.counters().bad_requests, 3u);
  EXPECT_EQ(a.counters().malformed, 1u);
  // Not STUN from an unknown address: not the agent's.
  const std::uint8_t junk[] = {0x80, 1, 2, 3};
  EXPECT_FALSE(a.handle_datagram(kTimeZero, kA, Endpoint{IpAddress::v4(1, 2, 3, 4), 9}, junk));
}

}  // namespace
}  // namespace natsim::traversal::ice
