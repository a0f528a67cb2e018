#include "natsim/scenarios/loader.hpp"

#include <gtest/gtest.h>

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
            "hosts, lan, wan, uplink, lan_link, sites");
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

}  // namespace
}  // namespace natsim::scenarios
