// Connection setup as a user runs it: a whole connect scenario (a fresh world, STUN and
// TURN servers, two sites, gathering, ICE checks, nomination, one datagram each way) per
// iteration.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace {

using namespace natsim;
using scenarios::Scenario;

// The connect-baseline world (peers 50 ms apart round trip, servers 30 ms round trip from
// a peer, signalling 25 ms one way), two port-restricted cones, run until the one
// datagram each way has arrived: what pion's icebench times with -latency=25ms.
constexpr const char* kConnect = R"({
  "name": "bench-connect", "seed": 1, "duration": "400ms",
  "topology": {
    "servers": [
      { "name": "stun", "type": "stun", "address": "198.51.100.10", "link": { "latency": "2.5ms" } },
      { "name": "turn", "type": "turn", "address": "198.51.100.20",
        "users": { "alice": "alice-secret", "bob": "bob-secret" }, "link": { "latency": "2.5ms" } }
    ],
    "sites": [
      { "name": "home", "nat": "port-restricted-cone", "hosts": ["alice"], "uplink": { "latency": "12.5ms" } },
      { "name": "office", "nat": "port-restricted-cone", "hosts": ["bob"], "uplink": { "latency": "12.5ms" } }
    ]
  },
  "timeline": [
    { "id": "connect", "action": "connect", "a": "alice", "b": "bob", "stun": "stun", "turn": "turn",
      "user": { "a": "alice", "b": "bob" }, "signalling": { "delay": "25ms" }, "count": 1 }
  ],
  "expect": [ { "action": "connect", "outcome": "connected", "delivered": 1, "echoed": 1 } ]
})";

// Without the per-action JSON report and per-node counters (RunOptions): what a
// benchmark or a pass/fail sweep needs. `report` builds them as `natsim run --json` does.
void run_all(benchmark::State& state, const std::vector<Scenario>& variants, bool report = false) {
  scenarios::RunOptions options;
  options.report_actions = report;
  options.report_counters = report;
  std::size_t failed = 0;
  for (auto _ : state) {
    for (const Scenario& s : variants) {
      failed += scenarios::run_scenario(s, s.seeds.front(), options).passed ? 0 : 1;
    }
  }
  if (failed != 0) state.SkipWithError("a connect did not pass its expectations");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(variants.size()));
}

void BM_IceConnect(benchmark::State& state) {
  run_all(state, scenarios::load_scenario_text(kConnect, "bench-connect.json"));
}
BENCHMARK(BM_IceConnect)->Unit(benchmark::kMicrosecond);

// The like-for-like counterpart of pion's `vnetbench -mode=punch`: a fresh world with one
// STUN server and two port-restricted sites, no TURN; gathering (host + server-reflexive),
// ICE checks, nomination, one datagram each way. Peers are 50 ms apart round trip (pion
// models no delay at all), so the simulated work is the same and virtual time costs nothing.
constexpr const char* kPunch = R"({
  "name": "bench-punch", "seed": 1, "duration": "400ms",
  "topology": {
    "servers": [
      { "name": "stun", "type": "stun", "address": "198.51.100.10", "link": { "latency": "2.5ms" } }
    ],
    "sites": [
      { "name": "home", "nat": "port-restricted-cone", "hosts": ["alice"], "uplink": { "latency": "12.5ms" } },
      { "name": "office", "nat": "port-restricted-cone", "hosts": ["bob"], "uplink": { "latency": "12.5ms" } }
    ]
  },
  "timeline": [
    { "id": "connect", "action": "connect", "a": "alice", "b": "bob", "stun": "stun",
      "signalling": { "delay": "25ms" }, "count": 1 }
  ],
  "expect": [ { "action": "connect", "outcome": "connected", "path": "srflx", "delivered": 1, "echoed": 1 } ]
})";

void BM_IcePunch(benchmark::State& state) {
  run_all(state, scenarios::load_scenario_text(kPunch, "bench-punch.json"));
}
BENCHMARK(BM_IcePunch)->Unit(benchmark::kMicrosecond);

// The same with the run's JSON report built (actions and counters), as `natsim run --json`.
void BM_IcePunchReport(benchmark::State& state) {
  run_all(state, scenarios::load_scenario_text(kPunch, "bench-punch.json"), true);
}
BENCHMARK(BM_IcePunchReport)->Unit(benchmark::kMicrosecond);

// The 81 RFC 4787 NAT pairs of scenarios/library/ice-nat-matrix.json, every variant per
// iteration: direct paths, relays and the waits between them.
void BM_IceMatrix(benchmark::State& state) {
  run_all(state,
          scenarios::load_scenario_file(std::string(NATSIM_LIBRARY_DIR) + "/ice-nat-matrix.json"));
}
BENCHMARK(BM_IceMatrix)->Unit(benchmark::kMillisecond);

}  // namespace
