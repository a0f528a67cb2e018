// What a machine's event handler sends leaves at that instant: the relay action echoes
// each datagram from inside the TURN client's event handler, and the echo must reach the
// peer one relay trip after the datagram reached the host, not at the client's next
// refresh timer minutes later.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

const char* kRelayOnce = R"({
  "name": "relay-once",
  "duration": "5m",
  "topology": {
    "core": {"latency": "10ms"},
    "servers": [{"name": "turn", "type": "turn", "address": "198.51.100.30", "users": {"alice": "secret"}}],
    "sites": [
      {"name": "home", "nat": "symmetric", "hosts": ["alice"]},
      {"name": "office", "nat": "symmetric", "hosts": ["bob"]}
    ]
  },
  "timeline": [
    {"id": "r", "action": "relay", "host": "alice", "peer": "bob", "server": "turn", "user": "alice", "count": 1}
  ],
  "expect": [{"action": "r", "outcome": "success", "delivered": 1, "echoed": 1}]
})";

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("NATSIM_TEST_TMP");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

TEST(Drain, AnEchoSentFromAnEventHandlerLeavesAtOnce) {
  auto scenarios = load_scenario_text(kRelayOnce, "relay-once.json");
  ASSERT_EQ(scenarios.size(), 1u);
  RunOptions options;
  options.trace_path = temp_path("drain_test_trace.jsonl");
  const RunResult r = run_scenario(scenarios.front(), 1, options);
  for (const auto& e : r.expectations)
    EXPECT_TRUE(e.passed) << e.pointer << ": " << e.message;

  // From the trace: bob sends to the relayed address, alice gets the Data indication,
  // bob gets the echo. The trip back takes as long as the trip there.
  std::ifstream in(options.trace_path);
  std::int64_t sent = -1, at_alice = -1, echo = -1;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string ev = j["ev"], at = j["at"], dst = j.value("dst", "");
    const std::int64_t t = j["t_ns"];
    if (sent < 0) {
      if (ev == "send" && at == "bob" && dst.find(":3478") == std::string::npos) sent = t;
    } else if (at_alice < 0) {
      if (ev == "deliver" && at == "alice") at_alice = t;
    } else if (echo < 0 && ev == "deliver" && at == "bob") {
      echo = t;
    }
  }
  ASSERT_GE(sent, 0);
  ASSERT_GT(at_alice, sent);
  ASSERT_GT(echo, at_alice);
  EXPECT_EQ(echo - at_alice, at_alice - sent);
  EXPECT_LT(echo - sent, 1'000'000'000);  // well under a second, not at a refresh
}

}  // namespace
}  // namespace natsim::scenarios
