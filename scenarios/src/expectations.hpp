#pragma once
// Checking a run's expectations against the outcomes and counters.
#include <map>
#include <string>

#include "outcome.hpp"

namespace natsim::scenarios::detail {

[[nodiscard]] ExpectationResult evaluate(const Expectation& e, const World& w,
                                         const OutcomesById& by_id);

}  // namespace natsim::scenarios::detail
