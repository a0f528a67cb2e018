#pragma once
// The simulator draws from the shared seeded generator of base/.
#include "natsim/base/random.hpp"

namespace natsim::sim {

using natsim::Rng;
using natsim::splitmix64;
using natsim::stable_hash;

}  // namespace natsim::sim
