#include "gateway.hpp"

#include <algorithm>

namespace natsim::scenarios::detail {

std::optional<IpAddress> gateway_of(const World& w, const std::string& host) {
  for (const auto& [name, site] : w.sites) {
    const auto& hosts = site.spec->hosts;
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) continue;
    const nat::NatGateway& g = *site.gateway;
    for (sim::IfaceId i = 0; i < g.interface_count(); ++i) {
      if (g.is_wan(i)) continue;
      for (const InterfaceAddress& a : g.interface(i).addresses) {
        if (a.address.is_v4()) return a.address;
      }
    }
  }
  return std::nullopt;
}

}  // namespace natsim::scenarios::detail
