#pragma once
// A site: a NAT gateway with hosts on a LAN behind it and a WAN link to an upstream
// router, addressed by a static plan. The building block of tests, benchmarks and
// scenario topologies (nest sites to get a home gateway behind a CGNAT).
#include <string>
#include <vector>

#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::nat {

struct SiteOptions {
  NatBehavior behavior = *preset("port-restricted-cone");
  // The LAN: the gateway takes the first host address, hosts the following ones.
  InterfaceAddress lan = *InterfaceAddress::parse("10.0.0.1/24");
  int hosts = 1;
  std::vector<std::string> host_names;  // if set, the hosts' names (and their count)
  // The WAN link: the gateway's address and the upstream router's, same subnet.
  InterfaceAddress wan = *InterfaceAddress::parse("203.0.113.2/30");
  InterfaceAddress upstream = *InterfaceAddress::parse("203.0.113.1/30");
  sim::LinkParams lan_link;
  sim::LinkParams wan_link;
};

struct Site {
  NatGateway& gateway;
  std::vector<sim::Host*> hosts;
  sim::Link& lan;
  sim::Link& wan;
  sim::IfaceId upstream_iface;  // the upstream router's interface toward this site
};

// Builds the site under `upstream` (a router). Hosts are named "<name>-h1", "<name>-h2", ...
// and the gateway "<name>". The upstream gets a connected route to the WAN subnet; add
// routes for extra external pool addresses yourself.
Site add_site(sim::Network& net, sim::Router& upstream, const std::string& name,
              const SiteOptions& options);

// `base` plus n, carrying across bytes ("10.0.0.255" + 1 = "10.0.1.0").
[[nodiscard]] IpAddress offset_address(const IpAddress& base, std::uint32_t n);

}  // namespace natsim::nat
