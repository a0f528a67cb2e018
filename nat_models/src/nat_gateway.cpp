#include "natsim/nat_models/nat_gateway.hpp"

#include <algorithm>
#include <cstring>

#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::nat {

using sim::DropReason;
using sim::IfaceId;
using sim::PacketPtr;

namespace {

NatTable make_table(const NatBehavior& b, sim::Network& net, const std::string& name,
                    IpFamily family, std::vector<IpAddress> pool) {
  const Translation mode = family == IpFamily::v4 ? b.ipv4 : b.ipv6;
  const char* tag = family == IpFamily::v4 ? ":v4" : ":v6";
  return NatTable(b, std::move(pool), mode == Translation::translate,
                  net.rng_for("nat:" + name + tag));
}

std::size_t family_index(IpFamily f) {
  return f == IpFamily::v4 ? 0 : 1;
}

}  // namespace

NatGateway::NatGateway(sim::Network& net, std::string name, sim::NodeId id,
                       const NatBehavior& behavior)
    : Router(net, std::move(name), id),
      behavior_(behavior),
      v4_(make_table(behavior_, net, this->name(), IpFamily::v4, {})),
      v6_(make_table(behavior_, net, this->name(), IpFamily::v6, {})) {}

void NatGateway::set_wan(IfaceId iface) {
  if (!is_wan(iface)) wan_.push_back(iface);
  rebuild_pools();
}

bool NatGateway::is_wan(IfaceId iface) const {
  return std::find(wan_.begin(), wan_.end(), iface) != wan_.end();
}

void NatGateway::set_external_pool(const std::vector<IpAddress>& pool) {
  if (pool.empty()) return;
  explicit_pool_[family_index(pool.front().family())] = pool;
  rebuild_pools();
}

void NatGateway::rebuild_pools() {
  for (IpFamily family : {IpFamily::v4, IpFamily::v6}) {
    std::vector<IpAddress> pool;
    if (const auto& chosen = explicit_pool_[family_index(family)]) {
      pool = *chosen;
    } else {
      for (IfaceId w : wan_) {
        for (const InterfaceAddress& a : interface(w).addresses) {
          if (a.address.family() == family) pool.push_back(a.address);
        }
      }
    }
    table_for(family).set_pool(std::move(pool));
  }
}

void NatGateway::set_behavior(const NatBehavior& behavior) {
  behavior_ = behavior;
  v4_ = make_table(behavior_, network(), name(), IpFamily::v4, v4_.pool());
  v6_ = make_table(behavior_, network(), name(), IpFamily::v6, v6_.pool());
}

void NatGateway::flush_mappings() {
  v4_.flush();
  v6_.flush();
}

void NatGateway::reboot(Duration downtime, std::optional<InterfaceAddress> new_wan_address) {
  // A new WAN address loses every mapping, whatever the service would keep.
  const RebootMappings keep =
      pcp_ && !new_wan_address ? pcp_->config().on_reboot : RebootMappings::forget;
  if (igd_) {
    // UDA 1.1 §1.2.3: the IGD says byebye as it goes, alive as it comes back; one that
    // forgets silently does neither. Its HTTP connections are lost either way.
    if (keep == RebootMappings::forget_silently) {
      igd_->drop_connections();
    } else {
      igd_->shutdown();
      if (downtime == Duration::zero()) igd_->boot();  // else when it is up again, below
    }
  }
  if (keep == RebootMappings::persist) {
    v4_.flush_keeping_explicit();
    v6_.flush_keeping_explicit();
  } else {
    flush_mappings();
  }
  if (new_wan_address) readdress(*new_wan_address);
  if (keep != RebootMappings::forget) {
    // No epoch reset and no announcement: kept state (persist) needs none, and a
    // gateway that forgets silently gives none.
    if (keep == RebootMappings::forget_silently) pcp_->forget_silently();
    if (downtime > Duration::zero()) {
      set_up(false);
      (void)schedule_in(downtime, [this] {
        set_up(true);
        if (igd_ && pcp_ && pcp_->config().on_reboot == RebootMappings::persist) igd_->boot();
      });
    }
    return;
  }
  if (downtime > Duration::zero()) {
    port_mapping_lost_state(false);
    set_up(false);
    (void)schedule_in(downtime, [this] {
      set_up(true);
      if (igd_) igd_->boot();
      if (pcp_) {
        pcp_->announce(now());
        pump_port_mapping();
      }
    });
  } else {
    port_mapping_lost_state(true);
  }
}

