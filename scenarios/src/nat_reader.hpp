#pragma once
// A NAT as a scenario gives it: a preset name ("symmetric") or a profile object (a preset
// plus overridden knobs). Sites and the set_nat action use it.
#include "json_reader.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/nat_models/port_mapper_config.hpp"

namespace natsim::scenarios::detail {

// Throws InputError.
[[nodiscard]] nat::NatBehavior parse_nat(const Reader& r);

// A site's "port_mapping": true (PCP and NAT-PMP with the defaults), false (off), or an
// object of the gateway service's knobs. nullopt: off. Throws InputError.
[[nodiscard]] std::optional<nat::PortMappingConfig> parse_port_mapping(const Reader& r);

}  // namespace natsim::scenarios::detail
