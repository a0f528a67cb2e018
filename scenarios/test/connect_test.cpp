// The connect action: its keys and their errors, and runs on the simulator with the
// simulated times pinned (a direct and a relayed path, every step of the breakdown, full
// and trickled descriptions, relayed candidates only, failure and timeout, signalling
// loss, determinism, and the ICE restart after a gateway reboot or a renumbering).
//
// Links as in connect-baseline.json: uplinks 12.5 ms one way, servers 2.5 ms from the
// core, so peer to peer is 25 ms one way and a peer to a server 15 ms; signalling 25 ms
// one way.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

using nlohmann::json;

json base(const char* nat_a, const char* nat_b) {
  json doc = json::parse(R"({
    "name": "connect",
    "duration": "20s",
    "topology": {
      "servers": [
        {"name": "stun", "type": "stun", "address": "198.51.100.10", "link": {"latency": "2.5ms"}},
        {"name": "turn", "type": "turn", "address": "198.51.100.20",
         "users": {"alice": "alice-secret", "bob": "bob-secret"}, "link": {"latency": "2.5ms"}}
      ],
      "sites": [
        {"name": "home", "hosts": ["alice"], "uplink": {"latency": "12.5ms"}},
        {"name": "office", "hosts": ["bob"], "uplink": {"latency": "12.5ms"}}
      ]
    },
    "timeline": [
      {"id": "c", "action": "connect", "a": "alice", "b": "bob", "stun": "stun", "turn": "turn",
       "user": {"a": "alice", "b": "bob"}, "count": 3, "interval": "20ms"}
    ]
  })");
  doc["topology"]["sites"][0]["nat"] = nat_a;
  doc["topology"]["sites"][1]["nat"] = nat_b;
  return doc;
}

json& action(json& doc) {
  return doc["timeline"][0];
}

