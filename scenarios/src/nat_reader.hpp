#pragma once
// A NAT as a scenario gives it: a preset name ("symmetric") or a profile object (a preset
// plus overridden knobs). Sites and the set_nat action use it.
#include "json_reader.hpp"
#include "natsim/nat_models/nat_behavior.hpp"

namespace natsim::scenarios::detail {

// Throws InputError.
[[nodiscard]] nat::NatBehavior parse_nat(const Reader& r);

}  // namespace natsim::scenarios::detail