void NatGateway::change_wan_address(const InterfaceAddress& address) {
  readdress(address);
  // The mappings on the old address are gone: for the service that is lost state.
  port_mapping_lost_state(true);
}

void NatGateway::port_mapping_lost_state(bool announce_now) {
  if (!pcp_) return;
  // RFC 6887 §8.5 / RFC 6886 §3.6: the port-mapping epoch starts again.
  pcp_->reboot(now());
  if (!announce_now) return;
  pcp_->announce(now());
  pump_port_mapping();
}

void NatGateway::readdress(const InterfaceAddress& address) {
  if (wan_.empty()) return;
  const IfaceId w = wan_.front();
  std::vector<IpAddress> old;
  for (const InterfaceAddress& a : interface(w).addresses) {
    if (a.address.family() == address.address.family()) old.push_back(a.address);
  }
  for (const IpAddress& a : old)
    remove_address(w, a);
  add_address(w, address);
  auto& chosen = explicit_pool_[family_index(address.address.family())];
  if (chosen)
    std::replace_if(
        chosen->begin(), chosen->end(),
        [&](const IpAddress& a) { return std::find(old.begin(), old.end(), a) != old.end(); },
        address.address);
  rebuild_pools();
}

void NatGateway::enable_port_mapping(const PortMappingConfig& config) {
  disable_port_mapping();
  pcp_ = std::make_unique<PcpServer>(v4_, config, now());
  if (config.upnp.enabled) {
    for (IfaceId i = 0; i < interface_count() && !igd_; ++i) {
      if (is_wan(i)) continue;
      for (const InterfaceAddress& a : interface(i).addresses) {
        if (!a.address.is_v4()) continue;
        igd_ = std::make_unique<upnp::IgdServer>(
            *this, v4_, config, a.address,
            [this](const traversal::Transmit& t, ByteView b) { multicast_lan(t, b); });
        igd_->boot();
        break;
      }
    }
  }
  for (IfaceId i = 0; i < interface_count(); ++i) {
    if (is_wan(i)) continue;
    for (const InterfaceAddress& a : interface(i).addresses) {
      if (!a.address.is_v4()) continue;
      auto socket = udp_bind(Endpoint{a.address, traversal::pcp::kServerPort});
      if (!socket) continue;
      (*socket)->on_receive([this](const sim::Datagram& d) { serve_port_mapping(d); });
      pcp_sockets_.push_back(*socket);
    }
  }
}

void NatGateway::disable_port_mapping() {
  if (igd_) igd_->close();
  igd_.reset();
  for (sim::UdpSocket* s : pcp_sockets_)
    s->close();
  pcp_sockets_.clear();
  if (pcp_timer_) (void)cancel(*pcp_timer_);
  pcp_timer_.reset();
  pcp_armed_.reset();
  pcp_.reset();
}

void NatGateway::serve_port_mapping(const sim::Datagram& d) {
  if (!pcp_) return;
  (void)pcp_->handle_datagram(d.at, d.to, d.from, d.payload);
  pump_port_mapping();
}

void NatGateway::pump_port_mapping() {
  const auto deadline = traversal::pump(
      *pcp_, pcp_buffer_,
      [this](const traversal::Transmit& t, ByteView bytes) {
        if (t.remote.address.is_multicast()) return multicast_lan(t, bytes);
        for (sim::UdpSocket* s : pcp_sockets_) {
          if (s->local() == t.local) {
            (void)s->send_to(t.remote, bytes);
            return;
          }
        }
      },
      [](int) {});
  if (deadline == pcp_armed_) return;
  if (pcp_timer_) (void)cancel(*pcp_timer_);
  pcp_timer_.reset();
  pcp_armed_ = deadline;
  if (!deadline) return;
  auto id = schedule_at(std::max(*deadline, now()), [this] {
    pcp_timer_.reset();
    pcp_armed_.reset();
    if (!pcp_) return;
    pcp_->handle_timeout(now());
    pump_port_mapping();
  });
  if (id) pcp_timer_ = *id;
}

