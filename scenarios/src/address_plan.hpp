#pragma once
// The address plan of a scenario's sites (docs/scenario-format.md): given or default LAN,
// WAN and upstream addresses for every site, in the order the world builds them. One
// function for the world and for the loader's checks, so both see the same addresses.
#include <cstddef>
#include <vector>

#include "natsim/base/ip_address.hpp"
#include "natsim/scenarios/scenario.hpp"

namespace natsim::scenarios::detail {

struct PlannedSite {
  const SiteSpec* spec = nullptr;
  InterfaceAddress lan;        // the gateway's LAN address
  InterfaceAddress wan;        // the gateway's WAN address
  InterfaceAddress upstream;   // the upstream router's address on the WAN link
  std::ptrdiff_t parent = -1;  // index of the site it is nested in; -1 under the core
};

// Depth first, a site before the sites nested in it.
[[nodiscard]] std::vector<PlannedSite> plan_sites(const std::vector<SiteSpec>& sites);

}  // namespace natsim::scenarios::detail
