#pragma once

namespace natsim::tools {

// `natsim list presets [--json]`: the NAT presets and their knobs.
int list_presets(bool json);

}  // namespace natsim::tools
