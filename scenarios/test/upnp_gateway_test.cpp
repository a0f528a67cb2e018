// A site's port_mapping.upnp: the gateway's UPnP IGD in scenario profiles, its knobs,
// load errors with their JSON pointer, and its upnp.* counters in the run's report.
#include <gtest/gtest.h>

#include <string>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/runner.hpp"

namespace natsim::scenarios {
namespace {

std::string scenario(const std::string& port_mapping, const std::string& expect = "[]") {
  return R"({"name": "t", "duration": "19m",
    "topology": {"sites": [{"name": "home", "nat": "symmetric", "hosts": ["alice"],
                            "port_mapping": )" +
         port_mapping + R"(}]},
    "timeline": [], "expect": )" +
         expect + "}";
}

TEST(UpnpGateway, TheProfileTurnsTheServiceOnAndItsCountersAreReported) {
  auto s = load_scenario_text(
      scenario(R"({"upnp": {"v1_only": true, "http_port": 2189, "notify_interval": "600s"}})",
               R"([{"counter": "home", "metric": "upnp.notifies", "value": 18}])"),
      "t.json");
  ASSERT_EQ(s.size(), 1u);
  const RunResult r = run_scenario(s.front(), 1);
  // Rounds of 9 ssdp:alive (IGD:1's targets) at 0 and 600 s; the run ends at 1140 s.
  EXPECT_EQ(r.counters["home"]["upnp"]["upnp.notifies"], 18);
  EXPECT_TRUE(r.passed) << r.counters.dump();
}

TEST(UpnpGateway, BadKnobsAreLoadErrorsWithTheirPointer) {
  auto where = [](const std::string& pm) {
    try {
      (void)load_scenario_text(scenario(pm), "t.json");
    } catch (const InputError& e) {
      return e.where();
    }
    return std::string("no error");
  };
  EXPECT_EQ(where(R"({"upnp": {"v1": true}})"), "t.json: /topology/sites/0/port_mapping/upnp/v1");
  EXPECT_EQ(where(R"({"upnp": {"http_port": 0}})"),
            "t.json: /topology/sites/0/port_mapping/upnp/http_port");
  EXPECT_EQ(where(R"({"upnp": {"remote_host": "some"}})"),
            "t.json: /topology/sites/0/port_mapping/upnp/remote_host");
  EXPECT_EQ(where(R"({"upnp": {"control_url_host": "a/b"}})"),
            "t.json: /topology/sites/0/port_mapping/upnp/control_url_host");
  EXPECT_EQ(where(R"({"upnp": {"notify_interval": "1000s"}})"),
            "t.json: /topology/sites/0/port_mapping/upnp");
  EXPECT_EQ(where(R"({"upnp": "yes"})"), "t.json: /topology/sites/0/port_mapping/upnp");
  EXPECT_EQ(where(R"({"upnp": true})"), "no error");
  EXPECT_EQ(where(R"({"upnp": {"ignores_lease": true, "remote_host": "wildcard_only",
                               "control_url_host": "192.0.2.7", "max_body": 4096}})"),
            "no error");
}

}  // namespace
}  // namespace natsim::scenarios
