#pragma once
// The simulated world a scenario describes: the network, servers with their machines,
// sites, and lookups by name. The runner builds one per run; tests build one with
// WorldBuilder and put their own applications on its hosts.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "natsim/nat_models/site.hpp"
#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/scenario.hpp"
#include "natsim/scenarios/sim_driver.hpp"
#include "natsim/sim/pcap.hpp"
#include "natsim/traversal/stun_server.hpp"
#include "natsim/traversal/turn_server.hpp"

namespace natsim::scenarios {

namespace detail {
struct PlannedSite;
}

struct ServerNode {
  const ServerSpec* spec;
  sim::Host* host;
  sim::Link* link;
  std::unique_ptr<traversal::stun::StunServer> stun;
  std::unique_ptr<SimDriver<traversal::stun::StunServer>> driver;
  std::unique_ptr<traversal::turn::TurnServer> turn;
  std::unique_ptr<SimDriver<traversal::turn::TurnServer>> turn_driver;
  std::map<std::uint32_t, std::uint64_t> echo_received;  // per send action tag
};

struct SiteNode {
  const SiteSpec* spec;
  nat::NatGateway* gateway;
  sim::Link* uplink;
  sim::Link* lan;
  sim::Router* upstream;
  sim::IfaceId upstream_iface;

  // The ISP routes a new WAN address to the site, as it would after a renumbering.
  void readdress(const InterfaceAddress& address) const {
    upstream->add_route(
        Prefix(address.address, static_cast<std::uint8_t>(address.address.size() * 8)),
        upstream_iface);
  }
};

class World {
 public:
  World(Scenario scenario, std::uint64_t seed, const RunOptions& options = {});
  // Refers to `*scenario`, which must outlive the world, instead of copying it: the
  // runner's case (the copy was a twentieth of a short connect run).
  World(const Scenario* scenario, std::uint64_t seed, const RunOptions& options = {});
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Lookups by the names of the scenario; throw std::out_of_range for unknown names.
  [[nodiscard]] sim::Host& host(const std::string& name) const { return *hosts.at(name); }
  [[nodiscard]] nat::NatGateway& gateway(const std::string& site) const {
    return *sites.at(site).gateway;
  }
  [[nodiscard]] sim::Host& server_host(const std::string& name) const {
    return *servers.at(name).host;
  }
  // A server's primary endpoint (address and port).
  [[nodiscard]] Endpoint server(const std::string& name) const {
    const ServerSpec& s = *servers.at(name).spec;
    return Endpoint{s.address, s.port};
  }
  [[nodiscard]] const Scenario& scenario() const { return *scenario_; }

 private:
  std::optional<Scenario> owned_;  // first: the specs below point into it
  const Scenario* scenario_;       // owned_ or the caller's

 public:
  sim::Network net;
  // Before the servers and sites: closing their TCP connections on teardown still sends
  // segments, which the nodes capture.
  std::vector<std::unique_ptr<sim::PcapWriter>> captures;
  sim::Router* core;
  std::map<std::string, ServerNode> servers;
  std::map<std::string, SiteNode> sites;
  std::map<std::string, sim::Host*> hosts;

 private:
  void build();
  void add_server(const ServerSpec& spec, std::size_t index);
  void add_site(const detail::PlannedSite& planned, sim::Router& upstream);
  void route_nested(const std::vector<detail::PlannedSite>& plan, std::size_t index);
  RunOptions options_;
};

}  // namespace natsim::scenarios
