#pragma once
// A small internet for NAT tests: a core router with two public servers that echo and
// record the source they saw, and sites (NATs with hosts) hung off the core.
#include <string>
#include <vector>

#include "natsim/nat_models/site.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::nat::testing {

inline IpAddress ip(const char* t) {
  return *IpAddress::parse(t);
}
inline Endpoint ep(const char* t) {
  return *Endpoint::parse(t);
}
inline ByteView bytes(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

struct Server {
  sim::Host* host;
  std::vector<sim::UdpSocket*> sockets;
  std::vector<Endpoint> seen;  // sources of everything received, in order
};

struct World {
  explicit World(std::uint64_t seed = 1) : net(seed), core(net.add_router("core")) {
    // s1 = 198.51.100.10 and s2 = 198.51.100.20, each echoing on ports 3478 and 3479.
    add_server("s1", "198.51.100.10");
    add_server("s2", "198.51.100.20");
  }

  void add_server(const std::string& name, const std::string& address) {
    // Each server has its own link to the core; the core takes .250, .251, ... on it.
    sim::Host& h = net.add_host(name);
    auto c = net.connect(h, core);
    const std::string gateway =
        address.substr(0, address.rfind('.')) + "." + std::to_string(servers.size() + 250);
    h.add_address(c.a_iface, address + "/32");
    core.add_address(c.b_iface, gateway + "/32");
    h.add_route(*Prefix::parse(gateway), c.a_iface);
    core.add_route(*Prefix::parse(address), c.b_iface);
    (void)h.set_default_route(ip(gateway.c_str()));
    servers.push_back(Server{&h, {}, {}});
    Server& s = servers.back();
    const std::size_t index = servers.size() - 1;
    for (std::uint16_t port : {3478, 3479}) {
      sim::UdpSocket* sock = h.udp_bind(port).value();
      sock->on_receive([this, index, sock](const sim::Datagram& d) {
        servers[index].seen.push_back(d.from);
        (void)sock->send_to(d.from, d.payload);
      });
      s.sockets.push_back(sock);
    }
  }

  Site site(const std::string& name, const NatBehavior& behavior, int hosts = 1,
            const char* wan = "203.0.113.2/30", const char* upstream = "203.0.113.1/30") {
    SiteOptions o;
    o.behavior = behavior;
    o.hosts = hosts;
    o.wan = *InterfaceAddress::parse(wan);
    o.upstream = *InterfaceAddress::parse(upstream);
    return add_site(net, core, name, o);
  }

  sim::Network net;
  sim::Router& core;
  std::vector<Server> servers;
};

// Records everything a socket receives.
struct Inbox {
  explicit Inbox(sim::UdpSocket* s) : socket(s) {
    s->on_receive([this](const sim::Datagram& d) {
      from.push_back(d.from);
      payloads.emplace_back(d.payload.begin(), d.payload.end());
    });
  }
  sim::UdpSocket* socket;
  std::vector<Endpoint> from;
  std::vector<std::string> payloads;
};

}  // namespace natsim::nat::testing
