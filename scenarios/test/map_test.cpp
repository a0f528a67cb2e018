// The map action and the site's port_mapping knob: mappings made with PCP and NAT-PMP,
// reached from outside, kept across a gateway reboot, refused by quota and protocol, and
// the instants at which each happens (the LAN link has 1 ms each way, so one request and
// its answer take 2 ms).
#include <gtest/gtest.h>

#include <string>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

// A home site with `site_extra` (e.g. its port_mapping), a public host "peer", and
// `timeline`; run for `duration`.
RunResult run_map(const std::string& site_extra, const std::string& timeline,
                  const std::string& duration = "1m", const std::string& expect = "[]") {
  const std::string text = R"({"name": "t", "duration": ")" + duration + R"(",
    "topology": {
      "core": {"latency": "10ms"},
      "servers": [{"name": "peer", "type": "host", "address": "198.51.100.30"}],
      "sites": [{"name": "home", "nat": "symmetric", "hosts": ["alice", "bob"],
                 "lan_link": {"latency": "1ms"})" +
                           site_extra + R"(}]},
    "timeline": )" + timeline +
                           R"(, "expect": )" + expect + "}";
  auto scenarios = load_scenario_text(text, "map.json");
  EXPECT_EQ(scenarios.size(), 1u);
  return run_scenario(scenarios.front(), 1);
}

TEST(MapAction, PcpMappingIsReachableFromOutsideThroughASymmetricNat) {
  const RunResult r = run_map(R"(, "port_mapping": true)", R"([
      {"action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000,
       "suggested_port": 40000, "lifetime": "1h", "from": "peer", "count": 5, "interval": "1s"}])");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["outcome"], "success");
  EXPECT_EQ(a["protocol"], "pcp");
  EXPECT_EQ(a["external"], "203.0.0.2:40000");
  EXPECT_EQ(a["internal"], "10.0.0.2:40000");
  EXPECT_EQ(a["lifetime"], 3600);
  EXPECT_EQ(a["mapped_ms"], 2.0);  // one LAN round trip
  EXPECT_EQ(a["epoch"], 0);
  EXPECT_EQ(a["double_nat"], false);
  EXPECT_EQ(a["delivered"], 5);
  EXPECT_EQ(a["echoed"], 5);
  EXPECT_EQ(r.counters["home"]["port_mapping"]["pcp.mapped"], 1);
}

TEST(MapAction, WithoutTheServiceTheMapperTriesPcpThenNatPmpThenTimesOut) {
  const RunResult r = run_map("", R"([
      {"action": "map", "host": "alice", "internal_port": 40000}])",
                              "5m");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["outcome"], "timeout");
  EXPECT_TRUE(a["mapped_ms"].is_null());
  // RFC 6887 §8.1.1: PCP at 0, 3 and 9 s, given up at 21 s; RFC 6886 §3.1: NAT-PMP nine
  // times from 250 ms doubling, given up 127.75 s later; then UPnP IGD's M-SEARCH three
  // times, MX 2 s + 1 s apart, unanswered.
  EXPECT_EQ(a["failed_ms"], 21000.0 + 127750.0 + 9000.0);
  EXPECT_EQ(a["protocol"], "upnp");
}

TEST(MapAction, AutoFallsBackToNatPmpOnAPcpLessGatewayAfterOneRoundTrip) {
  const RunResult r = run_map(R"(, "port_mapping": {"pcp": false})", R"([
      {"action": "map", "host": "alice", "internal_port": 40000, "suggested_port": 40000}])");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["outcome"], "success");
  EXPECT_EQ(a["protocol"], "natpmp");
  EXPECT_EQ(a["external"], "203.0.0.2:40000");
  EXPECT_EQ(a["mapped_ms"], 4.0);  // the refused PCP request, then NAT-PMP
  EXPECT_EQ(r.counters["home"]["port_mapping"]["natpmp.errors.unsupported_version"], 1);
}

