#pragma once
// The self-contained HTML page of a bench-connect report: inline CSS and SVG, a CSP that
// forbids every load, the NAT A x NAT B grids, a setup-time CDF per strategy, the run's
// parameters.
#include <nlohmann/json.hpp>
#include <string>

namespace natsim::tools::bench {

[[nodiscard]] std::string render_html(const nlohmann::json& report);

}  // namespace natsim::tools::bench
