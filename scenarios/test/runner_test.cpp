#include "natsim/scenarios/runner.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "natsim/scenarios/loader.hpp"
#include "natsim/sim/pcap.hpp"

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

// RunOptions::report_actions / report_counters leave the JSON out and nothing else:
// pass/fail, every expectation's message, the digest and the simulated time are the
// same, failing expectations included (they read the actions' runs, not the report).
TEST(Runner, ReportOnlyWhenAskedChangesNothingElse) {
  std::string failing = kBase;
  const std::string echoed = "\"echoed\": 5";
  failing.replace(failing.find(echoed), echoed.size(), "\"echoed\": 6");
  for (const std::string& text : {std::string(kBase), failing}) {
    const Scenario s = load_scenario_text(text, "test.json").front();
    const RunResult full = run_scenario(s, 1);
    RunOptions bare;
    bare.report_actions = false;
    bare.report_counters = false;
    const RunResult r = run_scenario(s, 1, bare);
    EXPECT_EQ(r.passed, full.passed);
    EXPECT_EQ(r.digest, full.digest);
    EXPECT_EQ(r.simulated, full.simulated);
    ASSERT_EQ(r.expectations.size(), full.expectations.size());
    for (std::size_t i = 0; i < r.expectations.size(); ++i) {
      EXPECT_EQ(r.expectations[i].pointer, full.expectations[i].pointer);
      EXPECT_EQ(r.expectations[i].passed, full.expectations[i].passed);
      EXPECT_EQ(r.expectations[i].message, full.expectations[i].message);
    }
    EXPECT_TRUE(r.actions.empty());
    EXPECT_TRUE(r.counters.empty());
    EXPECT_EQ(full.actions.size(), 5u);
    EXPECT_FALSE(full.counters.empty());
    // Each half on its own builds exactly what the full report has of it.
    RunOptions actions_only;
    actions_only.report_counters = false;
    const RunResult a = run_scenario(s, 1, actions_only);
    EXPECT_EQ(a.actions, full.actions);
    EXPECT_TRUE(a.counters.empty());
    RunOptions counters_only;
    counters_only.report_actions = false;
    const RunResult c = run_scenario(s, 1, counters_only);
    EXPECT_TRUE(c.actions.empty());
    EXPECT_EQ(c.counters, full.counters);
  }
  EXPECT_FALSE(run_text(failing).passed);
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

// The transaction IDs of the Binding requests the STUN server received in a run, read
// from its pcap (raw IPv4: IP header, 8-byte UDP header, then STUN with the ID at 8..20).
std::vector<std::array<std::uint8_t, 12>> binding_ids(const std::string& text, std::uint64_t seed,
                                                      const std::string& label) {
  const auto dir = std::filesystem::temp_directory_path() / ("natsim_runner_test_" + label);
  std::filesystem::create_directories(dir);
  RunOptions options;
  options.pcap_dir = dir.string();
  auto scenarios = load_scenario_text(text, "test.json");
  (void)run_scenario(scenarios.front(), seed, options);
  std::ifstream in(dir / "stun.pcap", std::ios::binary);
  const std::vector<std::uint8_t> file{std::istreambuf_iterator<char>(in), {}};
  std::filesystem::remove_all(dir);
  auto pcap = sim::parse_pcap(ByteView(file.data(), file.size()));
  EXPECT_TRUE(pcap.has_value());
  std::vector<std::array<std::uint8_t, 12>> ids;
  if (!pcap) return ids;
  for (const sim::PcapRecord& rec : pcap->records) {
    const std::size_t stun = static_cast<std::size_t>(rec.data[0] & 0x0f) * 4 + 8;
    if (rec.data.size() < stun + 20 || rec.data[stun] != 0x00 || rec.data[stun + 1] != 0x01)
      continue;  // not a Binding request
    std::array<std::uint8_t, 12> id{};
    std::copy_n(rec.data.begin() + static_cast<std::ptrdiff_t>(stun + 8), 12, id.begin());
    ids.push_back(id);
  }
  return ids;
}

// Each action's machines draw from a stream named after the action, not its position:
// a sweep's seed 42 with the binding second and seed 43 with it first must not repeat a
// transaction, and an action added in front must not change another's.
TEST(Runner, ActionSeedsComeFromTheRunSeedAndTheActionsName) {
  const std::string head = R"({
    "name": "seeds",
    "topology": {
      "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10"}],
      "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice"]}]
    },
    "timeline": [)";
  const std::string binding =
      R"({"at": "1s", "id": "b", "action": "binding", "host": "alice", "server": "stun"}]})";
  const std::string second = head + R"({"id": "f", "action": "flush", "site": "home"}, )" + binding;
  const std::string first = head + binding;

  const auto a42 = binding_ids(second, 42, "a42");
  const auto b43 = binding_ids(first, 43, "b43");
  const auto b42 = binding_ids(first, 42, "b42");
  const auto again = binding_ids(second, 42, "again");
  ASSERT_EQ(a42.size(), 1u);
  ASSERT_EQ(b43.size(), 1u);
  EXPECT_NE(a42, b43);    // was equal with seed ^ index
  EXPECT_EQ(a42, b42);    // the flush in front changes nothing for "b"
  EXPECT_EQ(a42, again);  // same seed, same transaction
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