TEST(MapAction, PcpOnlyAgainstANatPmpOnlyGatewayFailsAtTheFirstAnswer) {
  const RunResult r = run_map(R"(, "port_mapping": {"pcp": false})", R"([
      {"action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000}])");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["outcome"], "error");
  EXPECT_EQ(a["result"], "unsupp_version");  // NAT-PMP's code 1, named as PCP's
  EXPECT_EQ(a["failed_ms"], 2.0);
}

TEST(MapAction, LeaseCapShortensTheLifetimeAndTheMapperRefreshesAtHalfOfIt) {
  const RunResult r = run_map(R"(, "port_mapping": {"max_lifetime": "5m"})", R"([
      {"action": "map", "host": "alice", "protocol": "natpmp", "internal_port": 40000,
       "lifetime": "1h"}])",
                              "10m");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["lifetime"], 300);
  // Mapped at 2 ms; refreshed at 150.004 s, 300.006 s and 450.008 s (each a round trip
  // after the half-life of the previous answer); the next would be at 600.010 s.
  EXPECT_EQ(a["refreshes"], 3);
  EXPECT_EQ(r.counters["home"]["port_mapping"]["natpmp.mapped"], 4);
}

TEST(MapAction, QuotaPerHostRefusesTheSecondMappingButNotAnotherHost) {
  const RunResult r = run_map(R"(, "port_mapping": {"quota_per_host": 1})", R"([
      {"id": "a1", "action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000},
      {"id": "a2", "at": "1s", "action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40001},
      {"id": "b1", "at": "2s", "action": "map", "host": "bob", "protocol": "natpmp", "internal_port": 40001},
      {"id": "a3", "at": "3s", "action": "map", "host": "alice", "protocol": "natpmp", "internal_port": 40002}])");
  EXPECT_EQ(r.actions[0]["outcome"], "success");
  EXPECT_EQ(r.actions[1]["outcome"], "error");
  EXPECT_EQ(r.actions[1]["result"], "user_ex_quota");
  EXPECT_EQ(r.actions[1]["failed_ms"], 2.0);
  EXPECT_EQ(r.actions[2]["outcome"], "success");
  EXPECT_EQ(r.actions[3]["result"], "out_of_resources");
}

TEST(MapAction, DeleteAfterRemovesTheMappingAndOutsideTrafficIsFilteredAgain) {
  const RunResult r = run_map(R"(, "port_mapping": true)", R"([
      {"action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000,
       "delete_after": "10s", "from": "peer", "count": 4, "interval": "5s"}])",
                              "1m");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["deleted"], true);
  // The datagrams sent at 2 ms and 5.002 s get in; those sent at 10.002 s and 15.002 s
  // arrive after the deletion reached the gateway (10.001 s) and are filtered.
  EXPECT_EQ(a["delivered"], 2);
  EXPECT_EQ(r.counters["home"]["port_mapping"]["pcp.deleted"], 1);
}

TEST(MapAction, GatewayRebootIsAnnouncedAndTheMappingRecreatedOnItsPort) {
  const RunResult r = run_map(R"(, "port_mapping": true)", R"([
      {"action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000,
       "lifetime": "10m", "from": "peer", "count": 10, "interval": "70s"},
      {"at": "2m", "action": "reboot", "site": "home", "downtime": "5s"}])",
                              "12m");
  const auto& a = r.actions[0];
  EXPECT_EQ(a["mapped_ms"], 2.0);
  // Up again at 125 s, the gateway multicasts ANNOUNCE with epoch 0 (RFC 6887 §14.1.3):
  // heard one LAN hop later. The mapper renews after a random 0-5 s (538 ms with this
  // seed), one round trip.
  EXPECT_EQ(a["reboot_detected_ms"], 125001.0);
  EXPECT_EQ(a["recreated_ms"], 125541.0);
  EXPECT_EQ(a["recreated"], 1);
  EXPECT_EQ(a["external"], "203.0.0.2:1024");  // the port it had, suggested again
  // The last answer, to the refresh at 425.543 s: 305 s since the reboot at 120 s.
  EXPECT_EQ(a["epoch"], 305);
  // No datagram fell in the 5.5 s without the mapping.
  EXPECT_EQ(a["delivered"], 10);
  EXPECT_EQ(r.counters["home"]["port_mapping"]["pcp.announced"], 10);
}

