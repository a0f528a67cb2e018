#pragma once
// Test helpers: a PortMapper driven on a virtual UDP socket (as scenarios' SimDriver
// does), and a home site with the port-mapping service and one mapper host.
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "nat_world.hpp"
#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::nat::testing {

using traversal::PortMapper;
using traversal::PortMapperEvent;

constexpr Duration kLan = milliseconds(5);

struct Seen {
  TimePoint at;
  PortMapperEvent event;
};

// A datagram the mapper sent, and its first byte: the version (PCP 2, NAT-PMP 0).
struct Sent {
  TimePoint at;
  std::uint8_t version = 0;
};

// Drives a PortMapper on one virtual UDP socket (as scenarios' SimDriver does).
struct Driver {
  Driver(sim::Host& h, traversal::PortMapperConfig c)
      : host(h), socket(h.udp_bind(c.local.port).value()), mapper(c) {
    socket->on_receive([this](const sim::Datagram& d) {
      if (drop_received && drop_received(d.payload)) return;
      (void)mapper.handle_datagram(d.at, d.to, d.from, d.payload);
      pump();
    });
  }
  void pump() {
    const auto deadline = traversal::pump(
        mapper, buffer,
        [this](const traversal::Transmit& t, ByteView b) {
          sent.push_back(Sent{host.now(), b.empty() ? std::uint8_t{0} : b[0]});
          (void)socket->send_to(t.remote, b);
        },
        [this](const PortMapperEvent& e) {
          seen.push_back(Seen{host.now(), e});
        });
    host.cancel(timer);
    if (deadline) {
      timer = host.schedule_at(std::max(*deadline, host.now()),
                               [this] {
                                 mapper.handle_timeout(host.now());
                                 pump();
                               })
                  .value();
    }
  }
  sim::Host& host;
  sim::UdpSocket* socket;
  PortMapper mapper;
  std::array<std::uint8_t, 2048> buffer{};
  sim::TimerId timer{};
  std::vector<Seen> seen;
  std::vector<Sent> sent;
  // Answers it returns true for never reach the mapper: a gateway whose PCP, say, stops
  // being answered while the rest of it goes on working.
  std::function<bool(ByteView)> drop_received;
};

struct MapperLab {
  explicit MapperLab(const PortMappingConfig& config, const char* wan = "203.0.113.2/30",
                     const char* upstream = "203.0.113.1/30") {
    SiteOptions o;
    o.behavior = *preset("symmetric");
    o.lan_link.latency = kLan;
    o.wan = *InterfaceAddress::parse(wan);
    o.upstream = *InterfaceAddress::parse(upstream);
    site = std::make_unique<Site>(add_site(w.net, w.core, "home", o));
    site->gateway.enable_port_mapping(config);
    traversal::PortMapperConfig c;
    c.local = ep("10.0.0.2:5350");
    c.gateway = ep("10.0.0.1:5351");
    driver = std::make_unique<Driver>(*site->hosts[0], c);
  }
  testing::World w;
  std::unique_ptr<Site> site;
  std::unique_ptr<Driver> driver;
};

}  // namespace natsim::nat::testing
