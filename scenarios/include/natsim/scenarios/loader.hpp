#pragma once
// Loading scenario files. Syntax errors name the file and line:column; errors of meaning
// name the file and the JSON Pointer of the offending value, and say what was expected.
// Unknown keys are errors. A "matrix" expands one file into the cartesian product of its
// variants.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/input_error.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios {

// Every variant of the scenario in `path` (one if there is no matrix). Throws InputError.
[[nodiscard]] std::vector<Scenario> load_scenario_file(const std::string& path);
[[nodiscard]] std::vector<Scenario> load_scenario_text(std::string_view text,
                                                       const std::string& file);
// One scenario from an already expanded document.
[[nodiscard]] Scenario parse_scenario(const nlohmann::json& doc, const std::string& file);

// Link parameters from {"latency": "10ms", "loss": 0.01, "bandwidth": "10Mbps", ...}
// applied over `base`.
[[nodiscard]] sim::LinkParams parse_link_params(const nlohmann::json& j, const std::string& pointer,
                                                sim::LinkParams base = {});

}  // namespace natsim::scenarios