TEST(MapAction, WithoutTheAnnouncementTheRebootIsFoundAtTheNextRefresh) {
  // The first action holds port 5350 on alice, so only it hears the announcement.
  const RunResult r = run_map(R"(, "port_mapping": true)", R"([
      {"id": "hears", "action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40001,
       "lifetime": "10m"},
      {"id": "deaf", "action": "map", "host": "alice", "protocol": "pcp", "internal_port": 40000,
       "lifetime": "10m"},
      {"at": "2m", "action": "reboot", "site": "home", "downtime": "5s"}])",
                              "12m");
  EXPECT_EQ(r.actions[0]["reboot_detected_ms"], 125001.0);
  // The refresh leaves at 300.002 s (half of 600 s after the answer) and its answer, one
  // LAN round trip later, carries an epoch that went backwards (RFC 6887 §8.5).
  EXPECT_EQ(r.actions[1]["reboot_detected_ms"], 300004.0);
  EXPECT_EQ(r.actions[1]["recreated_ms"], 300004.0);
  EXPECT_EQ(r.actions[1]["recreated"], 1);
}

TEST(MapAction, BehindACgnatTheMappingIsFlaggedDoubleNat) {
  const std::string text = R"({"name": "t", "duration": "30s",
    "topology": {"servers": [{"name": "peer", "type": "host", "address": "198.51.100.30"}],
      "sites": [{"name": "carrier", "nat": "cgnat", "hosts": 0, "sites": [
        {"name": "home", "hosts": ["carol"], "port_mapping": true}]}]},
    "timeline": [{"id": "m", "action": "map", "host": "carol", "internal_port": 40000}],
    "expect": [{"action": "m", "outcome": "success", "double_nat": true, "external": "100.64.0.2"}]})";
  const RunResult r = run_scenario(load_scenario_text(text, "cgnat.json").front(), 1);
  EXPECT_TRUE(r.passed) << r.expectations[0].message;
  EXPECT_EQ(r.actions[0]["double_nat"], true);
}

TEST(MapAction, BadKeysAreInputErrors) {
  auto load = [](const std::string& action, const std::string& site = R"(, "port_mapping": true)") {
    const std::string text =
        R"({"name": "t", "topology": {"servers": [{"name": "peer", "type": "host", "address": "198.51.100.30"}],
        "sites": [{"name": "home", "hosts": ["alice"])" +
        site + R"(}]}, "timeline": [)" + action + "]}";
    (void)load_scenario_text(text, "bad.json");
  };
  EXPECT_THROW(load(R"({"action": "map", "host": "alice"})"), InputError);  // no internal_port
  EXPECT_THROW(load(R"({"action": "map", "host": "alice", "internal_port": 1, "protocol": "igd"})"),
               InputError);
  EXPECT_THROW(load(R"({"action": "map", "host": "alice", "internal_port": 1, "count": 3})"),
               InputError);  // count without from
  EXPECT_THROW(load(R"({"action": "map", "host": "alice", "internal_port": 1, "transport": "tcp",
                        "from": "peer"})"),
               InputError);
  EXPECT_THROW(
      load(R"({"action": "map", "host": "alice", "internal_port": 1, "lifetime": "1500ms"})"),
      InputError);
  EXPECT_THROW(load(R"({"action": "map", "host": "alice", "internal_port": 1})",
                    R"(, "port_mapping": {"pcp": true, "upnp": "yes"})"),
               InputError);
  EXPECT_THROW(load(R"({"action": "map", "host": "alice", "internal_port": 1})",
                    R"(, "port_mapping": {"min_lifetime": "10m", "max_lifetime": "5m"})"),
               InputError);
}

