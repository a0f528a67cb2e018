#include "natsim/scenarios/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world_builder.hpp"

namespace natsim::scenarios {
namespace {

using nlohmann::json;

// A valid scenario to break in one place per test.
json base() {
  return json::parse(R"({
    "name": "base",
    "seed": 3,
    "topology": {
      "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10", "alternate_address": "198.51.100.11"}],
      "sites": [{"name": "home", "nat": "full-cone", "hosts": ["alice", "bob"]}]
    },
    "timeline": [
      {"at": "0s", "id": "p", "action": "probe", "host": "alice", "server": "stun"},
      {"at": "5s", "id": "b", "action": "binding", "host": "bob", "server": "stun"}
    ],
    "expect": [{"action": "p", "mapping": "endpoint-independent"}]
  })");
}

std::string error_of(const std::string& text) {
  try {
    (void)load_scenario_text(text, "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}
std::string error_of(const json& doc) {
  return error_of(doc.dump(2));
}

TEST(Loader, ValidScenarioLoads) {
  auto s = load_scenario_text(base().dump(), "ok.json");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "base");
  EXPECT_EQ(s[0].seeds, std::vector<std::uint64_t>{3});
  EXPECT_EQ(s[0].sites[0].hosts, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(s[0].timeline[1].at, seconds(5));
  EXPECT_EQ(s[0].servers[0].alternate_address, IpAddress::parse("198.51.100.11"));
}

TEST(Loader, SyntaxErrorNamesFileLineAndColumn) {
  const std::string text = "{\n  \"name\": \"x\",\n  \"seed\": 1,,\n}";
  const std::string e = error_of(text);
  EXPECT_EQ(e.rfind("bad.json:3:13: ", 0), 0u) << e;  // the second comma
  EXPECT_NE(e.find("unexpected"), std::string::npos) << e;
}

TEST(Loader, UnknownKeyIsAnError) {
  json d = base();
  d["topology"]["sites"][0]["colour"] = "blue";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/colour: unknown key 'colour', expected one of name, nat, "
            "hosts, lan, wan, uplink, lan_link, sites, port_mapping, ipv6");
}

TEST(Loader, WrongTypeIsAnError) {
  json d = base();
  d["seed"] = "three";
  EXPECT_EQ(error_of(d), "bad.json: /seed: expected an integer, got a string");
  d = base();
  d["timeline"][1]["at"] = 5;
  EXPECT_EQ(error_of(d),
            "bad.json: /timeline/1/at: expected a duration string such as \"250ms\", got a number");
}

// natsim bridge's section: site hosts and bare public hosts, each once, a plain prefix.
TEST(Loader, BridgeSection) {
  json d = base();
  d["topology"]["servers"].push_back(
      {{"name", "relay"}, {"type", "host"}, {"address", "198.51.100.40"}});
  d["bridge"] = {{"attach", {"alice", "relay"}}, {"prefix", "lab-1"}};
  auto s = load_scenario_text(d.dump(), "ok.json");
  ASSERT_TRUE(s[0].bridge);
  EXPECT_EQ(s[0].bridge->attach, (std::vector<std::string>{"alice", "relay"}));
  EXPECT_EQ(s[0].bridge->prefix, "lab-1");
  EXPECT_FALSE(load_scenario_text(base().dump(), "ok.json")[0].bridge);

  d["bridge"]["attach"][1] = "stun";
  EXPECT_EQ(error_of(d),
            "bad.json: /bridge/attach/1: 'stun' is not a host of a site or a server of type "
            "'host' (a server running natsim's own service cannot also be a namespace)");
  d["bridge"]["attach"][1] = "home";
  EXPECT_EQ(
      error_of(d),
      "bad.json: /bridge/attach/1: 'home' is not a host of a site or a server of type 'host'");
  d["bridge"]["attach"][1] = "alice";
  EXPECT_EQ(error_of(d), "bad.json: /bridge/attach/1: 'alice' is attached twice");
  d["bridge"]["attach"] = json::array();
  EXPECT_EQ(error_of(d), "bad.json: /bridge/attach: expected 1 to 16 host names");
  d["bridge"] = {{"attach", {"alice"}}, {"prefix", "../etc"}};
  EXPECT_EQ(error_of(d), "bad.json: /bridge/prefix: expected 1 to 32 letters, digits, '_' or '-'");
  d["bridge"] = {{"attach", {"alice"}}, {"namespace", "x"}};
  EXPECT_EQ(error_of(d).rfind("bad.json: /bridge/namespace: unknown key 'namespace'", 0), 0u)
      << error_of(d);
}

TEST(Loader, UnknownPresetIsAnError) {
  json d = base();
  d["topology"]["sites"][0]["nat"] = "sym";
  EXPECT_EQ(
      error_of(d).rfind(
          "bad.json: /topology/sites/0/nat: unknown preset 'sym', expected one of open, full-cone",
          0),
      0u)
      << error_of(d);
  d["topology"]["sites"][0]["nat"] = json{{"mapping", "sym"}};
  EXPECT_EQ(error_of(d).rfind("bad.json: /topology/sites/0/nat/mapping: unknown value 'sym'", 0),
            0u);
}

TEST(Loader, DanglingNamesAreErrors) {
  json d = base();
  d["timeline"][0]["host"] = "carol";
  EXPECT_EQ(error_of(d), "bad.json: /timeline/0/host: no host named 'carol' (hosts: alice, bob)");
  d = base();
  d["timeline"][0]["server"] = "stn";
  EXPECT_EQ(error_of(d), "bad.json: /timeline/0/server: no server named 'stn' (servers: stun)");
  d = base();
  d["expect"][0]["action"] = "q";
  EXPECT_EQ(error_of(d), "bad.json: /expect/0/action: no action with id 'q'");
  d = base();
  d["timeline"].push_back(json{{"at", "6s"}, {"action", "reboot"}, {"site", "alice"}});
  EXPECT_EQ(error_of(d), "bad.json: /timeline/2/site: no site named 'alice' (sites: home)");
}

TEST(Loader, TimeInThePastIsAnError) {
  json d = base();
  d["timeline"][1]["at"] = "0s";
  d["timeline"][0]["at"] = "2s";
  EXPECT_EQ(error_of(d),
            "bad.json: /timeline/1/at: time in the past: 0ns is before the previous action's 2s "
            "(list actions in time order)");
  d = base();
  d["duration"] = "1s";
  EXPECT_EQ(error_of(d), "bad.json: /duration: shorter than the timeline (last action at 5s)");
}

TEST(Loader, EmptyMatrixIsAnError) {
  json d = base();
  d["matrix"] =
      json::array({json{{"pointer", "/topology/sites/0/nat"}, {"values", json::array()}}});
  EXPECT_EQ(error_of(d), "bad.json: /matrix/0/values: empty matrix: give at least one value");
  d["matrix"] = json::array({json{{"pointer", "/topology/nowhere/0"}, {"values", {1}}}});
  EXPECT_EQ(error_of(d),
            "bad.json: /matrix/0/pointer: '/topology/nowhere/0' does not point into the document");
}

TEST(Loader, OtherMistakesAreCaught) {
  json d = base();
  d["expect"][0]["outcome"] = "success";  // a binding field on a probe
  EXPECT_EQ(error_of(d), "bad.json: /expect/0/outcome: 'outcome' does not apply to a probe action");
  d = base();
  d["topology"]["sites"][0]["hosts"] = json::array({"alice", "stun"});
  EXPECT_EQ(error_of(d).find("bad.json: /topology/sites/0/hosts: duplicate name 'stun'"), 0u);
  d = base();
  d["timeline"][1]["action"] = "teleport";
  EXPECT_EQ(error_of(d).rfind("bad.json: /timeline/1/action: unknown action 'teleport'", 0), 0u);
  d = base();
  d["topology"]["sites"][0]["uplink"] = json{{"loss", 1.5}};
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/uplink/loss: expected a number from 0.0 to 1.0, got 1.5");
  d = base();
  d["topology"]["sites"][0]["uplink"] = json{{"bandwidth", "fast"}};
  EXPECT_EQ(
      error_of(d).rfind("bad.json: /topology/sites/0/uplink/bandwidth: bad bandwidth 'fast'", 0),
      0u);
  EXPECT_EQ(error_of(std::string("[]")), "bad.json: expected an object, got an array");
}

// One-way sends and the lifetime search's keys: mistakes name the key and what fits.
TEST(Loader, OneWaySendAndProbeKeysAreChecked) {
  auto with = [](json action) {
    json d = base();
    d["timeline"][1] = std::move(action);
    return error_of(d);
  };
  EXPECT_EQ(
      with({{"action", "send"}, {"from", "alice"}, {"to", "home"}}),
      "bad.json: /timeline/1: 'to' names a site: give 'to_port' (the port on its WAN address)");
  EXPECT_EQ(with({{"action", "send"}, {"from", "alice"}, {"to", "nobody"}}),
            "bad.json: /timeline/1/to: no server or site named 'nobody' (or \"first_sender\")");
  EXPECT_EQ(with({{"action", "send"}, {"host", "alice"}, {"from", "bob"}, {"to", "stun"}}),
            "bad.json: /timeline/1: give either 'host' or 'from'");
  EXPECT_EQ(with({{"action", "send"}, {"from", "stun"}, {"to", "first_sender"}}),
            "bad.json: /timeline/1: 'to': \"first_sender\" needs a 'port' others can send to");
  EXPECT_EQ(with({{"action", "send"}, {"from", "alice"}, {"to", "stun"}, {"times", {"2s", "1s"}}}),
            "bad.json: /timeline/1/times/1: times must not decrease");
  EXPECT_EQ(
      with(
          {{"action", "send"}, {"from", "alice"}, {"to", "stun"}, {"times", {"1s"}}, {"count", 2}}),
      "bad.json: /timeline/1/times: give either 'times' or 'count'/'interval'");
  EXPECT_EQ(with({{"action", "send"}, {"from", "alice"}, {"to", "stun"}, {"size", 4}})
                .rfind("bad.json: /timeline/1/size:", 0),
            0u);
  EXPECT_EQ(
      with({{"action", "probe"}, {"host", "bob"}, {"server", "stun"}, {"lifetime_fresh", true}}),
      "bad.json: /timeline/1/lifetime_fresh: 'lifetime_fresh' goes with 'lifetime': true");
  EXPECT_EQ(with({{"action", "probe"},
                  {"host", "bob"},
                  {"server", "stun"},
                  {"lifetime", true},
                  {"lifetime_max", "10s"},
                  {"lifetime_precision", "20s"}}),
            "bad.json: /timeline/1/lifetime_precision: expected 100ms to lifetime_max");
  json ok = base();
  ok["timeline"][1] =
      json{{"at", "5s"},   {"action", "send"}, {"from", "stun"},       {"port", 4000},
           {"to", "home"}, {"to_port", 5000},  {"times", {"0s", "1s"}}};
  EXPECT_EQ(load_scenario_text(ok.dump(), "ok.json").size(), 1u);
}

TEST(Loader, MatrixExpandsToTheCartesianProduct) {
  json d = base();
  d["matrix"] = json::array({
      json{{"pointer", "/topology/sites/0/nat"}, {"values", {"full-cone", "symmetric", "cgnat"}}},
      json{
          {"set", json::array({json{{"/seed", 1}, {"/timeline/1/at", "6s"}}, json{{"/seed", 2}}})}},
  });
  auto s = load_scenario_text(d.dump(), "m.json");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].variant, "full-cone 1,6s");
  EXPECT_EQ(s[5].variant, "cgnat 2");
  EXPECT_EQ(s[0].timeline[1].at, seconds(6));
  EXPECT_EQ(s[1].timeline[1].at, seconds(5));
  EXPECT_EQ(s[5].seeds, std::vector<std::uint64_t>{2});
  EXPECT_EQ(s[2].sites[0].nat.mapping, nat::Mapping::address_and_port_dependent);
}

