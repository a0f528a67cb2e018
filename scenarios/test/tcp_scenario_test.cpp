// TCP from scenarios: TURN over TCP in the simulator, the tcp and tcp_punch actions, and
// the NAT's tcp_unsolicited_syn knob. The library scenarios pin their figures in their
// expectations; these tests pin them again, with the times a reader can derive.
#include <gtest/gtest.h>

#include <string>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world_builder.hpp"
#include "natsim/traversal/stun_client.hpp"

namespace natsim::scenarios {
namespace {

using nlohmann::json;

std::vector<Scenario> library(const char* file) {
  return load_scenario_file(std::string(NATSIM_SCENARIO_DIR) + "/library/" + file);
}

RunResult run_first(const Scenario& s) {
  return run_scenario(s, s.seeds.front());
}

TEST(TcpScenario, TurnOverTcpRelaysAndEchoesWithOneMoreRoundTrip) {
  const auto scenarios = library("relay-tcp-between-symmetric-nats.json");
  ASSERT_EQ(scenarios.size(), 1u);
  const RunResult r = run_first(scenarios.front());
  EXPECT_TRUE(r.passed);
  const json& tcp = r.actions[0];
  const json& udp = r.actions[1];
  EXPECT_EQ(tcp["transport"], "tcp");
  EXPECT_EQ(tcp["outcome"], "success");
  EXPECT_EQ(tcp["delivered"], 10);
  EXPECT_EQ(tcp["echoed"], 10);
  // RTT 40 ms: the handshake, Allocate (401), Allocate, CreatePermission.
  EXPECT_EQ(tcp["setup_ms"], 160.0);
  // Over UDP the handshake is not needed.
  EXPECT_FALSE(udp.contains("transport"));
  EXPECT_EQ(udp["setup_ms"], 120.0);
  EXPECT_EQ(udp["echoed"], 10);
}

TEST(TcpScenario, TurnOverTcpGivesTheSameDigestOnEveryRun) {
  const Scenario s = library("relay-tcp-between-symmetric-nats.json").front();
  const RunResult first = run_first(s);
  for (int i = 0; i < 3; ++i) {
    const RunResult again = run_first(s);
    EXPECT_EQ(digest_hex(again.digest), digest_hex(first.digest));
    EXPECT_EQ(again.actions, first.actions);
  }
}

TEST(TcpScenario, TransferToTheEchoServerCleanLossyAndRefused) {
  const RunResult r = run_first(library("tcp-lossy-transfer.json").front());
  EXPECT_TRUE(r.passed);
  const json& clean = r.actions[0];
  const json& lossy = r.actions[2];
  const json& refused = r.actions[3];
  // 50 ms: the SYN and SYN-ACK cross the 10 Mbps uplink twice (RTT 50 ms plus 70.4 µs of
  // serialisation for the two 44-byte handshake segments).
  EXPECT_EQ(clean["connect_ms"], 50.0704);
  EXPECT_EQ(clean["transferred"], 200000);
  EXPECT_EQ(clean["duration_ms"], 400.452);
  EXPECT_EQ(lossy["connect_ms"], 50.0704);
  EXPECT_EQ(lossy["transferred"], 200000);
  EXPECT_EQ(lossy["duration_ms"], 1100.9072);
  EXPECT_GT(lossy["duration_ms"].get<double>(), clean["duration_ms"].get<double>());
  EXPECT_EQ(refused["outcome"], "refused");
  EXPECT_EQ(refused["connected"], false);
  EXPECT_TRUE(refused["connect_ms"].is_null());
}

TEST(TcpScenario, PunchWorksBehindEndpointIndependentMappingOnly) {
  const auto variants = library("tcp-punch-presets.json");
  ASSERT_EQ(variants.size(), 9u);
  for (const Scenario& s : variants) {
    const RunResult r = run_first(s);
    EXPECT_TRUE(r.passed) << r.variant;
    const json& a = r.actions[0];
    // Both Bindings over TCP: the handshake and the request, 2 RTTs of 40 ms.
    EXPECT_EQ(a["mapped_ms"], 80.0) << r.variant;
    if (r.variant == "symmetric" || r.variant == "enterprise-strict") {
      EXPECT_EQ(a["outcome"], "timed_out") << r.variant;
      EXPECT_EQ(a["connected"], false) << r.variant;
    } else {
      // 80 ms mapped + 100 ms exchange + the crossing SYNs (30 ms one way) and the
      // SYN-ACKs that answer them (30 ms): 240 ms.
      EXPECT_EQ(a["outcome"], "success") << r.variant;
      EXPECT_EQ(a["connect_ms"], 240.0) << r.variant;
      EXPECT_EQ(a["transferred"], 50000) << r.variant;
      EXPECT_EQ(a["duration_ms"], 140.0) << r.variant;
    }
  }
}

TEST(TcpScenario, ANatThatResetsUnsolicitedSynsDefeatsAStaggeredPunch) {
  const auto variants = library("tcp-punch-unsolicited-syn.json");
  ASSERT_EQ(variants.size(), 2u);
  const RunResult drop = run_first(variants[0]);
  const RunResult reset = run_first(variants[1]);
  EXPECT_TRUE(drop.passed);
  EXPECT_TRUE(reset.passed);
  // Dropped: alice's SYN is lost at bob's NAT; bob's SYN (200 ms later) is a
  // simultaneous open at alice's side.
  EXPECT_EQ(drop.actions[0]["outcome"], "success");
  EXPECT_EQ(drop.actions[0]["connect_ms"], 440.0);
  // Reset: alice's connect is refused at once, then bob's is refused by alice's host.
  EXPECT_EQ(reset.actions[0]["outcome"], "refused");
  EXPECT_EQ(reset.actions[0]["host_outcome"], "refused");
  EXPECT_EQ(reset.actions[0]["transferred"], 0);
}

// A datagram machine carried over TCP: the STUN client's Binding goes over a connection
// the driver opened, the server's answer comes back on it, and closing the driver from
// the event handler (while the driver is still handling the answer) is safe.
TEST(SimDriverTcp, StunBindingOverTcpLearnsTheTcpMapping) {
  sim::LinkParams core;
  core.latency = milliseconds(10);
  auto world = WorldBuilder(1)
                   .core_link(core)
                   .stun_server("stun", "198.51.100.10")
                   .site("home", "port-restricted-cone", {"alice"})
                   .build();
  sim::Host& alice = world->host("alice");
  traversal::stun::RetransmitPolicy once;
  once.rto = once.ti;
  once.rc = 1;
  once.rm = 1;
  traversal::stun::StunClient client(7, once);
  SimDriver<traversal::stun::StunClient> driver(alice, client, {});
  std::optional<traversal::stun::BindingResult> result;
  TimePoint answered;
  driver.on_event([&](const traversal::stun::BindingResult& b) {
    result = b;
    answered = world->net.now();
    driver.close();
  });
  sim::TcpSocket* s = driver.open(world->server("stun"), 40000).value();
  EXPECT_EQ(s->local().port, 40000);
  client.send_binding(world->net.now(), s->local(), world->server("stun"));
  driver.pump();
  world->net.run_for(seconds(5));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, traversal::stun::BindingResult::Outcome::success);
  // The handshake, then the request and its answer: two round trips of 40 ms.
  EXPECT_EQ(answered, TimePoint{milliseconds(80)});
  // The port-preserving NAT kept the connection's port.
  EXPECT_EQ(result->mapped->port, 40000);
  EXPECT_EQ(result->transmissions, 1);
  EXPECT_EQ(driver.stream_count(), 0u);
  EXPECT_EQ(driver.unroutable(), 0u);
  // Both sides closed: no connection is left in either table.
  EXPECT_EQ(world->servers.at("stun").driver->stream_count(), 0u);
}

// A scenario with one timeline action and its expectation, to break in one place.
json base() {
  return json::parse(R"({
    "name": "tcp",
    "seed": 1,
    "topology": {
      "servers": [{"name": "echo", "type": "echo", "address": "198.51.100.20"},
                  {"name": "stun", "type": "stun", "address": "198.51.100.10"},
                  {"name": "turn", "type": "turn", "address": "198.51.100.30", "users": {"u": "p"}}],
      "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice", "bob"]}]
    },
    "timeline": [
      {"at": "0s", "id": "t", "action": "tcp", "host": "alice", "server": "echo", "bytes": 1000},
      {"at": "0s", "id": "p", "action": "tcp_punch", "host": "alice", "peer": "bob", "server": "stun"},
      {"at": "0s", "id": "r", "action": "relay", "host": "alice", "peer": "bob", "server": "turn", "user": "u", "transport": "tcp"}
    ],
    "expect": [{"action": "t", "outcome": "success", "transferred": 1000, "duration_ms": {"max": 1000}}]
  })");
}

