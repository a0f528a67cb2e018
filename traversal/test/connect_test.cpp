// The connect strategy on its own: two connectors back to back in virtual time, with
// host candidates only, datagrams 10 ms one way and signalling 25 ms one way. Offer and
// answer (trickled or full), the breakdown, the timeout, and the ICE restart after
// consent is lost.
#include "natsim/traversal/connect.hpp"

#include <gtest/gtest.h>

#include "connector_loop.hpp"

namespace natsim::traversal::connect {
namespace {

const Endpoint kA{*IpAddress::parse("192.0.2.1"), 5000};
const Endpoint kB{*IpAddress::parse("192.0.2.2"), 6000};

// Datagrams 10 ms one way (none while `cut`), signalling 25 ms (none while
// `signalling_down`); every event kept per side.
struct Loop : testing::ConnectorLoop {
  explicit Loop(bool trickle = true, Duration timeout = seconds(60),
                Duration restart_after_silence = Duration::zero()) {
    for (int i = 0; i < 2; ++i) {
      Config c;
      c.offerer = i == 0;
      c.host = {i == 0 ? kA : kB};
      c.trickle = trickle;
      c.timeout = timeout;
      c.restart_after_silence = restart_after_silence;
      side[i] = std::make_unique<Connector>(100 + static_cast<std::uint64_t>(i), c);
    }
  }

  template <class E>
  int count(int i) const {
    int n = 0;
    for (const auto& [at, e] : events[i])
      n += std::holds_alternative<E>(e) ? 1 : 0;
    return n;
  }

  bool cut = false;
  bool signalling_down = false;
  std::array<std::vector<std::pair<TimePoint, Event>>, 2> events;

