// relay_first (the connect strategy's turn_first) in the agent: the first valid pair is
// nominated at once, checks go on while it is relayed, and a direct pair that succeeds
// later is nominated again and replaces it on both sides. bob signals one of his two
// sockets as a relayed candidate (the agent cannot tell a relayed address from its
// type); the path to his other, host, socket opens only at 700 ms.
#include <gtest/gtest.h>

#include "ice_harness.hpp"

namespace natsim::traversal::ice {
namespace {

using testing::Wire;

const Endpoint kA{*IpAddress::parse("192.0.2.1"), 5000};
const Endpoint kRelay{*IpAddress::parse("198.51.100.20"), 49152};
const Endpoint kB{*IpAddress::parse("192.0.2.2"), 6000};

TimePoint at(Duration d) {
  return TimePoint{} + d;
}

struct Pair {
  explicit Pair(bool relay_first) {
    AgentConfig ca;
    ca.controlling = true;
    ca.host = {kA};
    ca.relay_first = relay_first;
    AgentConfig cb;
    cb.controlling = false;
    cb.host = {kB, kRelay};
    cb.relay_first = relay_first;
    a = std::make_unique<Agent>(1, ca);
    b = std::make_unique<Agent>(2, cb);
    w.a = {a.get(), {kA}, {}, {}};
    w.b = {b.get(), {kB, kRelay}, {}, {}};
    w.pass = [this](const Endpoint& from, const Endpoint& to) {
      return (from != kB && to != kB) || w.now >= at(milliseconds(700));
    };
  }

  void start() {
    a->gather(w.now);
    b->gather(w.now);
    std::vector<Candidate> theirs;
    for (Candidate c : b->local_candidates()) {
      if (c.address == kRelay) {
        c = make_candidate(CandidateType::relay, kRelay, kRelay, kRelay.address, 65535);
      }
      theirs.push_back(c);
    }
    a->set_remote(w.now, b->ufrag(), b->pwd(), theirs, true);
    b->set_remote(w.now, a->ufrag(), a->pwd(), a->local_candidates(), true);
    w.pump_both();
  }

  static std::vector<std::pair<TimePoint, Selected>> selections(const Wire::Side& s) {
    std::vector<std::pair<TimePoint, Selected>> out;
    for (const auto& [t, e] : s.events) {
      if (const auto* x = std::get_if<Selected>(&e)) out.emplace_back(t, *x);
    }
    return out;
  }

  Wire w;
  std::unique_ptr<Agent> a, b;
};

TEST(IceRelayFirst, RelayAtOnceThenTheDirectPairReplacesIt) {
  Pair p(true);
  p.start();
  p.w.run_until(at(seconds(3)));
  const auto sa = Pair::selections(p.w.a);
  const auto sb = Pair::selections(p.w.b);
  ASSERT_EQ(sa.size(), 2u);
  ASSERT_EQ(sb.size(), 2u);
  // The direct pair is checked first (0 ms, lost), the relayed one at the next Ta slot
  // (50 ms): valid at 70 ms and nominated at once, selected by bob when the nomination
  // arrives (80 ms) and by alice on its answer (90 ms).
  EXPECT_EQ(sa[0].second.path, PathType::relay);
  EXPECT_EQ(sa[0].first, at(milliseconds(90)));
  EXPECT_EQ(sb[0].first, at(milliseconds(80)));
  // Checks go on: the direct check's retransmissions (RFC 8489: 500 ms, then 1 s more)
  // get through from 700 ms, so the one at 1500 ms succeeds at 1520 ms and the second
  // nomination moves both sides to it (bob 1530 ms, alice 1540 ms).
  EXPECT_EQ(sa[1].second.path, PathType::host);
  EXPECT_EQ(sa[1].second.remote.address, kB);
  EXPECT_EQ(sb[1].second.local.address, kB);
  EXPECT_EQ(sa[1].first, at(milliseconds(1540)));
  EXPECT_EQ(sb[1].first, at(milliseconds(1530)));
  EXPECT_EQ(p.a->state(), Agent::State::connected);
  EXPECT_EQ(p.a->checklist()[*p.a->selected_pair()].remote_address, kB);
}

// The default: prefer_direct holds the relayed pair until the direct check's first
// retransmission could have been answered (500 ms + a round trip), then the relay is
// selected and checks stop: the direct path that opens at 700 ms is never used.
TEST(IceRelayFirst, WithoutItTheRelayWaitsAndStays) {
  Pair p(false);
  p.start();
  p.w.run_until(at(seconds(3)));
  const auto sa = Pair::selections(p.w.a);
  ASSERT_EQ(sa.size(), 1u);
  EXPECT_EQ(sa[0].first, at(milliseconds(540)));
  EXPECT_EQ(sa[0].second.path, PathType::relay);
}

}  // namespace
}  // namespace natsim::traversal::ice
