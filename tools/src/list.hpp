#pragma once

namespace natsim::tools {

// `natsim list presets [--json]`: the NAT presets and their knobs.
int list_presets(bool json);
// `natsim list actions [--json]`: the scenario timeline actions, their keys and the
// expectation keys that apply to them (the loader's own table).
int list_actions(bool json);
// `natsim list metrics`: the counter metrics scenario expectations can check.
int list_metrics();

}  // namespace natsim::tools
