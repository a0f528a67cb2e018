#pragma once
// Runs a scenario in virtual time: builds the world, plays the timeline, evaluates the
// expectations. Deterministic: the same scenario and seed give the same result and digest.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios {

class World;

struct RunOptions {
  std::string pcap_dir;    // if set, one pcap per gateway and server: DIR/<name>.pcap
  std::string trace_path;  // if set, the JSON Lines trace of the run
  // What RunResult carries besides pass/fail, expectations and digest: each action's
  // report entry and each node's counters. Building them is a sixth of a short connect
  // run's cost, so callers that read neither (benchmarks, pass/fail sweeps) turn them
  // off; the simulation, the expectations and the digest are the same either way.
  bool report_actions = true;
  bool report_counters = true;
};

struct ExpectationResult {
  std::string pointer;  // of the expectation in the file
  bool passed = false;
  std::string message;  // what was expected and what happened
};

struct RunResult {
  std::string file;
  std::string name;
  std::string variant;
  std::uint64_t seed = 0;
  bool passed = false;
  std::uint64_t digest = 0;
  Duration simulated{0};
  std::vector<ExpectationResult> expectations;
  nlohmann::json actions = nlohmann::json::array();    // one outcome per timeline action
  nlohmann::json counters = nlohmann::json::object();  // per node
  // Both empty when the run's options turned them off.
};

[[nodiscard]] RunResult run_scenario(const Scenario& scenario, std::uint64_t seed,
                                     const RunOptions& options = {});
[[nodiscard]] nlohmann::json to_json(const RunResult& result);
// Each node's counters as RunResult::counters holds them (packets, drops by reason, and a
// TURN server's, a gateway's port-mapping and UPnP counters): for `natsim bridge` too.
[[nodiscard]] nlohmann::json counters_report(const World& world);
[[nodiscard]] std::string digest_hex(std::uint64_t digest);

}  // namespace natsim::scenarios
