// The action table is the one source of truth: the loader's messages, the docs and the
// catalogue `natsim list actions` prints all follow it.
#include "natsim/scenarios/action_catalog.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios {
namespace {

std::string load_error(const std::string& action) {
  const std::string text = R"({"name": "t",
    "topology": {"servers": [{"name": "stun", "type": "stun", "address": "198.51.100.10"}],
                 "sites": [{"name": "home", "hosts": ["alice"]}]},
    "timeline": [)" + action +
                           "]}";
  try {
    (void)load_scenario_text(text, "bad.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ActionCatalog, ListsEveryActionOnce) {
  std::vector<std::string> names;
  for (const ActionInfo& a : action_catalog())
    names.push_back(a.name);
  const std::vector<std::string> expected{"probe", "binding", "send",           "relay", "connect",
                                          "link",  "reboot",  "change_address", "flush", "set_nat",
                                          "map",   "tcp",     "tcp_punch"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(action_catalog_json().size(), expected.size());
}

TEST(ActionCatalog, UnknownActionNamesEveryType) {
  EXPECT_EQ(load_error(R"({"action": "teleport"})"),
            "bad.json: /timeline/0/action: unknown action 'teleport', expected probe, binding, "
            "send, relay, connect, link, reboot, change_address, flush, set_nat, map, tcp or "
            "tcp_punch");
}

TEST(ActionCatalog, KeysOutsideTheTypesListAreErrors) {
  EXPECT_EQ(load_error(R"({"action": "flush", "site": "home", "count": 3})"),
            "bad.json: /timeline/0/count: unknown key 'count', expected one of at, id, action, "
            "site");
  EXPECT_EQ(load_error(R"({"action": "probe", "host": "alice", "server": "home"})"),
            "bad.json: /timeline/0/server: no server named 'home' (servers: stun)");
}

TEST(ActionCatalog, ReportLinesComeFromTheActionsType) {
  EXPECT_EQ(
      action_line(
          {{"type", "send"}, {"finished", true}, {"sent", 3}, {"delivered", 2}, {"echoed", 1}}),
      "send     3 sent, 2 delivered, 1 echoed");
  EXPECT_EQ(action_line({{"type", "flush"}, {"finished", true}}), "flush    done");
  EXPECT_EQ(action_line({{"type", "change_address"}, {"finished", true}}), "change_address done");
  EXPECT_EQ(action_line({{"type", "relay"}, {"finished", false}}), "relay    did not finish");
  EXPECT_EQ(action_line({{"type", "probe"}, {"finished", true}, {"error", "cannot bind"}}),
            "error: cannot bind");
}

// docs/scenario-format.md has one timeline row per action naming every key, and one
// expectation row per action with expectation keys naming each of them.
TEST(ActionCatalog, DocsDescribeEveryActionAndKey) {
  std::ifstream in(std::string(NATSIM_SCENARIO_DIR) + "/../docs/scenario-format.md");
  ASSERT_TRUE(in) << "cannot read docs/scenario-format.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto timeline = doc.find("## Timeline");
  const auto expectations = doc.find("## Expectations");
  ASSERT_NE(timeline, std::string::npos);
  ASSERT_NE(expectations, std::string::npos);
  // The table row for `name` between `from` and `to`, or "".
  auto row = [&](std::size_t from, std::size_t to, const std::string& name) {
    const auto at = doc.find("\n| `" + name + "` |", from);
    if (at == std::string::npos || at > to) return std::string();
    return doc.substr(at + 1, doc.find('\n', at + 1) - at - 1);
  };
  for (const ActionInfo& a : action_catalog()) {
    const std::string keys = row(timeline, expectations, a.name);
    ASSERT_FALSE(keys.empty()) << a.name << " has no row under Timeline";
    for (const ActionKeyInfo& k : a.keys)
      EXPECT_NE(keys.find("`" + k.name + "`"), std::string::npos) << a.name << ": " << k.name;
    if (a.expect_keys.empty()) continue;
    const std::string expect = row(expectations, doc.find("\n## ", expectations + 1), a.name);
    ASSERT_FALSE(expect.empty()) << a.name << " has no row under Expectations";
    for (const ActionKeyInfo& k : a.expect_keys)
      EXPECT_NE(expect.find("`" + k.name + "`"), std::string::npos) << a.name << ": " << k.name;
  }
}

}  // namespace
}  // namespace natsim::scenarios