void NatGateway::multicast_lan(const traversal::Transmit& t, ByteView bytes) {
  // A link-scoped group: one copy per LAN interface, from its address, never routed.
  if (!is_up()) return;
  for (IfaceId i = 0; i < interface_count(); ++i) {
    if (is_wan(i)) continue;
    for (const InterfaceAddress& a : interface(i).addresses) {
      if (!a.address.is_v4()) continue;
      sim::PacketPtr p = network().packets().acquire();
      p->proto = IpProto::udp;
      p->src = Endpoint{a.address, t.local.port};
      p->dst = t.remote;
      p->ttl = 1;
      p->assign(bytes);
      p->id = network().next_packet_id();
      transmit(std::move(p), i, t.remote.address);
      break;
    }
  }
}

std::vector<MappingInfo> NatGateway::mappings() const {
  std::vector<MappingInfo> out = v4_.mappings(now());
  for (MappingInfo& m : v6_.mappings(now()))
    out.push_back(std::move(m));
  return out;
}

NatCounters NatGateway::nat_counters() const {
  NatCounters sum = v4_.counters();
  const NatCounters& b = v6_.counters();
  sum.outbound += b.outbound;
  sum.inbound += b.inbound;
  sum.hairpinned += b.hairpinned;
  sum.mappings_created += b.mappings_created;
  sum.mappings_expired += b.mappings_expired;
  sum.mappings_mapped += b.mappings_mapped;
  sum.mappings_unmapped += b.mappings_unmapped;
  for (std::size_t i = 0; i < kNatDropCount; ++i)
    sum.dropped[i] += b.dropped[i];
  return sum;
}

bool NatGateway::serves_locally(const NatTable& t, const sim::Packet& p) const {
  // The gateway's own services on its external address answer where no mapping exists.
  return p.proto == sim::IpProto::udp && !t.maps(p.proto, p.dst) && udp_listener(p.dst) != nullptr;
}

bool NatGateway::routes_to_wan(const IpAddress& dst) const {
  const sim::Route* r = routes().lookup(dst);
  return r != nullptr && is_wan(r->iface);
}

void NatGateway::process(PacketPtr packet, IfaceId in) {
  const IpAddress& dst = packet->dst.address;
  if (mode(dst.family()) == Translation::open) return Router::process(std::move(packet), in);
  if (packet->proto == sim::IpProto::icmp) return icmp(std::move(packet), in);
  if (is_wan(in)) return inbound(std::move(packet));
  if (table_for(dst.family()).is_external(dst)) return hairpin(std::move(packet));
  if (owns(dst) || dst.is_multicast() || dst.is_broadcast()) {
    return deliver_local(std::move(packet));
  }
  if (!routes_to_wan(dst)) return forward(std::move(packet));  // LAN to LAN: untouched
  outbound(std::move(packet));
}

void NatGateway::outbound(PacketPtr packet) {
  NatTable& t = table_for(packet->dst.address.family());
  auto external = t.outbound(now(), packet->proto, packet->src, packet->dst, packet->tcp.flags);
  if (!external) return refuse(std::move(packet), external.error());
  packet->src = *external;
  forward(std::move(packet));
}

