// Golden digests: a few library scenarios, each with its file's first seed, give exactly
// these digests — on every run, every machine and every build type (CI runs this test in
// the release, sanitizer and clang builds). A change here is a change in behaviour:
// update a value only when the change is meant, and say why in the commit.
#include <gtest/gtest.h>

#include <string>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

struct Golden {
  const char* file;  // under scenarios/library/
  const char* digest;
};

// Discovery through two NATs; TURN with refreshes over 40 minutes; random loss; a NAT
// behind a CGNAT.
constexpr Golden kGolden[] = {
    {"quickstart.json", "8813ab92676d3a94"},
    {"relay-between-symmetric-nats.json", "231ab4a2a62aa47a"},
    {"lossy-uplink.json", "0a1a964c4353e5e9"},
    {"double-nat.json", "05739ba8b8d5376f"},
};

TEST(GoldenDigest, LibraryScenariosGiveThePinnedDigests) {
  for (const Golden& g : kGolden) {
    const auto scenarios =
        load_scenario_file(std::string(NATSIM_SCENARIO_DIR) + "/library/" + g.file);
    ASSERT_FALSE(scenarios.empty()) << g.file;
    const Scenario& s = scenarios.front();
    const RunResult r = run_scenario(s, s.seeds.front());
    EXPECT_TRUE(r.passed) << g.file;
    EXPECT_EQ(digest_hex(r.digest), g.digest) << g.file << " seed " << s.seeds.front();
  }
}

}  // namespace
}  // namespace natsim::scenarios