TEST(Loader, SeedForms) {
  json d = base();
  d.erase("seed");
  d["seeds"] = json{{"from", 10}, {"count", 3}};
  EXPECT_EQ(load_scenario_text(d.dump(), "s.json")[0].seeds,
            (std::vector<std::uint64_t>{10, 11, 12}));
  d["seeds"] = json::array({5, 9});
  EXPECT_EQ(load_scenario_text(d.dump(), "s.json")[0].seeds, (std::vector<std::uint64_t>{5, 9}));
  d["seed"] = 1;
  EXPECT_EQ(error_of(d), "bad.json: /seeds: give either 'seed' or 'seeds', not both");
}

TEST(Loader, MissingFileIsAnError) {
  try {
    (void)load_scenario_file("/nonexistent/x.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/x.json: cannot read the file");
  }
}

// --- hostile input: every failure is an InputError naming the place, never an abort.

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

TEST(LoaderLimits, NumberBeyondADoubleIsAnErrorWithLineAndColumn) {
  const std::string e = error_of(
      std::string("{\n  \"name\": \"x\",\n  \"topology\": {\"core\": {\"loss\": 1e999}}\n}"));
  EXPECT_TRUE(starts_with(e, "bad.json:3:33: number 1e999 is out of range")) << e;
}

TEST(LoaderLimits, DeepNestingIsRefusedBeforeParsing) {
  const std::string arrays = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  EXPECT_EQ(error_of(arrays), "bad.json:1:65: nested deeper than 64 levels");
  std::string objects;
  for (int i = 0; i < 100'000; ++i)
    objects += "{\"a\":";
  objects += "1" + std::string(100'000, '}');
  EXPECT_TRUE(starts_with(error_of(objects), "bad.json:1:321: nested deeper than 64"))
      << error_of(objects);
  // Brackets inside strings are text, not nesting.
  json d = base();
  d["description"] = std::string(1000, '[');
  EXPECT_EQ(load_scenario_text(d.dump(), "ok.json").size(), 1u);
}

TEST(LoaderLimits, FileSizeIsCapped) {
  json d = base();
  d["description"] = std::string(5u << 20, 'x');
  EXPECT_EQ(error_of(d.dump()), "bad.json: larger than 4096 KiB");
}

TEST(LoaderLimits, DirectoryIsNotAScenario) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  try {
    (void)load_scenario_file(dir);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": is a directory, not a file");
  }
}

