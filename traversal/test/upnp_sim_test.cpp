// The UPnP client, carried by the port mapper over the simulator, against the IGD
// service of a simulated gateway (nat_models' IgdServer): SSDP over the LAN's
// multicast, the description and SOAP over virtual TCP, and the gateway's misbehaviour
// knobs as the client sees them. 5 ms one way on the LAN.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "../../nat_models/test/nat_world.hpp"
#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/scenarios/sim_driver.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::traversal {
namespace {

constexpr Duration kLan = milliseconds(5);

struct Seen {
  TimePoint at;
  PortMapperEvent e;
};

struct Lab {
  explicit Lab(nat::PortMappingConfig c = {}, bool hear_notify = false) {
    nat::SiteOptions o;
    o.lan_link.latency = kLan;
    site = std::make_unique<nat::Site>(nat::add_site(w.net, w.core, "home", o));
    c.upnp.enabled = true;
    site->gateway.enable_port_mapping(c);
    sim::Host& h = *site->hosts[0];
    socket = h.udp_bind(50000).value();
    PortMapperConfig m;
    m.local = Endpoint{*h.address(), 50000};
    m.gateway = Endpoint{IpAddress::v4(10, 0, 0, 1), pcp::kServerPort};
    m.protocols = {MappingProtocol::upnp};
    mapper = std::make_unique<PortMapper>(m);
    std::vector<sim::UdpSocket*> sockets{socket};
    if (hear_notify)
      sockets.push_back(h.udp_bind(Endpoint{ssdp::kMulticastV4, ssdp::kPort}).value());
    driver = std::make_unique<scenarios::SimDriver<PortMapper>>(h, *mapper, sockets);
    driver->on_event([this](const PortMapperEvent& e) { seen.push_back({w.net.now(), e}); });
  }
  std::size_t add(std::uint32_t lease = 600) {
    const auto id = mapper->add(w.net.now(), 17, 40000, lease, 40000);
    driver->pump();
    return id;
  }
  const Seen* find(PortMapperEvent::Kind k) const {
    for (const Seen& s : seen) {
      if (s.e.kind == k) return &s;
    }
    return nullptr;
  }
  nat::testing::World w;
  std::unique_ptr<nat::Site> site;
  sim::UdpSocket* socket = nullptr;
  std::unique_ptr<PortMapper> mapper;
  std::unique_ptr<scenarios::SimDriver<PortMapper>> driver;
  std::vector<Seen> seen;
};

TEST(UpnpSim, MapsOnTheSimulatedIgdAndDeletes) {
  Lab lab;
  lab.w.net.run_until(at(seconds(1)));
  const auto id = lab.add();
  lab.w.net.run_until(at(seconds(5)));
  const Seen* m = lab.find(PortMapperEvent::Kind::mapped);
  ASSERT_TRUE(m) << (lab.seen.empty() ? "no event" : lab.seen[0].e.detail);
  EXPECT_EQ(m->e.protocol, MappingProtocol::upnp);
  EXPECT_EQ(m->e.external, (Endpoint{IpAddress::v4(203, 0, 113, 2), 40000}));
  EXPECT_FALSE(m->e.double_nat);
  // M-SEARCH and its answer: one LAN round trip (10 ms); then three HTTP exchanges
  // (description, GetExternalIPAddress, AddAnyPortMapping), each a new connection:
  // SYN, SYN-ACK, request, answer (20 ms).
  EXPECT_EQ(m->at, at(seconds(1) + milliseconds(70)));
  lab.mapper->remove(lab.w.net.now(), id);
  lab.driver->pump();
  lab.w.net.run_until(at(seconds(10)));
  ASSERT_TRUE(lab.find(PortMapperEvent::Kind::deleted));
}

TEST(UpnpSim, OnlyPermanentLeases) {
  nat::PortMappingConfig c;
  c.upnp.only_permanent_leases = true;
  Lab lab(c);
  lab.add();
  lab.w.net.run_until(at(seconds(5)));
  const Seen* m = lab.find(PortMapperEvent::Kind::mapped);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->e.lifetime, 0u);
}

TEST(UpnpSim, V1OnlyGateway) {
  nat::PortMappingConfig c;
  c.upnp.v1_only = true;
  Lab lab(c);
  lab.add();
  lab.w.net.run_until(at(seconds(5)));
  ASSERT_TRUE(lab.find(PortMapperEvent::Kind::mapped));
}

TEST(UpnpSim, RefusedControlIsNotAuthorized) {
  nat::PortMappingConfig c;
  c.upnp.refuse_control = true;
  Lab lab(c);
  lab.add();
  lab.w.net.run_until(at(seconds(30)));
  const Seen* f = lab.find(PortMapperEvent::Kind::failed);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->e.result, 606);
}

