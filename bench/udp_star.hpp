#pragma once
// The anchor workload (../shared/anchors/README.md): a routed star, spoke 0 a UDP echo
// server on port 3478, spokes 1..N clients sending 100-byte requests every 10 ms
// (starts staggered over one interval), 1 Gbps and 1 ms per link.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "natsim/nat_models/site.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::bench {

struct UdpStar {
  // With `behind_nat`, every client sits alone behind its own NAT gateway (the gateway
  // takes the spoke's address and link; the client is 192.168.1.2 on its LAN).
  explicit UdpStar(int clients, bool behind_nat = false, std::uint64_t seed = 1) : net(seed) {
    using namespace natsim::sim;
    LinkParams lp;
    lp.latency = milliseconds(1);
    lp.bandwidth_bps = 1'000'000'000;
    Router& hub = net.add_router("hub");
    Host& server = net.add_host("server");
    attach(server, hub, 0, lp);
    UdpSocket* echo = server.udp_bind(3478).value();
    echo->on_receive([this, echo](const Datagram& d) {
      ++server_rx;
      (void)echo->send_to(d.from, d.payload);
    });
    const Endpoint server_ep{*IpAddress::parse("10.0.0.1"), 3478};
    for (int i = 1; i <= clients; ++i) {
      Host* client;
      if (behind_nat) {
        nat::SiteOptions o;
        o.behavior = *nat::preset("port-restricted-cone");
        o.lan = *InterfaceAddress::parse("192.168.1.1/24");
        o.wan = *InterfaceAddress::parse(spoke_net(i, 1) + "/30");
        o.upstream = *InterfaceAddress::parse(spoke_net(i, 2) + "/30");
        o.wan_link = lp;
        o.lan_link = lp;
        client = nat::add_site(net, hub, "n" + std::to_string(i), o).hosts.front();
      } else {
        client = &net.add_host("c" + std::to_string(i));
        attach(*client, hub, i, lp);
      }
      Host& h = *client;
      UdpSocket* s = h.udp_bind().value();
      s->on_receive([this](const Datagram&) { ++client_rx; });
      const Duration start = milliseconds(10) * (i - 1) / clients;
      senders.push_back(std::make_unique<Sender>(Sender{&h, s, server_ep}));
      Sender* sender = senders.back().get();
      (void)h.schedule_in(start, [sender] { sender->tick(); });
    }
  }

  // Spoke i gets 10.<i/64>.<(i%64)*4>.0/30 style addressing: .1 is the spoke, .2 the hub.
  static std::string spoke_net(int i, int host) {
    const int block = i * 4;
    return "10." + std::to_string(block >> 16) + "." + std::to_string((block >> 8) & 0xff) + "." +
           std::to_string((block & 0xff) + host);
  }
  void attach(natsim::sim::Node& spoke, natsim::sim::Router& hub, int i,
              const natsim::sim::LinkParams& lp) {
    auto c = net.connect(spoke, hub, lp);
    spoke.add_address(c.a_iface, spoke_net(i, 1) + "/30");
    hub.add_address(c.b_iface, spoke_net(i, 2) + "/30");
    (void)spoke.set_default_route(*IpAddress::parse(spoke_net(i, 2)));
  }

  struct Sender {
    natsim::sim::Node* host;
    natsim::sim::UdpSocket* socket;
    Endpoint server;
    void tick() {
      std::uint8_t payload[100] = {};
      (void)socket->send_to(server, payload);
      (void)host->schedule_in(milliseconds(10), [this] { tick(); });
    }
  };

  [[nodiscard]] std::uint64_t delivered() const { return server_rx + client_rx; }

  natsim::sim::Network net;
  std::vector<std::unique_ptr<Sender>> senders;
  std::uint64_t server_rx = 0;
  std::uint64_t client_rx = 0;
};

}  // namespace natsim::bench
