#pragma once
// A NAT gateway: a router whose WAN interfaces face the outside. Packets crossing from
// a LAN interface to a WAN interface are translated (or, in firewall mode, only tracked)
// by a NatTable per address family; packets from outside need a mapping and a
// permission to get in. Runtime actions model what users' gateways do to sessions:
// reboots, address changes, flushes, reconfiguration.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "natsim/nat_models/igd_server.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/sim/node.hpp"

namespace natsim::nat {

class NatGateway : public sim::Router {
 public:
  NatGateway(sim::Network& net, std::string name, sim::NodeId id,
             const NatBehavior& behavior = *preset("port-restricted-cone"));

  // Marks `iface` as outside. Its addresses join the external pool of their family
  // unless a pool was set explicitly.
  void set_wan(sim::IfaceId iface);
  [[nodiscard]] bool is_wan(sim::IfaceId iface) const;
  // Replaces the external pool of the addresses' family (they must be routed to this
  // gateway by its upstream). Flushes that family's mappings.
  void set_external_pool(const std::vector<IpAddress>& pool);

  [[nodiscard]] const NatBehavior& behavior() const { return behavior_; }
  // Applies new knobs. Existing mappings are flushed: their meaning may have changed.
  void set_behavior(const NatBehavior& behavior);

  // Loses every mapping; with `downtime`, drops all traffic until it has passed; with
  // `new_wan_address`, comes back with that address on the first WAN interface.
  void reboot(Duration downtime = Duration::zero(),
              std::optional<InterfaceAddress> new_wan_address = {});
  // The ISP hands out a new address: replaces the first WAN interface's address of that
  // family and flushes the mappings that used the old one.
  void change_wan_address(const InterfaceAddress& address);
  void flush_mappings();

  // Runs PCP and NAT-PMP (as `config` says) on port 5351 of every LAN-side IPv4 address
  // the gateway has now; call it once the LAN is addressed. Off by default. Enabling
  // again replaces the service (a fresh epoch).
  void enable_port_mapping(const PortMappingConfig& config);
  void disable_port_mapping();
  // The service, or null when off.
  [[nodiscard]] const PcpServer* port_mapping() const { return pcp_.get(); }
  // The UPnP IGD service (config.upnp.enabled), or null: SSDP on the LAN, HTTP on the
  // first LAN-side IPv4 address's upnp.http_port (docs/upnp-igd.md).
  [[nodiscard]] const upnp::IgdService* upnp() const { return igd_ ? &igd_->service() : nullptr; }

  [[nodiscard]] std::vector<MappingInfo> mappings() const;
  [[nodiscard]] NatCounters nat_counters() const;  // summed over both families
  [[nodiscard]] const NatTable& table(IpFamily family) const {
    return family == IpFamily::v4 ? v4_ : v6_;
  }

 protected:
  void process(sim::PacketPtr packet, sim::IfaceId in) override;

 private:
  NatTable& table_for(IpFamily family) { return family == IpFamily::v4 ? v4_ : v6_; }
  [[nodiscard]] Translation mode(IpFamily family) const {
    return family == IpFamily::v4 ? behavior_.ipv4 : behavior_.ipv6;
  }
  [[nodiscard]] bool routes_to_wan(const IpAddress& dst) const;
  [[nodiscard]] bool serves_locally(const NatTable& t, const sim::Packet& p) const;
  void outbound(sim::PacketPtr packet);
  void inbound(sim::PacketPtr packet);
  void hairpin(sim::PacketPtr packet);
  void icmp(sim::PacketPtr packet, sim::IfaceId in);
  // Rewrites an ICMP error from outside for the internal host it is about; false if it
  // is about no live mapping (RFC 5508 §4.2).
  bool translate_icmp_error(sim::Packet& p);
  void refuse(sim::PacketPtr packet, NatDrop reason);
  void rebuild_pools();
  void serve_port_mapping(const sim::Datagram& d);
  // Sends what the service has to send (multicast on every LAN interface) and arms its
  // timer.
  void pump_port_mapping();
  // The service lost its state (reboot, new external address): a new epoch, and the LAN
  // is told.
  void port_mapping_lost_state(bool announce_now);
  void readdress(const InterfaceAddress& address);
  void multicast_lan(const traversal::Transmit& t, ByteView bytes);

  NatBehavior behavior_;
  std::vector<sim::IfaceId> wan_;
  std::optional<std::vector<IpAddress>> explicit_pool_[2];  // [v4, v6]
  NatTable v4_;
  NatTable v6_;
  std::unique_ptr<PcpServer> pcp_;
  std::unique_ptr<upnp::IgdServer> igd_;
  std::vector<sim::UdpSocket*> pcp_sockets_;
  std::optional<sim::TimerId> pcp_timer_;
  std::optional<TimePoint> pcp_armed_;
  std::array<std::uint8_t, traversal::pcp::kMaxMessageSize> pcp_buffer_{};
};

}  // namespace natsim::nat