std::string error_of(const json& doc) {
  try {
    (void)load_scenario_text(doc.dump(2), "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TcpScenarioLoader, ValidKeysLoad) {
  EXPECT_EQ(error_of(base()), "no error");
}

TEST(TcpScenarioLoader, BadKeysAreErrors) {
  auto with = [](const char* pointer, json value) {
    json d = base();
    d[json::json_pointer(pointer)] = std::move(value);
    return error_of(d);
  };
  auto has = [](const std::string& e, const char* part) {
    return e.find(part) != std::string::npos;
  };
  std::string e = with("/timeline/0/bytes", -1);
  EXPECT_TRUE(has(e, "/timeline/0/bytes")) << e;
  e = with("/timeline/0/port", 70000);
  EXPECT_TRUE(has(e, "/timeline/0/port")) << e;
  e = with("/timeline/0/echo", "yes");
  EXPECT_TRUE(has(e, "/timeline/0/echo")) << e;
  e = with("/timeline/0/server", "nowhere");
  EXPECT_TRUE(has(e, "/timeline/0/server")) << e;
  e = with("/timeline/1/peer", "alice");
  EXPECT_TRUE(has(e, "/timeline/1/peer: the peer must be another host")) << e;
  e = with("/timeline/1/server", "echo");
  EXPECT_TRUE(has(e, "/timeline/1/server")) << e;
  e = with("/timeline/1/stagger", "-1s");
  EXPECT_TRUE(has(e, "/timeline/1/stagger")) << e;
  e = with("/timeline/1/exchange", "11m");
  EXPECT_TRUE(has(e, "/timeline/1/exchange")) << e;
  e = with("/timeline/2/transport", "sctp");
  EXPECT_TRUE(has(e, "/timeline/2/transport")) << e;
  EXPECT_TRUE(has(e, "udp")) << e;
  e = with("/expect/0/outcome", "connected");
  EXPECT_TRUE(has(e, "/expect/0/outcome")) << e;
  e = with("/expect/0/duration_ms", "fast");
  EXPECT_TRUE(has(e, "/expect/0/duration_ms")) << e;
  e = with("/topology/sites/0/nat",
           json{{"preset", "full-cone"}, {"tcp_unsolicited_syn", "maybe"}});
  EXPECT_TRUE(has(e, "tcp_unsolicited_syn")) << e;
  EXPECT_TRUE(has(e, "drop or reset")) << e;
}

}  // namespace
}  // namespace natsim::scenarios
