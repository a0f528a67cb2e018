#include "nat_reader.hpp"

#include "natsim/nat_models/nat_behavior_json.hpp"

namespace natsim::scenarios::detail {

nat::NatBehavior parse_nat(const Reader& r) {
  // "nat": "symmetric" is shorthand for {"preset": "symmetric"}.
  if (r.json().is_string()) {
    auto p = nat::preset(r.string());
    if (!p) {
      std::string names;
      for (const auto& preset : nat::presets())
        names += (names.empty() ? "" : ", ") + std::string(preset.name);
      r.fail("unknown preset '" + r.string() + "', expected one of " + names);
    }
    return *p;
  }
  return nat::behavior_from_json(r.json(), r.pointer());
}

}  // namespace natsim::scenarios::detail
