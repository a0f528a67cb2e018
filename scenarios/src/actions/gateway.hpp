#pragma once
// Where a host's gateway answers on its LAN: the address the port-mapping clients (the
// map and connect actions) send PCP and NAT-PMP requests to.
#include <optional>
#include <string>
#include <vector>

#include "../json_reader.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/scenarios/world.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::scenarios::detail {

// The LAN-side IPv4 address of the gateway of the site `host` is in.
[[nodiscard]] std::optional<IpAddress> gateway_of(const World& w, const std::string& host);

// A port mapper's protocols in the order tried, e.g. ["upnp", "pcp"]: an array of "pcp",
// "natpmp" and "upnp", at least one, none twice (errors name the element's pointer).
[[nodiscard]] std::vector<traversal::MappingProtocol> parse_protocol_order(const Reader& r);

}  // namespace natsim::scenarios::detail