 protected:
  void route(int i, const Transmit& t, ByteView bytes) override {
    if (!cut) deliver(milliseconds(10), 1 - i, t.local, t.remote, bytes);
  }
  void on_event(int i, const Event& e) override {
    events[i].emplace_back(now, e);
    if (!signalling_down) ConnectorLoop::on_event(i, e);
  }
};

TEST(Connect, TrickledOfferAndAnswerConnectOverHostCandidates) {
  Loop loop;
  loop.start();
  loop.run_until(TimePoint(seconds(2)));
  const Result& a = loop.side[0]->result();
  const Result& b = loop.side[1]->result();
  ASSERT_EQ(a.outcome, Outcome::connected) << a.reason;
  ASSERT_EQ(b.outcome, Outcome::connected) << b.reason;
  // bob's first check reaches alice before his answer does: she knows him as
  // peer-reflexive first, until his signalled host candidate replaces it (RFC 8838 §11).
  EXPECT_EQ(a.path, Path::host);
  EXPECT_EQ(a.remote->address, kB);
  EXPECT_EQ(b.remote->address, kA);
  // Host candidates only: gathering is over at once, so the offer carries its
  // end-of-candidates. bob answers when it arrives (25 ms) and checks at once.
  EXPECT_EQ(a.times.gathering, milliseconds(0));
  EXPECT_EQ(a.times.description_sent, milliseconds(0));
  EXPECT_EQ(b.times.description_received, milliseconds(25));
  EXPECT_EQ(b.times.gathering, milliseconds(25));
  EXPECT_EQ(b.times.first_check, milliseconds(25));
  EXPECT_EQ(a.times.description_received, milliseconds(50));
  EXPECT_EQ(b.times.first_success, milliseconds(45));
  EXPECT_EQ(a.times.selected, milliseconds(90));
  EXPECT_EQ(b.times.selected, milliseconds(80));
  EXPECT_EQ(a.signals_sent, 1u);
  EXPECT_EQ(b.signals_sent, 1u);
  EXPECT_EQ(loop.count<Connected>(0), 1);
}

TEST(Connect, DataAfterConnecting) {
  Loop loop;
  loop.start();
  loop.run_until(TimePoint(seconds(1)));
  const std::vector<std::uint8_t> hello{'h', 'i'};
  ASSERT_TRUE(loop.side[0]->send(loop.now, hello));
  loop.pump(0);
  loop.run_until(TimePoint(seconds(2)));
  ASSERT_EQ(loop.count<Data>(1), 1);
  EXPECT_EQ(loop.side[1]->result().times.first_data, milliseconds(1010));
}

TEST(Connect, NoAnswerIsATimeout) {
  Loop loop(true, seconds(5));
  loop.signalling_down = true;
  loop.start();
  loop.run_until(TimePoint(seconds(10)));
  const Result& a = loop.side[0]->result();
  EXPECT_EQ(a.outcome, Outcome::timeout);
  EXPECT_EQ(a.reason, "no pair selected within 5s");
  EXPECT_EQ(loop.count<Failed>(0), 1);
  EXPECT_EQ(loop.side[0]->poll_timeout(), std::nullopt);
  EXPECT_EQ(loop.side[1]->agent(), nullptr);  // the answerer never heard of it
}

// RFC 7675: consent expires 30 s after the last answer; RFC 8445 §9: the side that
// notices restarts (generation 2) and the other follows; once the path is back the
// new checks succeed.
TEST(Connect, RestartsAfterConsentIsLost) {
  Loop loop;
  loop.start();
  loop.run_until(TimePoint(seconds(10)));
  loop.cut = true;
  loop.run_until(TimePoint(seconds(50)));
  loop.cut = false;
  loop.run_until(TimePoint(seconds(120)));
  const Result& a = loop.side[0]->result();
  const Result& b = loop.side[1]->result();
  EXPECT_EQ(a.outcome, Outcome::connected);
  // bob's consent expires first (30 s after his last answered consent check): he
  // restarts, and alice restarts on his new description before hers expires.
  EXPECT_FALSE(a.consent_lost);
  ASSERT_TRUE(b.consent_lost);
  EXPECT_EQ(*b.consent_lost, nanoseconds(34'424'482'866));
  EXPECT_EQ(loop.side[0]->generation(), 2u);
  EXPECT_EQ(loop.side[1]->generation(), 2u);
  EXPECT_EQ(a.restarts, 1u);
  ASSERT_TRUE(a.reconnected && b.reconnected);
  // The new checks go unanswered until the path is back at 50 s and succeed on their
  // retransmissions (RFC 8489: 500 ms, then doubling).
  EXPECT_EQ(*a.reconnected, nanoseconds(65'989'482'866));
  EXPECT_EQ(*b.reconnected, nanoseconds(65'979'482'866));
  EXPECT_EQ(loop.count<ConsentLost>(0), 0);
  EXPECT_EQ(loop.count<ConsentLost>(1), 1);
  EXPECT_EQ(loop.count<Connected>(0), 2);
}

// The same cut with restart_after_silence = 8 s: the first side whose consent checks
// have gone unanswered for 8 s restarts then, not 30 s after its last answer.
TEST(Connect, RestartsAfterSilenceWithoutWaitingForConsentExpiry) {
  Loop loop(true, seconds(60), seconds(8));
  loop.start();
  loop.run_until(TimePoint(seconds(10)));
  loop.cut = true;
  loop.run_until(TimePoint(seconds(20)));
  loop.cut = false;
  loop.run_until(TimePoint(seconds(60)));
  const Result& a = loop.side[0]->result();
  const Result& b = loop.side[1]->result();
  EXPECT_EQ(a.outcome, Outcome::connected);
  ASSERT_TRUE(a.consent_lost || b.consent_lost);
  const Duration lost =
      std::min(a.consent_lost.value_or(seconds(99)), b.consent_lost.value_or(seconds(99)));
  // bob's last answered consent check was at 4.42 s (his next one left after the cut).
  EXPECT_EQ(lost, nanoseconds(12'424'482'866));
  EXPECT_EQ(loop.side[0]->generation(), 2u);
  EXPECT_EQ(loop.side[1]->generation(), 2u);
  ASSERT_TRUE(a.reconnected && b.reconnected);
  // The new checks, from 12.42 s, retransmit after 0.5, 1, 2, 4 and 8 s (RFC 8489): the
  // one at 27.92 s is the first after the path is back at 20 s.
  EXPECT_EQ(*a.reconnected, nanoseconds(27'989'482'866));
  EXPECT_EQ(*b.reconnected, nanoseconds(27'979'482'866));
  EXPECT_EQ(loop.count<ConsentLost>(0) + loop.count<ConsentLost>(1), 1);
}

TEST(Connect, FullDescriptionsCarryEveryCandidate) {
  Loop loop(false);
  loop.start();
  loop.run_until(TimePoint(seconds(2)));
  EXPECT_EQ(loop.side[0]->result().outcome, Outcome::connected);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(loop.count<SendSignal>(i), 1);
    const Description* d = nullptr;
    for (const auto& [at, e] : loop.events[i]) {
      if (const auto* s = std::get_if<SendSignal>(&e)) d = std::get_if<Description>(&s->signal);
    }
    ASSERT_NE(d, nullptr);
    EXPECT_TRUE(d->end_of_candidates);
    ASSERT_EQ(d->candidates.size(), 1u);
    EXPECT_EQ(d->generation, 1u);
  }
}

}  // namespace
}  // namespace natsim::traversal::connect
