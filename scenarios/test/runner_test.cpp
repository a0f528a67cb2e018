#include "natsim/scenarios/runner.hpp"

#include <gtest/gtest.h>

#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios {
namespace {

RunResult run_text(const std::string& text, std::uint64_t seed = 1) {
  auto scenarios = load_scenario_text(text, "test.json");
  EXPECT_EQ(scenarios.size(), 1u);
  return run_scenario(scenarios.front(), seed);
}

const char* kBase = R"({
  "name": "t",
  "topology": {
    "servers": [
      {"name": "stun", "type": "stun", "address": "198.51.100.10", "alternate_address": "198.51.100.11"},
      {"name": "echo", "type": "echo", "address": "198.51.100.20"}
    ],
    "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice", "bob"]}]
  },
  "timeline": [
    {"id": "p", "action": "probe", "host": "alice", "server": "stun"},
    {"at": "30s", "id": "b1", "action": "binding", "host": "alice", "server": "stun", "port": 5000},
    {"at": "31s", "id": "s", "action": "send", "host": "bob", "server": "echo", "count": 5},
    {"at": "40s", "action": "reboot", "site": "home", "new_address": "203.0.0.6/30"},
    {"at": "41s", "id": "b2", "action": "binding", "host": "alice", "server": "stun", "port": 5000}
  ],
  "expect": [
    {"action": "p", "mapping": "endpoint-independent", "filtering": "endpoint-independent", "hairpinning": true},
    {"action": "b1", "outcome": "success", "rtt_ms": {"max": 100}},
    {"action": "s", "delivered": 5, "echoed": 5},
    {"action": "b2", "outcome": "success", "mapped_changed_from": "b1"},
    {"counter": "home", "metric": "nat.outbound", "value": {"min": 10}}
  ]
})";

TEST(Runner, RunsTheTimelineAndChecksEveryExpectation) {
  const RunResult r = run_text(kBase);
  for (const auto& e : r.expectations)
    EXPECT_TRUE(e.passed) << e.pointer << ": " << e.message;
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.actions.size(), 5u);
  EXPECT_EQ(r.actions[0]["mapping"], "endpoint-independent");
  EXPECT_EQ(r.actions[2]["delivered"], 5);
  EXPECT_NE(r.actions[1]["mapped"], r.actions[4]["mapped"]);
  EXPECT_EQ(r.actions[4]["mapped"], "203.0.0.6:5000");
}

TEST(Runner, SameSeedSameDigestDifferentSeedDifferentDigest) {
  std::string lossy = kBase;
  lossy.replace(lossy.find("\"topology\": {"), 13,
                R"("topology": {"core": {"latency": "5ms", "jitter": "3ms", "loss": 0.05},)");
  const RunResult a = run_text(lossy, 7);
  const RunResult b = run_text(lossy, 7);
  const RunResult c = run_text(lossy, 8);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(to_json(a), to_json(b));
  EXPECT_NE(a.digest, c.digest);
}

TEST(Runner, FailedExpectationsSayWhatHappened) {
  std::string text = kBase;
  text.replace(text.find(R"("mapping": "endpoint-independent")"), 33,
               R"("mapping": "address-dependent")");
  text.replace(text.find(R"("delivered": 5)"), 14, R"("delivered": {"min": 6})");
  const RunResult r = run_text(text);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.expectations[0].passed);
  EXPECT_EQ(r.expectations[0].pointer, "/expect/0");
  EXPECT_EQ(r.expectations[0].message,
            "p: mapping: expected address-dependent, got endpoint-independent");
  EXPECT_EQ(r.expectations[2].message, "s: delivered: expected >= 6, got 5");
  EXPECT_TRUE(r.expectations[1].passed);
}

TEST(Runner, LinkActionsAndCountersWork) {
  const char* text = R"({
    "name": "link down",
    "topology": {
      "servers": [{"name": "echo", "type": "echo", "address": "198.51.100.20"}],
      "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice"]}]
    },
    "timeline": [
      {"at": "0s", "action": "link", "target": "home.uplink", "up": false},
      {"at": "0s", "id": "lost", "action": "send", "host": "alice", "server": "echo", "count": 3},
      {"at": "1s", "action": "link", "target": "home.uplink", "up": true, "latency": "40ms"},
      {"at": "2s", "id": "ok", "action": "send", "host": "alice", "server": "echo", "count": 3}
    ],
    "expect": [
      {"action": "lost", "delivered": 0},
      {"action": "ok", "delivered": 3, "echoed": 3},
      {"counter": "home--internet", "metric": "drops.link_down", "value": 3}
    ]
  })";
  const RunResult r = run_text(text);
  for (const auto& e : r.expectations)
    EXPECT_TRUE(e.passed) << e.message;
}

}  // namespace
}  // namespace natsim::scenarios
