#include "natsim/nat_models/site.hpp"

#include <algorithm>
#include <stdexcept>

namespace natsim::nat {

IpAddress offset_address(const IpAddress& base, std::uint32_t n) {
  IpAddress::Bytes16 bytes = base.bytes();
  const std::size_t last = base.size() - 1;
  std::uint32_t carry = n;
  for (std::size_t i = last + 1; i-- > 0 && carry != 0;) {
    const std::uint32_t sum = bytes[i] + (carry & 0xff);
    bytes[i] = static_cast<std::uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  if (base.is_v4()) {
    return IpAddress::v4(bytes[0], bytes[1], bytes[2], bytes[3]);
  }
  return IpAddress::v6(bytes);
}

Site add_site(sim::Network& net, sim::Router& upstream, const std::string& name,
              const SiteOptions& options) {
  auto& gw = net.add_node<NatGateway>(name, options.behavior);
  auto wan = net.connect(gw, upstream, options.wan_link);
  gw.add_address(wan.a_iface, options.wan);
  upstream.add_address(wan.b_iface, options.upstream);
  if (!gw.set_default_route(options.upstream.address)) {
    throw std::invalid_argument("site " + name + ": upstream address not on the WAN subnet");
  }
  gw.set_wan(wan.a_iface);

  sim::Link& lan = net.add_segment(name + "-lan", options.lan_link);
  const int count = std::max(
      0, options.host_names.empty() ? options.hosts : static_cast<int>(options.host_names.size()));
  lan.reserve(static_cast<std::size_t>(count) + 1);
  const sim::IfaceId gw_lan = net.attach(gw, lan);
  gw.add_address(gw_lan, options.lan);
  std::vector<sim::Host*> hosts;
  hosts.reserve(static_cast<std::size_t>(count));
  for (int i = 1; i <= count; ++i) {
    sim::Host& h = net.add_host(options.host_names.empty()
                                    ? name + "-h" + std::to_string(i)
                                    : options.host_names[static_cast<std::size_t>(i - 1)]);
    const sim::IfaceId iface = net.attach(h, lan);
    // Host addresses follow the gateway's: gateway .1 -> hosts .2, .3, ...
    const IpAddress address = offset_address(options.lan.address, static_cast<std::uint32_t>(i));
    h.add_address(iface, InterfaceAddress{address, options.lan.prefix_length});
    (void)h.set_default_route(options.lan.address);
    hosts.push_back(&h);
  }
  return Site{gw, std::move(hosts), lan, wan.link, wan.b_iface};
}

}  // namespace natsim::nat
