#pragma once
// NAT profiles as JSON, the form scenario files use:
//   {"preset": "port-restricted-cone", "mapping": "address-dependent", "udp_timeout": "2m"}
// A profile starts from its preset (default: port-restricted-cone) and overrides knobs.
#include <nlohmann/json.hpp>
#include <string>

#include "natsim/base/input_error.hpp"
#include "natsim/nat_models/nat_behavior.hpp"

namespace natsim::nat {

// Throws InputError naming the JSON Pointer of the offending value (under `pointer`,
// the location of `profile` itself) and what was expected. Unknown keys are errors.
[[nodiscard]] NatBehavior behavior_from_json(const nlohmann::json& profile,
                                             const std::string& pointer = "");
// Every knob, explicitly (no preset key).
[[nodiscard]] nlohmann::json behavior_to_json(const NatBehavior& behavior);

}  // namespace natsim::nat
