#include "natsim/nat_models/nat_behavior_json.hpp"

#include <gtest/gtest.h>

namespace natsim::nat {
namespace {

using nlohmann::json;

std::string error_of(const json& j, const std::string& at = "/topology/sites/1/nat") {
  try {
    (void)behavior_from_json(j, at);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(NatProfileJson, PresetPlusOverrides) {
  const NatBehavior b = behavior_from_json(json::parse(R"({
      "preset": "symmetric", "filtering": "address-dependent", "udp_timeout": "45s",
      "port_range": [20000, 29999], "preserve_parity": true, "hairpinning": true,
      "port_block_size": 100, "ipv6": "open"})"));
  EXPECT_EQ(b.mapping, Mapping::address_and_port_dependent);  // from the preset
  EXPECT_EQ(b.port_assignment, PortAssignment::sequential);   // from the preset
  EXPECT_EQ(b.filtering, Filtering::address_dependent);
  EXPECT_EQ(b.udp_timeout, seconds(45));
  EXPECT_EQ(b.port_first, 20000);
  EXPECT_EQ(b.port_last, 29999);
  EXPECT_TRUE(b.preserve_parity);
  EXPECT_TRUE(b.hairpinning);
  EXPECT_EQ(b.port_block_size, 100);
  EXPECT_EQ(b.ipv6, Translation::open);
}

TEST(NatProfileJson, DefaultsToPortRestrictedCone) {
  const NatBehavior b = behavior_from_json(json::object());
  EXPECT_EQ(b.mapping, Mapping::endpoint_independent);
  EXPECT_EQ(b.filtering, Filtering::address_and_port_dependent);
}

TEST(NatProfileJson, RoundTripsEveryPreset) {
  for (const Preset& p : presets()) {
    const NatBehavior back = behavior_from_json(behavior_to_json(p.behavior));
    EXPECT_EQ(behavior_to_json(back), behavior_to_json(p.behavior)) << p.name;
  }
}

TEST(NatProfileJson, ErrorsNameThePointerAndTheExpectation) {
  EXPECT_EQ(error_of(json::parse(R"({"mapping": "sym"})")),
            "/topology/sites/1/nat/mapping: unknown value 'sym', expected endpoint-independent, "
            "address-dependent or address-and-port-dependent");
  EXPECT_NE(
      error_of(json::parse(R"({"preset": "fullcone"})"))
          .find("/topology/sites/1/nat/preset: unknown preset 'fullcone', expected one of open, "
                "full-cone"),
      std::string::npos);
  EXPECT_NE(
      error_of(json::parse(R"({"hairpin": true})")).find("/nat/hairpin: unknown key 'hairpin'"),
      std::string::npos);
  EXPECT_EQ(error_of(json::parse(R"({"udp_timeout": 120})")),
            "/topology/sites/1/nat/udp_timeout: expected a duration such as \"30s\" or \"5m\"");
  EXPECT_EQ(error_of(json::parse(R"({"udp_timeout": "2 min"})")),
            "/topology/sites/1/nat/udp_timeout: bad duration '2 min', expected e.g. \"250ms\", "
            "\"30s\", \"5m\"");
  EXPECT_EQ(error_of(json::parse(R"({"port_range": [5000, 4000]})")),
            "/topology/sites/1/nat/port_range: expected 1 <= first <= last <= 65535");
  EXPECT_EQ(error_of(json::parse(R"({"port_range": [1, 70000]})")),
            "/topology/sites/1/nat/port_range/1: expected an integer from 0 to 65535");
  EXPECT_EQ(error_of(json::parse(R"({"hairpinning": "yes"})")),
            "/topology/sites/1/nat/hairpinning: expected true or false");
  EXPECT_EQ(error_of(json::parse(R"("full-cone")")),
            "/topology/sites/1/nat: expected an object (a NAT profile)");
  EXPECT_EQ(error_of(json::parse(R"({"port_range": [1000, 1009], "port_block_size": 11})")),
            "/topology/sites/1/nat/port_block_size: larger than the port range");
  EXPECT_NE(error_of(json::parse(R"({"a/b": 1})")).find("/nat/a~1b:"), std::string::npos);
}

}  // namespace
}  // namespace natsim::nat

namespace natsim::nat {
namespace {

TEST(NatProfileJson, LinuxKnobs) {
  const NatBehavior b = behavior_from_json(nlohmann::json::parse(R"({
      "preset": "linux-masquerade", "wan_drop_new": true, "udp_timeout_stream": "3m",
      "port_collision": "next-free", "port_classes": false})"));
  EXPECT_TRUE(b.conntrack);  // from the preset
  EXPECT_TRUE(b.wan_drop_new);
  EXPECT_EQ(b.udp_timeout_stream, minutes(3));
  EXPECT_EQ(b.port_collision, PortCollision::next_free);
  EXPECT_FALSE(b.port_classes);
  // Round trip.
  const NatBehavior again = behavior_from_json(behavior_to_json(b));
  EXPECT_EQ(again.wan_drop_new, b.wan_drop_new);
  EXPECT_EQ(again.udp_timeout_stream, b.udp_timeout_stream);
  EXPECT_EQ(again.conntrack, b.conntrack);
}

std::string linux_error_of(const char* text) {
  try {
    (void)behavior_from_json(nlohmann::json::parse(text), "/topology/sites/0/nat");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(NatProfileJson, LinuxKnobErrorsNameTheirPointer) {
  EXPECT_EQ(linux_error_of(R"({"port_collision": "rand"})"),
            "/topology/sites/0/nat/port_collision: unknown value 'rand', expected next-free or "
            "random");
  EXPECT_EQ(linux_error_of(R"({"conntrack": 1})"),
            "/topology/sites/0/nat/conntrack: expected true or false");
  EXPECT_EQ(linux_error_of(R"({"udp_timeout_stream": "soon"})"),
            "/topology/sites/0/nat/udp_timeout_stream: bad duration 'soon', expected e.g. "
            "\"250ms\", \"30s\", \"5m\"");
  EXPECT_EQ(linux_error_of(R"({"wan_drop_new": "yes"})"),
            "/topology/sites/0/nat/wan_drop_new: expected true or false");
}

}  // namespace
}  // namespace natsim::nat
