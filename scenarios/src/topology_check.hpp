#pragma once
// Checks of a parsed scenario that need the whole of it, so `natsim validate` rejects what
// would otherwise fail or misbehave only when run: addresses that clash in the world, the
// size limits of a topology, and counter expectations naming nodes, links or metrics the
// world will not have. Each throws InputError with the JSON Pointer of the culprit.
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios::detail {

void check_topology(const Scenario& s);
void check_counter_names(const Scenario& s);

}  // namespace natsim::scenarios::detail
