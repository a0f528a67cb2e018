#pragma once
// Builds a World in C++ — the same topology a scenario file describes — for tests that
// put their own application on virtual hosts:
//
//   auto world = scenarios::WorldBuilder(/*seed=*/1)
//                    .stun_server("stun", "198.51.100.10", "198.51.100.11")
//                    .echo_server("echo", "198.51.100.20")
//                    .site("home", "symmetric", {"alice"})
//                    .build();
//   sim::UdpSocket* s = world->host("alice").udp_bind(5000).value();
//   ...
//   world->net.run_for(seconds(10));
//   EXPECT_EQ(world->gateway("home").mappings().size(), 1u);
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/scenarios/world.hpp"

namespace natsim::scenarios {

class WorldBuilder {
 public:
  explicit WorldBuilder(std::uint64_t seed = 1) : seed_(seed) {}

  // Link quality between the core and every server and site (unless they set their own).
  WorldBuilder& core_link(const sim::LinkParams& params);
  // An RFC 5780 STUN server when `alternate_address` is given (ports 3478 and 3479).
  WorldBuilder& stun_server(std::string name, std::string_view address,
                            std::string_view alternate_address = {});
  // A UDP echo server.
  WorldBuilder& echo_server(std::string name, std::string_view address, std::uint16_t port = 7);
  // A public host with no natsim service, for the application under test.
  WorldBuilder& public_host(std::string name, std::string_view address);
  // A site (NAT gateway named `name` with `hosts` behind it) under the core, or nested
  // behind the site `parent`.
  WorldBuilder& site(std::string name, const nat::NatBehavior& nat, std::vector<std::string> hosts,
                     std::string parent = {});
  WorldBuilder& site(std::string name, std::string_view preset, std::vector<std::string> hosts,
                     std::string parent = {});
  // Impairments of the last site added: its uplink and its LAN.
  WorldBuilder& uplink(const sim::LinkParams& params);
  WorldBuilder& lan_link(const sim::LinkParams& params);
  // Makes the last site added an IPv6 site (docs/scenario-format.md): its NAT must be
  // "open" or "firewall", which build() checks.
  WorldBuilder& ipv6();

  // Throws InputError for unknown presets, duplicate names or unknown parents.
  [[nodiscard]] std::unique_ptr<World> build() const;
  // The same, capturing pcaps or writing a trace as `options` says.
  [[nodiscard]] std::unique_ptr<World> build(const RunOptions& options) const;

 private:
  WorldBuilder& add_server(std::string name, ServerKind kind, std::string_view address,
                           std::uint16_t port);
  SiteSpec* find_site(std::vector<SiteSpec>& sites, const std::string& name);

  std::uint64_t seed_;
  Scenario scenario_;
  SiteSpec* last_site_ = nullptr;
};

}  // namespace natsim::scenarios
