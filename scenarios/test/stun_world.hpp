#pragma once
// A STUN server on the virtual internet and sites behind NATs, for traversal tests.
#include <memory>
#include <string>
#include <vector>

#include "natsim/nat_models/site.hpp"
#include "natsim/scenarios/sim_driver.hpp"
#include "natsim/traversal/stun_server.hpp"

namespace natsim::scenarios::testing {

inline IpAddress ip(const char* t) {
  return *IpAddress::parse(t);
}
inline Endpoint ep(const char* t) {
  return *Endpoint::parse(t);
}

struct StunWorld {
  // The server: 198.51.100.10 (primary) and .11 (alternate), ports 3478 and 3479.
  explicit StunWorld(std::uint64_t seed = 1, bool rfc5780 = true, sim::LinkParams core_link = {})
      : net(seed), core(net.add_router("core")), server(net.add_host("stun")) {
    auto c = net.connect(server, core, core_link);
    server.add_address(c.a_iface, "198.51.100.10/24");
    server.add_address(c.a_iface, "198.51.100.11/24");
    core.add_address(c.b_iface, "198.51.100.1/24");
    (void)server.set_default_route(ip("198.51.100.1"));
    traversal::stun::ServerConfig config;
    config.primary = ep("198.51.100.10:3478");
    if (rfc5780) {
      config.alternate_address = ip("198.51.100.11");
      config.alternate_port = 3479;
    }
    stun = std::make_unique<traversal::stun::StunServer>(config);
    std::vector<sim::UdpSocket*> sockets;
    for (const Endpoint& e : stun->local_endpoints())
      sockets.push_back(server.udp_bind(e).value());
    driver = std::make_unique<SimDriver<traversal::stun::StunServer>>(server, *stun, sockets);
  }

  nat::Site site(const std::string& name, const nat::NatBehavior& behavior, int hosts = 1,
                 int index = 0) {
    nat::SiteOptions o;
    o.behavior = behavior;
    o.hosts = hosts;
    const std::string base = "203.0.113." + std::to_string(index * 4);
    o.wan = *InterfaceAddress::parse("203.0.113." + std::to_string(index * 4 + 2) + "/30");
    o.upstream = *InterfaceAddress::parse("203.0.113." + std::to_string(index * 4 + 1) + "/30");
    return nat::add_site(net, core, name, o);
  }

  sim::Network net;
  sim::Router& core;
  sim::Host& server;
  std::unique_ptr<traversal::stun::StunServer> stun;
  std::unique_ptr<SimDriver<traversal::stun::StunServer>> driver;
};

}  // namespace natsim::scenarios::testing