TEST(UpnpSim, WrongControlUrlHostIsWorkedAround) {
  nat::PortMappingConfig c;
  c.upnp.control_url_host = "203.0.113.2";
  Lab lab(c);
  lab.add();
  lab.w.net.run_until(at(seconds(30)));
  const Seen* m = lab.find(PortMapperEvent::Kind::mapped);
  ASSERT_TRUE(m) << (lab.seen.empty() ? "no event" : lab.seen[0].e.detail);
}

TEST(UpnpSim, ConflictOnOwnPortAtRenewal) {
  nat::PortMappingConfig c;
  c.upnp.conflict_on_any_port_in_use = true;
  Lab lab(c);
  lab.add(600);
  lab.w.net.run_until(at(seconds(400)));
  const Seen* r = lab.find(PortMapperEvent::Kind::refreshed);
  ASSERT_TRUE(r) << (lab.seen.empty() ? "no event" : lab.seen.back().e.detail);
  EXPECT_EQ(r->e.external.port, 40000);
  // Mapped at 70 ms; at half the lease four exchanges of 20 ms: the check, the 718 to the
  // renewal, DeletePortMapping and AddPortMapping again.
  EXPECT_EQ(r->at, at(seconds(300) + milliseconds(150)));
}

TEST(UpnpSim, RebootThatForgetsIsRepaired) {
  nat::PortMappingConfig c;
  c.on_reboot = nat::RebootMappings::forget_silently;
  Lab lab(c);
  lab.add(600);
  lab.w.net.run_until(at(seconds(100)));
  ASSERT_TRUE(lab.find(PortMapperEvent::Kind::mapped));
  lab.site->gateway.reboot(Duration::zero());
  lab.w.net.run_until(at(seconds(400)));
  const Seen* lost = lab.find(PortMapperEvent::Kind::gateway_rebooted);
  const Seen* re = lab.find(PortMapperEvent::Kind::recreated);
  ASSERT_TRUE(lost);
  ASSERT_TRUE(re);
  // Mapped at 70 ms; at half the lease GetSpecificPortMappingEntry answers 714 one
  // exchange later, and AddPortMapping re-creates the mapping one exchange after that.
  EXPECT_EQ(lost->at, at(seconds(300) + milliseconds(90)));
  EXPECT_EQ(re->at, at(seconds(300) + milliseconds(110)));
  EXPECT_EQ(re->e.external, (Endpoint{IpAddress::v4(203, 0, 113, 2), 40000}));
}

// The gateway says ssdp:byebye as it goes down and ssdp:alive when back (UDA 1.1 §1.2):
// a client that hears them checks its mapping at once instead of at half its lease.
TEST(UpnpSim, RebootHeardInNotifyIsRepairedWhenTheGatewayIsBack) {
  nat::PortMappingConfig c;
  c.on_reboot = nat::RebootMappings::forget;
  Lab lab(c, true);
  lab.add(600);
  lab.w.net.run_until(at(seconds(100)));
  ASSERT_TRUE(lab.find(PortMapperEvent::Kind::mapped));
  lab.site->gateway.reboot(seconds(30));
  lab.w.net.run_until(at(seconds(400)));
  const Seen* lost = lab.find(PortMapperEvent::Kind::gateway_rebooted);
  const Seen* re = lab.find(PortMapperEvent::Kind::recreated);
  ASSERT_TRUE(lost);
  ASSERT_TRUE(re);
  // Back at 130 s; its alive arrives 5 ms later; GetSpecificPortMappingEntry answers
  // 714 one exchange (20 ms) later, AddPortMapping re-creates it 20 ms after that.
  EXPECT_EQ(lost->at, at(seconds(130) + milliseconds(25)));
  EXPECT_EQ(re->at, at(seconds(130) + milliseconds(45)));
  EXPECT_EQ(re->e.external, (Endpoint{IpAddress::v4(203, 0, 113, 2), 40000}));
}

// The periodic alive of a gateway that did not go away changes nothing.
TEST(UpnpSim, PeriodicAliveIsNotAReboot) {
  Lab lab({}, true);
  lab.add(3600);
  lab.w.net.run_until(at(seconds(1000)));
  EXPECT_TRUE(lab.find(PortMapperEvent::Kind::mapped));
  EXPECT_FALSE(lab.find(PortMapperEvent::Kind::refreshed));  // 900 s alive: no check
  EXPECT_FALSE(lab.find(PortMapperEvent::Kind::gateway_rebooted));
}

}  // namespace
}  // namespace natsim::traversal