void NatGateway::inbound(PacketPtr packet) {
  NatTable& t = table_for(packet->dst.address.family());
  const bool for_table =
      t.translates() ? t.is_external(packet->dst.address) : !owns(packet->dst.address);
  if (!for_table) {
    if (owns(packet->dst.address)) return deliver_local(std::move(packet));
    // Outside traffic addressed to an inside address without translation: never let in.
    ++t.counters().dropped[static_cast<std::size_t>(NatDrop::no_mapping)];
    return refuse(std::move(packet), NatDrop::no_mapping);
  }
  if (t.translates() && serves_locally(t, *packet)) return deliver_local(std::move(packet));
  auto internal = t.inbound(now(), packet->proto, packet->src, packet->dst, packet->tcp.flags);
  if (!internal) {
    // Linux: a datagram that matches no flow is for the router itself, whose UDP stack
    // has no socket there (__udp4_lib_rcv -> icmp_send port unreachable), from the
    // address it was sent to; unless `ct state new drop` dropped it first. Only a
    // translating NAT's external address is the router's own: in firewall mode the
    // destination is the inside host, whose address the router must not answer from.
    if (behavior_.icmp_unreachable && !behavior_.wan_drop_new && t.translates() &&
        packet->proto == sim::IpProto::udp && internal.error() != NatDrop::exhausted)
      (void)send_icmp_port_unreachable(*packet, packet->dst.address);
    // The knob for NATs that answer an unsolicited SYN with a RST (docs/nat-models.md).
    sim::PacketPtr reset;
    if (behavior_.tcp_unsolicited_syn == UnsolicitedSyn::reset &&
        (packet->tcp.flags & (sim::tcp_flags::syn | sim::tcp_flags::ack)) == sim::tcp_flags::syn)
      reset = sim::make_tcp_reset(network().packets(), *packet);
    refuse(std::move(packet), internal.error());
    if (reset) (void)send(std::move(reset));
    return;
  }
  packet->dst = *internal;
  forward(std::move(packet));
}

void NatGateway::hairpin(PacketPtr packet) {
  NatTable& t = table_for(packet->dst.address.family());
  if (serves_locally(t, *packet)) return deliver_local(std::move(packet));
  // RFC 4787 REQ-9: a NAT MUST hairpin (the knob models those that do not).
  if (!behavior_.hairpinning) {
    ++t.counters().dropped[static_cast<std::size_t>(NatDrop::hairpin_disabled)];
    // Linux without hairpin rules: the packet is for the router's own address, where no
    // socket listens (an inside packet: a WAN-side `ct state new drop` does not apply).
    if (behavior_.icmp_unreachable && packet->proto == sim::IpProto::udp)
      (void)send_icmp_port_unreachable(*packet, packet->dst.address);
    return refuse(std::move(packet), NatDrop::hairpin_disabled);
  }
  // REQ-9a: the packet leaves the NAT from the sender's external endpoint, and is
  // filtered at the target mapping as if it had arrived from outside.
  auto external = t.outbound(now(), packet->proto, packet->src, packet->dst, packet->tcp.flags);
  if (!external) return refuse(std::move(packet), external.error());
  const Endpoint from = behavior_.hairpin_translate_source ? *external : packet->src;
  auto internal = t.inbound(now(), packet->proto, from, packet->dst, packet->tcp.flags);
  if (!internal) return refuse(std::move(packet), internal.error());
  ++t.counters().hairpinned;
  packet->src = from;
  packet->dst = *internal;
  forward(std::move(packet));
}

void NatGateway::icmp(PacketPtr packet, IfaceId in) {
  const IpAddress& dst = packet->dst.address;
  if (is_wan(in) && translate_icmp_error(*packet)) return forward(std::move(packet));
  // ICMP for the gateway itself (an error about a datagram it sent) is its own; LAN to
  // LAN traffic is routed untouched. Outbound ICMP errors (from a host behind the NAT)
  // would need their quote translated outward (RFC 5508 §4.1), which is not modelled:
  // they are dropped, as a NAT without ICMP support would.
  if (owns(dst) && !table_for(dst.family()).is_external(dst))
    return deliver_local(std::move(packet));
  if (!is_wan(in) && !routes_to_wan(dst)) return forward(std::move(packet));
  if (owns(dst)) return deliver_local(std::move(packet));
  drop(std::move(packet), DropReason::no_state);
}

