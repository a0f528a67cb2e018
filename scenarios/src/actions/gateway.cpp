#include "gateway.hpp"

#include <algorithm>

#include "../checks.hpp"

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

std::vector<traversal::MappingProtocol> parse_protocol_order(const Reader& r) {
  if (!r.json().is_array()) r.fail("expected an array of protocols, e.g. [\"upnp\", \"pcp\"]");
  if (r.size() == 0) r.fail("expected at least one protocol");
  std::vector<traversal::MappingProtocol> order;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const Reader e = r[i];
    const auto p = *traversal::parse_mapping_protocol(one_of(e, {"pcp", "natpmp", "upnp"}));
    if (std::find(order.begin(), order.end(), p) != order.end())
      e.fail("'" + e.string() + "' is listed twice");
    order.push_back(p);
  }
  return order;
}

}  // namespace natsim::scenarios::detail
