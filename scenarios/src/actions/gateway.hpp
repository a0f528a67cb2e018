#pragma once
// Where a host's gateway answers on its LAN: the address the port-mapping clients (the
// map and connect actions) send PCP and NAT-PMP requests to.
#include <optional>
#include <string>

#include "natsim/base/endpoint.hpp"
#include "natsim/scenarios/world.hpp"

namespace natsim::scenarios::detail {

// The LAN-side IPv4 address of the gateway of the site `host` is in.
[[nodiscard]] std::optional<IpAddress> gateway_of(const World& w, const std::string& host);

}  // namespace natsim::scenarios::detail