// The protocol order: errors name the element at fault.
TEST(MapAction, BadProtocolOrdersNameTheirPointer) {
  auto error = [](const std::string& keys) -> std::string {
    const std::string text =
        R"({"name": "t", "topology": {"sites": [{"name": "home", "hosts": ["alice"],
        "port_mapping": true}]}, "timeline": [{"action": "map", "host": "alice",
        "internal_port": 1, )" +
        keys + "}]}";
    try {
      (void)load_scenario_text(text, "bad.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "loaded";
  };
  EXPECT_NE(error(R"("protocols": ["upnp", "igd"])").find("/timeline/0/protocols/1"),
            std::string::npos);
  EXPECT_NE(error(R"("protocols": ["upnp", "pcp", "upnp"])").find("/timeline/0/protocols/2"),
            std::string::npos);
  EXPECT_NE(error(R"("protocols": [])").find("/timeline/0/protocols"), std::string::npos);
  EXPECT_NE(error(R"("protocols": "upnp")").find("/timeline/0/protocols"), std::string::npos);
  EXPECT_NE(error(R"("protocol": "pcp", "protocols": ["pcp"])").find("/timeline/0/protocol"),
            std::string::npos);
  EXPECT_NE(error(R"("protocols": ["upnp"], "parallel": true)").find("/timeline/0/parallel"),
            std::string::npos);
  EXPECT_EQ(error(R"("protocols": ["upnp", "pcp"], "parallel": true)"), "loaded");
}

// A gateway with UPnP alone: `auto` reaches it after PCP and NAT-PMP (127.766 s), UPnP
// first maps at once, and so does a parallel probe.
TEST(MapAction, TheProtocolOrderDecidesHowSoonAUpnpOnlyGatewayMaps) {
  const std::string site = R"(, "port_mapping": {"pcp": false, "natpmp": false, "upnp": true})";
  auto mapped_ms =
      [&](const std::string& keys) {
        const RunResult r = run_map(site, R"([{"id": "m", "action": "map", "host": "alice",
        "internal_port": 40000, )" + keys + "}]",
                                    "3m");
        const auto& a = r.actions.at(0);
        EXPECT_EQ(a["outcome"], "success") << a.dump();
        EXPECT_EQ(a["protocol"], "upnp") << a.dump();
        return a["mapped_ms"].get<double>();
      };
  EXPECT_EQ(mapped_ms(R"("protocol": "auto")"), 127766);
  EXPECT_EQ(mapped_ms(R"("protocols": ["upnp", "pcp", "natpmp"])"), 14);
  EXPECT_EQ(mapped_ms(R"("protocols": ["pcp", "natpmp", "upnp"], "parallel": true)"), 14);
}

// Connect's port_mapping takes an order too, per side or for both.
TEST(MapAction, ConnectPortMappingTakesAnOrder) {
  auto load = [](const std::string& mapping) -> std::string {
    const std::string text =
        R"({"name": "t", "topology": {"sites": [{"name": "home", "hosts": ["alice"]},
        {"name": "office", "hosts": ["bob"]}]}, "timeline": [{"action": "connect", "a": "alice",
        "b": "bob", "port_mapping": )" +
        mapping + "}]}";
    try {
      (void)load_scenario_text(text, "connect.json");
    } catch (const InputError& e) {
      return e.what();
    }
    return "loaded";
  };
  EXPECT_EQ(load(R"(["upnp", "pcp"])"), "loaded");
  EXPECT_EQ(load(R"({"protocols": ["upnp", "pcp"], "parallel": true})"), "loaded");
  EXPECT_EQ(load(R"({"a": ["upnp"], "b": "auto"})"), "loaded");
  EXPECT_NE(load(R"({"a": ["upnp", "upnp"]})").find("/timeline/0/port_mapping/a/1"),
            std::string::npos);
  EXPECT_NE(load(R"({"protocols": ["pcp"], "parallel": true})").find("/port_mapping/parallel"),
            std::string::npos);
  EXPECT_NE(load(R"({"parallel": true})").find("/port_mapping"), std::string::npos);
}

}  // namespace
}  // namespace natsim::scenarios
