#pragma once

namespace natsim::tools {

// `natsim list presets [--json]`: the NAT presets and their knobs.
int list_presets(bool json);
// `natsim list actions`: the scenario timeline actions and their keys.
int list_actions();
// `natsim list metrics`: the counter metrics scenario expectations can check.
int list_metrics();

}  // namespace natsim::tools