std::string load_error(const json& doc) {
  try {
    (void)load_scenario_text(doc.dump(), "test.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

RunResult run(const json& doc, std::uint64_t seed = 1) {
  auto scenarios = load_scenario_text(doc.dump(), "test.json");
  EXPECT_EQ(scenarios.size(), 1u);
  return run_scenario(scenarios.front(), seed);
}

// The connect action's report entry.
json report(const json& doc, std::uint64_t seed = 1) {
  const RunResult r = run(doc, seed);
  for (const auto& e : r.expectations)
    EXPECT_TRUE(e.passed) << e.pointer << ": " << e.message;
  return r.actions[0];
}

TEST(ConnectLoader, AcceptsEveryKey) {
  json doc = base("full-cone", "symmetric");
  action(doc).update({{"controlling", "b"},
                      {"ice",
                       {{"nomination", "aggressive"},
                        {"ta_ms", 20},
                        {"trickle", false},
                        {"policy", "relay_only"},
                        {"restart", false},
                        {"restart_after_silence", "10s"}}},
                      {"signalling", {{"delay", "40ms"}, {"loss", 0.1}}},
                      {"timeout", "30s"},
                      {"size", 200}});
  doc["expect"] = {{{"action", "c"},
                    {"outcome", "connected"},
                    {"path", {"relay", "mapped"}},
                    {"setup_ms", {{"max", 5000}}},
                    {"gathering_ms", {{"min", 0}}},
                    {"offer_sent_ms", 0},
                    {"answer_received_ms", {{"min", 80}}},
                    {"first_check_ms", {{"min", 0}}},
                    {"first_success_ms", {{"min", 0}}},
                    {"nomination_ms", {{"max", 5000}}},
                    {"first_data_ms", {{"max", 5000}}},
                    {"consent_lost_ms", {{"min", 0}}},
                    {"reconnect_ms", {{"min", 0}}},
                    {"delivered", 3},
                    {"echoed", 3}}};
  EXPECT_EQ(load_error(doc), "");
  json one_user = base("full-cone", "symmetric");
  action(one_user)["user"] = "alice";
  EXPECT_EQ(load_error(one_user), "");
}

TEST(ConnectLoader, ErrorsNameTheFileAndPointer) {
  auto error = [](auto&& change) {
    json doc = base("full-cone", "symmetric");
    change(doc);
    return load_error(doc);
  };
  EXPECT_EQ(error([](json& d) { action(d)["b"] = "alice"; }),
            "test.json: /timeline/0/b: b must be another host than a");
  EXPECT_EQ(error([](json& d) { action(d)["a"] = "carol"; }),
            "test.json: /timeline/0/a: no host named 'carol' (hosts: alice, bob)");
  EXPECT_EQ(error([](json& d) { action(d)["turn"] = "stun"; }),
            "test.json: /timeline/0/turn: server 'stun' is not a TURN server");
  EXPECT_EQ(error([](json& d) { action(d)["user"]["b"] = "carol"; }),
            "test.json: /timeline/0/user/b: no user 'carol' on TURN server 'turn'");
  EXPECT_EQ(error([](json& d) { action(d).erase("turn"); }),
            "test.json: /timeline/0/user: 'user' needs a 'turn' server");
  EXPECT_EQ(error([](json& d) {
              action(d).erase("turn");
              action(d).erase("user");
              action(d)["ice"] = {{"policy", "relay_only"}};
            }),
            "test.json: /timeline/0/ice/policy: relay_only needs a 'turn' server");
  EXPECT_EQ(error([](json& d) {
              action(d)["ice"] = {{"nomnation", "regular"}};
            }),
            "test.json: /timeline/0/ice/nomnation: unknown key 'nomnation', expected one of "
            "nomination, ta_ms, trickle, policy, restart, restart_after_silence");
  EXPECT_EQ(error([](json& d) {
              action(d)["ice"] = {{"restart_after_silence", "5s"}};
            }),
            "test.json: /timeline/0/ice/restart_after_silence: must be at least 7s");
  EXPECT_EQ(error([](json& d) {
              action(d)["ice"] = {{"nomination", "eager"}};
            }),
            "test.json: /timeline/0/ice/nomination: unknown value 'eager', expected regular, "
            "aggressive");
  EXPECT_EQ(error([](json& d) { action(d)["controlling"] = "c"; }),
            "test.json: /timeline/0/controlling: unknown value 'c', expected a, b");
  EXPECT_EQ(error([](json& d) {
              action(d)["signalling"] = {{"jitter", "1ms"}};
            }),
            "test.json: /timeline/0/signalling/jitter: unknown key 'jitter', expected one of "
            "delay, loss");
  EXPECT_EQ(error([](json& d) { action(d)["timeout"] = "0s"; }),
            "test.json: /timeline/0/timeout: expected a positive duration");
  EXPECT_EQ(error([](json& d) {
              d["expect"] = {{{"action", "c"}, {"path", {"relay", "direct"}}}};
            }),
            "test.json: /expect/0/path/1: unknown value 'direct', expected host, srflx, prflx, "
            "mapped, relay");
  EXPECT_EQ(error([](json& d) {
              d["expect"] = {{{"action", "c"}, {"outcome", "success"}}};
            }),
            "test.json: /expect/0/outcome: unknown value 'success', expected connected, failed, "
            "timeout");
  EXPECT_EQ(error([](json& d) {
              d["expect"] = {{{"action", "c"}, {"rtt_ms", 5}}};
            }),
            "test.json: /expect/0/rtt_ms: 'rtt_ms' does not apply to a connect action");
  EXPECT_EQ(error([](json& d) {
              d["expect"] = {{{"action", "c"}, {"setup_ms", {{"min", 9}, {"max", 1}}}}};
            }),
            "test.json: /expect/0/setup_ms: min is greater than max");
}

TEST(ConnectRun, FullConeAndSymmetricConnectDirectly) {
  const json a = report(base("full-cone", "symmetric"));
  EXPECT_EQ(a["outcome"], "connected");
  EXPECT_EQ(a["path"], "prflx");
  EXPECT_EQ(a["local"]["type"], "srflx");
  EXPECT_EQ(a["remote"]["type"], "prflx");
  EXPECT_EQ(a["setup_ms"], 250.0);
  EXPECT_EQ(a["breakdown"], json({{"gathering_ms", 85.0},
                                  {"offer_sent_ms", 0.0},
                                  {"answer_received_ms", 50.0},
                                  {"first_check_ms", 25.0},
                                  {"first_success_ms", 125.0},
                                  {"nomination_ms", 250.0},
                                  {"first_data_ms", 275.0}}));
  EXPECT_EQ(a["delivered"], 3);
  EXPECT_EQ(a["echoed"], 3);
}

TEST(ConnectRun, SymmetricNatsConnectThroughTheRelay) {
  const json a = report(base("symmetric", "symmetric"));
  EXPECT_EQ(a["outcome"], "connected");
  EXPECT_EQ(a["path"], "relay");
  EXPECT_EQ(a["remote"]["type"], "relay");
  EXPECT_EQ(a["setup_ms"], 770.0);
  EXPECT_EQ(a["breakdown"]["first_success_ms"], 260.0);
  EXPECT_EQ(a["breakdown"]["first_data_ms"], 800.0);
  EXPECT_EQ(a["echoed"], 3);
}

// connect-baseline.json: two port-restricted cones punch a hole. The offer leaves at 0
// and reaches bob at 25; bob gathers and answers at once (trickle) and checks alice's
// candidates; the answer reaches alice at 50.
TEST(ConnectRun, BaselineBreakdown) {
  const json a = report(base("port-restricted-cone", "port-restricted-cone"));
  EXPECT_EQ(a["path"], "srflx");
  EXPECT_EQ(a["breakdown"], json({{"gathering_ms", 85.0},
                                  {"offer_sent_ms", 0.0},
                                  {"answer_received_ms", 50.0},
                                  {"first_check_ms", 25.0},
                                  {"first_success_ms", 150.0},
                                  {"nomination_ms", 225.0},
                                  {"first_data_ms", 250.0}}));
  EXPECT_EQ(a["setup_ms"], 225.0);
  const json& offerer = a["sides"]["offerer"];
  EXPECT_EQ(offerer["host"], "alice");
  EXPECT_EQ(offerer["gathering_ms"], 60.0);  // the TURN Allocate: challenge, then request
  EXPECT_EQ(offerer["selected_ms"], 200.0);
  EXPECT_EQ(a["sides"]["answerer"]["selected_ms"], 225.0);
  EXPECT_EQ(a["line"], "connected, srflx path in 225 ms, 3 sent, 3 delivered, 3 echoed");
}

// Without trickle each side describes itself once gathered: the offer waits for alice's
// TURN allocation (60 ms), the answer for bob's (60 ms after the offer arrives).
TEST(ConnectRun, FullDescriptionsWaitForGathering) {
  json doc = base("port-restricted-cone", "port-restricted-cone");
  action(doc)["ice"] = {{"trickle", false}};
  const json a = report(doc);
  EXPECT_EQ(a["path"], "srflx");
  EXPECT_EQ(a["breakdown"]["offer_sent_ms"], 60.0);
  EXPECT_EQ(a["breakdown"]["answer_received_ms"], 170.0);
  EXPECT_EQ(a["setup_ms"], 285.0);
  EXPECT_EQ(a["signalling"]["messages"], 2);
}

TEST(ConnectRun, RelayOnlyPairsRelayedCandidatesOnly) {
  json doc = base("full-cone", "full-cone");
  action(doc)["ice"] = {{"policy", "relay_only"}};
  const json a = report(doc);
  EXPECT_EQ(a["path"], "relay");
  EXPECT_EQ(a["local"]["type"], "relay");
  EXPECT_EQ(a["remote"]["type"], "relay");
  EXPECT_EQ(a["setup_ms"], 260.0);
  EXPECT_EQ(a["echoed"], 3);
}

TEST(ConnectRun, SymmetricNatsWithoutRelayFailWithTheAgentsReason) {
  json doc = base("symmetric", "symmetric");
  action(doc).erase("turn");
  action(doc).erase("user");
  doc["duration"] = "2m";
  const json a = report(doc);
  EXPECT_EQ(a["outcome"], "failed");
  EXPECT_EQ(a["reason"], "alice: all 2 candidate pairs failed");
  EXPECT_TRUE(a["path"].is_null());
  EXPECT_TRUE(a["setup_ms"].is_null());
  EXPECT_EQ(a["sent"], 0);

  action(doc)["timeout"] = "5s";
  const json t = report(doc);
  EXPECT_EQ(t["outcome"], "timeout");
  EXPECT_EQ(t["reason"], "alice: no pair selected within 5s");
}

// A lost signalling message is sent again a second later, and what follows it waits.
TEST(ConnectRun, SignallingLossDelaysTheDescriptions) {
  json doc = base("port-restricted-cone", "port-restricted-cone");
  action(doc)["signalling"] = {{"loss", 0.5}};
  const json a = report(doc);
  EXPECT_EQ(a["outcome"], "connected");
  EXPECT_EQ(a["signalling"]["lost"], 10);
  EXPECT_EQ(a["breakdown"]["answer_received_ms"], 5050.0);  // five lost attempts, 1 s each
  EXPECT_EQ(a["setup_ms"], 6180.0);
}

TEST(ConnectRun, SameSeedSameResult) {
  json doc = base("port-restricted-cone", "symmetric");
  doc["topology"]["sites"][0]["uplink"]["loss"] = 0.05;
  doc["topology"]["sites"][1]["uplink"]["loss"] = 0.05;
  action(doc)["signalling"] = {{"loss", 0.2}};
  const RunResult x = run(doc, 7);
  const RunResult y = run(doc, 7);
  const RunResult z = run(doc, 8);
  EXPECT_EQ(x.actions[0]["outcome"], "connected");
  EXPECT_EQ(x.actions[0]["local"], y.actions[0]["local"]);
  EXPECT_EQ(x.actions[0]["remote"], y.actions[0]["remote"]);
  EXPECT_EQ(x.actions[0]["breakdown"], y.actions[0]["breakdown"]);
  EXPECT_EQ(x.actions, y.actions);
  EXPECT_EQ(x.digest, y.digest);
  EXPECT_NE(x.digest, z.digest);
  EXPECT_EQ(digest_hex(x.digest), "bb99555fc647e7b7");
  EXPECT_EQ(x.actions[0]["setup_ms"], 2400.0);
}

// After the home gateway reboots with a new WAN address, consent checks go unanswered:
// consent is lost 30 s after the last answer (RFC 7675), the side that notices restarts
// ICE (RFC 8445 §9) and the other follows its new description.
TEST(ConnectRun, RestartsIceAfterAGatewayReboot) {
  json doc = base("port-restricted-cone", "port-restricted-cone");
  doc["duration"] = "2m";
  doc["timeline"].push_back({{"at", "10s"},
                             {"action", "reboot"},
                             {"site", "home"},
                             {"downtime", "2s"},
                             {"new_address", "203.0.113.66/30"}});
  doc["expect"] = {{{"action", "c"},
                    {"outcome", "connected"},
                    {"consent_lost_ms", {{"min", 30000}, {"max", 40000}}},
                    {"reconnect_ms", {{"max", 40000}}}}};
  const json a = report(doc);
  EXPECT_EQ(a["consent_lost_ms"], 36042.543294);
  EXPECT_EQ(a["reconnect_ms"], 36242.543294);
  EXPECT_EQ(a["restarts"], 1);
  EXPECT_EQ(a["path"], "srflx");
  EXPECT_EQ(a["local"]["address"], "203.0.113.66:51906");  // alice's new mapping
}

TEST(ConnectRun, RestartsIceAfterARenumbering) {
  json doc = base("port-restricted-cone", "full-cone");
  doc["duration"] = "2m";
  doc["timeline"].push_back({{"at", "10s"},
                             {"action", "change_address"},
                             {"site", "office"},
                             {"address", "203.0.113.70/30"}});
  const json a = report(doc);
  EXPECT_EQ(a["consent_lost_ms"], 36042.543294);
  EXPECT_EQ(a["reconnect_ms"], 36267.543294);
  EXPECT_EQ(a["restarts"], 1);
  EXPECT_EQ(a["remote"]["address"], "203.0.113.70:59233");  // bob's new mapping

  action(doc)["ice"] = {{"restart", false}};
  const json b = report(doc);
  EXPECT_EQ(b["consent_lost_ms"], a["consent_lost_ms"]);
  EXPECT_TRUE(b["reconnect_ms"].is_null());
  EXPECT_EQ(b["restarts"], 0);
}

}  // namespace
}  // namespace natsim::scenarios