TEST(LoaderLimits, MatrixVariantsAreCountedBeforeTheyAreBuilt) {
  json d = base();
  json values = json::array();
  for (int i = 0; i < 10; ++i)
    values.push_back(i);
  d["matrix"] = json::array();
  for (int i = 0; i < 7; ++i)  // 10^7 variants
    d["matrix"].push_back(json{{"pointer", "/seed"}, {"values", values}});
  EXPECT_EQ(error_of(d), "bad.json: /matrix: more than 10000 variants (the limit of one file)");
  // Within the limit the file is read at once and variants come one at a time.
  for (int i = 0; i < 3; ++i)
    d["matrix"].erase(d["matrix"].size() - 1);
  const ScenarioFile f = ScenarioFile::parse(d.dump(), "m.json");
  EXPECT_EQ(f.variants(), 10'000u);
  EXPECT_EQ(f.variant(1234).variant, "1 2 3 4");
  EXPECT_EQ(f.variant(1234).seeds, std::vector<std::uint64_t>{4});
  EXPECT_THROW((void)f.variant(10'000), InputError);
}

TEST(LoaderLimits, RunsAreCapped) {
  json d = base();
  d.erase("seed");
  d["seeds"] = json{{"from", 1}, {"count", 600'000}};
  d["matrix"] = json::array({json{{"pointer", "/name"}, {"values", {"a", "b"}}}});
  EXPECT_EQ(error_of(d),
            "bad.json: more than 1000000 runs (variants x seeds, the limit of one file)");
}

TEST(LoaderLimits, SeedsOutsideTheRangeAreReportedAsWritten) {
  EXPECT_EQ(error_of(std::string(R"({"name": "x", "seed": 18446744073709551615, "topology": {}})")),
            "bad.json: /seed: expected an integer from 0 to 9223372036854775807, got "
            "18446744073709551615");
  EXPECT_EQ(error_of(std::string(R"({"name": "x", "seed": -1, "topology": {}})")),
            "bad.json: /seed: expected an integer from 0 to 9223372036854775807, got -1");
  json d = base();
  d["seed"] = 9223372036854775807ULL;
  EXPECT_EQ(load_scenario_text(d.dump(), "ok.json")[0].seeds[0], 9223372036854775807ULL);
}

TEST(LoaderLimits, DurationIsCapped) {
  json d = base();
  d["duration"] = "1000h";
  EXPECT_TRUE(starts_with(error_of(d), "bad.json: /duration: longer than")) << error_of(d);
}

// --- what one run may schedule

json with_sends(int actions, int count, const char* interval) {
  json d = base();
  d["topology"]["servers"].push_back(
      json{{"name", "echo"}, {"type", "echo"}, {"address", "198.51.100.20"}});
  d["timeline"] = json::array();
  d["expect"] = json::array();
  for (int i = 0; i < actions; ++i) {
    d["timeline"].push_back(json{{"action", "send"},
                                 {"host", "alice"},
                                 {"server", "echo"},
                                 {"count", count},
                                 {"interval", interval}});
  }
  return d;
}

TEST(LoaderLimits, DatagramsOfOneRunAreBounded) {
  EXPECT_EQ(error_of(with_sends(3, 100'000, "1ms")),
            "bad.json: /timeline: schedules 300000 datagrams in all (counts of every action); at "
            "most 100000 per run");
  EXPECT_EQ(load_scenario_text(with_sends(5, 20'000, "1ms").dump(), "ok.json").size(), 1u);
  EXPECT_TRUE(starts_with(error_of(with_sends(1, 100'000, "1h")),
                          "bad.json: /timeline/0/interval: the last of 100000 datagrams would "
                          "leave after"))
      << error_of(with_sends(1, 100'000, "1h"));
}

TEST(LoaderLimits, DefaultDurationCoversTheLastDatagram) {
  // 10000 datagrams a second apart: the last leaves at 9999 s, then ten minutes more.
  const auto s = load_scenario_text(with_sends(1, 10'000, "1s").dump(), "ok.json");
  EXPECT_EQ(s[0].duration, seconds(9999) + minutes(10));
  // One that ends within the runner's default (the last start plus ten minutes) keeps it.
  EXPECT_EQ(load_scenario_text(with_sends(1, 600, "1s").dump(), "ok.json")[0].duration,
            std::nullopt);
  EXPECT_EQ(load_scenario_text(with_sends(1, 602, "1s").dump(), "ok.json")[0].duration,
            seconds(601) + minutes(10));
}

// --- topologies that would clash in the world are rejected at load.

TEST(TopologyCheck, ServerAddressesAndPortsMustNotClash) {
  json d = base();
  d["topology"]["servers"][0]["port"] = 3479;
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/servers/0/port: port 3479 is also the alternate port "
            "(alternate_port 3479)");
  d = base();
  d["topology"]["servers"][0]["alternate_address"] = "198.51.100.10";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/servers/0/alternate_address: equal to 'address': an RFC 5780 "
            "server needs a second address");
  d = base();
  d["topology"]["servers"].push_back(
      json{{"name", "echo"}, {"type", "echo"}, {"address", "198.51.100.11"}});
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/servers/1/address: address 198.51.100.11 is already server "
            "'stun''s");
}

TEST(TopologyCheck, SiteAddressesMustNotClash) {
  json d = base();
  d["topology"]["sites"].push_back(json{{"name", "office"}, {"wan", "203.0.0.2/30"}});
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/1/wan: address 203.0.0.2 is already site 'home' (its "
            "WAN)'s");
  d = base();
  d["topology"]["sites"][0]["wan"] = "198.51.100.10/24";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/wan: address 198.51.100.10 is already server 'stun''s");
  d = base();
  d["topology"]["sites"][0]["wan"] = "203.0.113.0/31";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/wan: 203.0.113.0/31 leaves no room for the upstream "
            "router: use a /30 or shorter prefix");
  d = base();
  d["topology"]["sites"][0]["lan"] = "192.168.1.0/24";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/lan: the gateway's address 192.168.1.0 is the network "
            "address of 192.168.1.0/24");
  d = base();
  d["topology"]["sites"][0]["lan"] = "192.168.1.253/24";
  EXPECT_EQ(error_of(d),
            "bad.json: /topology/sites/0/lan: 2 host(s) after the gateway's 192.168.1.253 do not "
            "fit in 192.168.1.0/24");
}

TEST(TopologyCheck, WorldBuilderChecksToo) {
  WorldBuilder b(1);
  b.echo_server("e1", "198.51.100.20").echo_server("e2", "198.51.100.20");
  EXPECT_THROW((void)b.build(), InputError);
  WorldBuilder ok(1);
  ok.echo_server("e1", "198.51.100.20").site("home", "symmetric", {"alice"});
  EXPECT_NE(ok.build(), nullptr);
}

TEST(TopologyCheck, CounterNamesAndMetricsAreKnownAtLoad) {
  json d = base();
  d["expect"].push_back(json{{"counter", "nowhere"}, {"metric", "sent"}, {"value", 1}});
  EXPECT_TRUE(starts_with(error_of(d),
                          "bad.json: /expect/1/counter: no node or link named "
                          "'nowhere'"))
      << error_of(d);
  d["expect"][1]["counter"] = "alice";
  d["expect"][1]["metric"] = "nat.outbound";  // alice is a host, not a gateway
  EXPECT_TRUE(starts_with(error_of(d),
                          "bad.json: /expect/1/metric: unknown metric "
                          "'nat.outbound' for 'alice', expected one of sent"))
      << error_of(d);
  for (const char* ok : {"home", "home--internet", "home-lan", "stun.link", "network"}) {
    d["expect"][1]["counter"] = ok;
    d["expect"][1]["metric"] = std::string(ok) == "home" ? "nat.drops.filtered" : "dropped";
    EXPECT_EQ(load_scenario_text(d.dump(), "ok.json").size(), 1u) << ok;
  }
}

// A site nested under a site that does not translate is reachable: the replies to its
// Binding come back through the open gateway, in exactly the links' latencies.
TEST(NestedSites, UnderAnOpenOrFirewallSiteAreRouted) {
  for (const char* outer : {"open", "firewall"}) {
    json d = json::parse(R"({
      "name": "nested",
      "topology": {
        "core": {"latency": "10ms"},
        "servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10"}],
        "sites": [{"name": "isp", "nat": "open", "hosts": 0, "sites": [
          {"name": "home", "nat": "full-cone", "hosts": ["alice"],
           "uplink": {"latency": "5ms"}, "lan_link": {"latency": "1ms"}}]}]
      },
      "timeline": [{"id": "b", "action": "binding", "host": "alice", "server": "stun"}]
    })");
    d["topology"]["sites"][0]["nat"] = outer;
    const auto s = load_scenario_text(d.dump(), "nested.json");
    const RunResult r = run_scenario(s[0], 1);
    ASSERT_EQ(r.actions.size(), 1u);
    EXPECT_EQ(r.actions[0]["outcome"], "success") << outer << " " << r.actions[0].dump();
    // lan 1 ms + nested uplink 5 ms + the outer site's uplink 10 ms + server link 10 ms.
    EXPECT_EQ(r.actions[0]["rtt_ms"], 52.0) << outer;
  }
}

}  // namespace
}  // namespace natsim::scenarios
