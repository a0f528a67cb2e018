// RFC 8445 §5.1.2 priorities, §5.1.1.3 foundations, §6.1.2.3 pair priorities.
#include "natsim/traversal/ice_candidate.hpp"

#include <gtest/gtest.h>

namespace natsim::traversal::ice {
namespace {

const Endpoint kHost{IpAddress::v4(10, 0, 0, 1), 5000};
const Endpoint kHost2{IpAddress::v4(10, 0, 0, 2), 5000};
const Endpoint kMapped{IpAddress::v4(203, 0, 113, 2), 40000};
const IpAddress kServer = IpAddress::v4(198, 51, 100, 10);
const IpAddress kServer2 = IpAddress::v4(198, 51, 100, 11);

TEST(IceCandidate, TypePreferencesAreTheRecommendedValues) {
  // RFC 8445 §5.1.2.2.
  EXPECT_EQ(type_preference(CandidateType::host), 126u);
  EXPECT_EQ(type_preference(CandidateType::prflx), 110u);
  EXPECT_EQ(type_preference(CandidateType::srflx), 100u);
  EXPECT_EQ(type_preference(CandidateType::relay), 0u);
}

TEST(IceCandidate, PriorityFormula) {
  // RFC 8445 §5.1.2.1: 2^24 × type pref + 2^8 × local pref + (256 − component).
  EXPECT_EQ(candidate_priority(CandidateType::host, 65535, 1), 2130706431u);
  EXPECT_EQ(candidate_priority(CandidateType::host, 65535, 2), 2130706430u);
  EXPECT_EQ(candidate_priority(CandidateType::prflx, 65535, 1), 1862270975u);
  EXPECT_EQ(candidate_priority(CandidateType::srflx, 65535, 1), 1694498815u);
  EXPECT_EQ(candidate_priority(CandidateType::relay, 65535, 1), 16777215u);
  EXPECT_EQ(candidate_priority(CandidateType::relay, 0, 1), 255u);
  EXPECT_EQ(candidate_priority(126, 65534, 1), (126u << 24) + (65534u << 8) + 255u);
  // Every type of one component outranks the next type whatever the local preference.
  EXPECT_GT(candidate_priority(CandidateType::host, 0, 1),
            candidate_priority(CandidateType::prflx, 65535, 1));
  EXPECT_GT(candidate_priority(CandidateType::srflx, 0, 1),
            candidate_priority(CandidateType::relay, 65535, 1));
}

TEST(IceCandidate, PairPriorityFormula) {
  // RFC 8445 §6.1.2.3: 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0).
  const std::uint32_t g = 2130706431;  // host
  const std::uint32_t d = 1694498815;  // srflx
  EXPECT_EQ(pair_priority(g, d), (std::uint64_t{d} << 32) + 2 * std::uint64_t{g} + 1);
  EXPECT_EQ(pair_priority(d, g), (std::uint64_t{d} << 32) + 2 * std::uint64_t{g});
  EXPECT_EQ(pair_priority(g, g), (std::uint64_t{g} << 32) + 2 * std::uint64_t{g});
  EXPECT_EQ(pair_priority(0xFFFFFFFFu, 0xFFFFFFFFu), 0xFFFFFFFF00000000ull + 0x1FFFFFFFEull);
  // The two agents order the same pair identically: each computes it with G the
  // controlling agent's priority.
  EXPECT_GT(pair_priority(g, d), pair_priority(d, g));
}

TEST(IceCandidate, FoundationsFollowTypeBaseServerAndTransport) {
  // RFC 8445 §5.1.1.3: same type, base IP, server IP and transport → same foundation.
  EXPECT_EQ(foundation(CandidateType::host, kHost.address, std::nullopt),
            foundation(CandidateType::host, kHost.address, std::nullopt));
  EXPECT_NE(foundation(CandidateType::host, kHost.address, std::nullopt),
            foundation(CandidateType::host, kHost2.address, std::nullopt));
  EXPECT_NE(foundation(CandidateType::host, kHost.address, std::nullopt),
            foundation(CandidateType::srflx, kHost.address, kServer));
  EXPECT_NE(foundation(CandidateType::srflx, kHost.address, kServer),
            foundation(CandidateType::srflx, kHost.address, kServer2));
  // Two sockets on one address share their host foundation (the port does not count).
  const Candidate a = make_candidate(CandidateType::host, kHost, kHost);
  const Candidate b = make_candidate(CandidateType::host, Endpoint{kHost.address, 6000},
                                     Endpoint{kHost.address, 6000});
  EXPECT_EQ(a.foundation, b.foundation);
  EXPECT_EQ(a.foundation.size(), 8u);  // ≤ 32 ice-chars (RFC 8445 §5.1.1.3)
  // Stable across runs and machines: pinned.
  EXPECT_EQ(a.foundation, foundation(CandidateType::host, kHost.address, std::nullopt));
  const Candidate s = make_candidate(CandidateType::srflx, kMapped, kHost, kServer);
  EXPECT_EQ(s.priority, 1694498815u);
  EXPECT_EQ(s.base, kHost);
  EXPECT_EQ(to_string(CandidateType::prflx), "prflx");
}

}  // namespace
}  // namespace natsim::traversal::ice