bool NatGateway::translate_icmp_error(sim::Packet& p) {
  // RFC 5508 §4.2 (REQ-3): an ICMP error from outside about a datagram that left through
  // a mapping goes to the internal host, its outer destination and the quoted source
  // rewritten to the internal endpoint; the mapping is not refreshed.
  if (p.icmp.type != sim::icmp::dest_unreachable) return false;
  NatTable& t = table_for(p.dst.address.family());
  if (!t.translates()) {
    // Firewall mode: nothing to rewrite; an error about a datagram of a live flow is
    // related traffic and passes to the inside host as it is (Linux: ct state related).
    if (owns(p.dst.address)) return false;
    auto q = sim::parse_icmp_quote(p.payload());
    return q && q->src.address == p.dst.address &&
           t.internal_for(now(), q->proto, q->src, q->dst).has_value();
  }
  if (!t.is_external(p.dst.address)) return false;
  auto q = sim::parse_icmp_quote(p.payload());
  if (!q || q->src.address != p.dst.address) return false;
  auto internal = t.internal_for(now(), q->proto, q->src, q->dst);
  if (!internal || !internal->address.is_v4()) return false;
  // The quote: IPv4 source address at 12, its header checksum at 10, the transport
  // source port right after the header; the transport checksum is adjusted
  // incrementally (RFC 1624) for the address and port, as Linux does.
  auto b = p.payload();
  const std::size_t header = static_cast<std::size_t>(b[0] & 0x0fu) * 4;
  const auto old_addr = q->src.address.bytes();
  const auto new_addr = internal->address.bytes();
  auto adjust = [](std::uint8_t* field, const std::uint8_t* from, const std::uint8_t* to,
                   std::size_t n, bool udp) {
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over the 16-bit words that changed.
    std::uint32_t sum = static_cast<std::uint16_t>(~((field[0] << 8) | field[1]));
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      sum += static_cast<std::uint16_t>(~((from[i] << 8) | from[i + 1]));
      sum += static_cast<std::uint32_t>((to[i] << 8) | to[i + 1]);
    }
    while (sum > 0xffff)
      sum = (sum & 0xffff) + (sum >> 16);
    auto c = static_cast<std::uint16_t>(~sum);
    // RFC 768: in UDP a zero checksum means "none"; a computed zero is sent as all ones.
    if (udp && c == 0) c = 0xffff;
    field[0] = static_cast<std::uint8_t>(c >> 8);
    field[1] = static_cast<std::uint8_t>(c);
  };
  std::uint8_t old_port[2] = {b[header], b[header + 1]};
  std::uint8_t new_port[2] = {static_cast<std::uint8_t>(internal->port >> 8),
                              static_cast<std::uint8_t>(internal->port)};
  adjust(b.data() + 10, old_addr.data(), new_addr.data(), 4, false);
  // The quoted UDP checksum, when it is there (8 bytes quoted: it is) and not zero.
  const std::size_t l4_checksum = header + (q->proto == IpProto::udp ? 6 : 16);
  if (l4_checksum + 2 <= b.size() && (b[l4_checksum] | b[l4_checksum + 1]) != 0) {
    const bool udp = q->proto == IpProto::udp;
    adjust(b.data() + l4_checksum, old_addr.data(), new_addr.data(), 4, udp);
    adjust(b.data() + l4_checksum, old_port, new_port, 2, udp);
  }
  std::memcpy(b.data() + 12, new_addr.data(), 4);
  b[header] = new_port[0];
  b[header + 1] = new_port[1];
  p.dst = Endpoint{internal->address, 0};
  return true;
}

// The NatTable has already counted `reason` in nat_counters(); this is the node's side.
void NatGateway::refuse(PacketPtr packet, NatDrop reason) {
  // RFC 4787 REQ-12 / RFC 5382 REQ-4: refused packets vanish silently (ICMP, where
  // icmp_unreachable says so, was sent by the caller).
  DropReason r = DropReason::no_state;
  if (reason == NatDrop::filtered || reason == NatDrop::hairpin_disabled) r = DropReason::filtered;
  if (reason == NatDrop::exhausted) r = DropReason::exhausted;
  drop(std::move(packet), r);
}

}  // namespace natsim::nat
