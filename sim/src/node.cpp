#include "natsim/sim/node.hpp"

#include <algorithm>
#include <stdexcept>

#include "natsim/sim/link.hpp"
#include "natsim/sim/network.hpp"
#include "natsim/sim/pcap.hpp"
#include "node_ports.hpp"

namespace natsim::sim {

namespace {
using detail::kEphemeralCount;
using detail::kEphemeralFirst;
using detail::wildcard;

std::uint32_t port_key(const Endpoint& e) {
  return (static_cast<std::uint32_t>(e.address.family()) << 16) | e.port;
}
}  // namespace

// --- UdpSocket

Result<void> UdpSocket::send_to(const Endpoint& to, ByteView payload) {
  if (closed_) return Errc::closed;
  if (payload.size() > kMaxUdpPayload || to.address.family() != local_.address.family()) {
    return Errc::invalid_argument;
  }
  Network& net = node_->network();
  PacketPtr p = net.packets().acquire();
  p->proto = IpProto::udp;
  p->src = local_;
  p->dst = to;
  p->assign(payload);
  ++sent_;
  return node_->send(std::move(p));
}

void UdpSocket::close() {
  if (!closed_) node_->close_socket(*this);
}

// --- Node

Node::Node(Network& net, std::string name, NodeId id)
    : net_(net),
      name_(std::move(name)),
      name_hash_(stable_hash(name_)),
      id_(id),
      rng_(net.rng_for("node:" + name_)),
      next_ephemeral_(static_cast<std::uint16_t>(kEphemeralFirst + rng_.below(kEphemeralCount))) {
  // TCP draws from a stream of its own: UDP-only runs keep their ports and digests.
  Rng tcp = net.rng_for("tcp:" + name_);
  next_tcp_ephemeral_ = static_cast<std::uint16_t>(kEphemeralFirst + tcp.below(kEphemeralCount));
  tcp_secret_ = tcp();
}

Node::~Node() = default;

TimePoint Node::now() const {
  return net_.now();
}

IfaceId Node::add_interface(Link& link) {
  const auto id = static_cast<IfaceId>(interfaces_.size());
  Interface iface;
  iface.name = "eth" + std::to_string(id);
  iface.link = &link;
  iface.member = link.attach(*this, id);
  interfaces_.push_back(std::move(iface));
  return id;
}

void Node::add_address(IfaceId iface, const InterfaceAddress& address) {
  Interface& i = interfaces_.at(iface);
  i.addresses.push_back(address);
  own(address.address);
  i.link->learn_address(i.member, address.address);
  add_route(address.subnet(), iface);
}

bool Node::remove_address(IfaceId iface, const IpAddress& address) {
  Interface& i = interfaces_.at(iface);
  auto it = std::find_if(i.addresses.begin(), i.addresses.end(),
                         [&](const InterfaceAddress& a) { return a.address == address; });
  if (it == i.addresses.end()) return false;
  const Prefix subnet = it->subnet();
  i.addresses.erase(it);
  i.link->forget_address(address);
  routes_.remove(subnet);
  // Rebuild the owned set: another interface may still hold the same address.
  owned_.clear();
  owned_count_ = 0;
  for (const Interface& other : interfaces_) {
    for (const InterfaceAddress& a : other.addresses)
      own(a.address);
  }
  return true;
}

void Node::own(const IpAddress& address) {
  if (owns(address)) return;
  if (owned_count_ < kFewAddresses) {
    few_owned_[owned_count_++] = address;
    return;
  }
  if (owned_count_ == kFewAddresses) owned_.insert(few_owned_.begin(), few_owned_.end());
  owned_.insert(address);
  ++owned_count_;
}

void Node::add_address(IfaceId iface, std::string_view address) {
  auto parsed = InterfaceAddress::parse(address);
  if (!parsed) throw std::invalid_argument("bad interface address '" + std::string(address) + "'");
  add_address(iface, *parsed);
}

std::optional<IpAddress> Node::address(IpFamily family, std::optional<IfaceId> iface) const {
  if (iface && *iface < interfaces_.size()) {
    for (const InterfaceAddress& a : interfaces_[*iface].addresses) {
      if (a.address.family() == family) return a.address;
    }
  }
  for (const Interface& i : interfaces_) {
    for (const InterfaceAddress& a : i.addresses) {
      if (a.address.family() == family) return a.address;
    }
  }
  return std::nullopt;
}

void Node::add_route(const Prefix& prefix, IfaceId iface, std::optional<IpAddress> via) {
  routes_.add(Route{prefix, iface, via});
}

Result<void> Node::set_default_route(const IpAddress& gateway) {
  const Route* to_gateway = routes_.lookup(gateway);
  if (to_gateway == nullptr) return Errc::no_route;
  add_route(Prefix(wildcard(gateway.family()), 0), to_gateway->iface, gateway);
  return {};
}

// --- UDP sockets

bool Node::port_in_use(const Endpoint& local) const {
  if (local.address.is_unspecified()) return port_users_.contains(port_key(local));
  return sockets_.contains(local) ||
         sockets_.contains(Endpoint{wildcard(local.address.family()), local.port});
}

Result<UdpSocket*> Node::udp_bind(std::uint16_t port) {
  return udp_bind(Endpoint{IpAddress{}, port});
}

Result<UdpSocket*> Node::udp_bind(const Endpoint& requested) {
  Endpoint local = requested;
  if (!local.address.is_unspecified() && !owns(local.address) && !local.address.is_multicast()) {
    return Errc::address_unavailable;
  }
  if (local.port == 0) {
    bool found = false;
    for (std::uint32_t tries = 0; tries < kEphemeralCount && !found; ++tries) {
      local.port = next_ephemeral_;
      next_ephemeral_ = next_ephemeral_ == 65535 ? kEphemeralFirst : next_ephemeral_ + 1;
      found = !port_in_use(local);
    }
    if (!found) return Errc::no_free_port;
  } else if (port_in_use(local)) {
    return Errc::address_in_use;
  }
  auto socket = std::make_unique<UdpSocket>(*this, local);
  UdpSocket* raw = socket.get();
  sockets_.emplace(local, std::move(socket));
  ++port_users_[port_key(local)];
  if (!local.address.is_unspecified()) ++specific_binds_;
  return raw;
}

UdpSocket* Node::udp_socket(const Endpoint& local) const {
  auto it = sockets_.find(local);
  return it == sockets_.end() ? nullptr : it->second.get();
}

UdpSocket* Node::udp_listener(const Endpoint& dst) const {
  // Most nodes bind only wildcard sockets: skip the exact probe when there are none.
  auto it = specific_binds_ != 0 ? sockets_.find(dst) : sockets_.end();
  if (it == sockets_.end()) it = sockets_.find(Endpoint{wildcard(dst.address.family()), dst.port});
  return it == sockets_.end() ? nullptr : it->second.get();
}

void Node::close_socket(UdpSocket& socket) {
  socket.closed_ = true;
  if (!socket.local_.address.is_unspecified()) --specific_binds_;
  auto users = port_users_.find(port_key(socket.local_));
  if (users != port_users_.end() && --users->second == 0) port_users_.erase(users);
  auto it = sockets_.find(socket.local_);
  std::unique_ptr<UdpSocket> doomed = std::move(it->second);
  sockets_.erase(it);
  // Destroyed after the current event: the caller may be running inside its handler.
  net_.sim().post_at(now(), [doomed = std::move(doomed)] {});
}

// --- timers

Result<TimerId> Node::schedule_in(Duration delay, TimerFn fn) {
  if (delay < Duration::zero()) return Errc::time_in_past;
  return schedule_at(now() + delay, std::move(fn));
}

Result<TimerId> Node::schedule_at(TimePoint when, TimerFn fn) {
  return net_.sim().schedule_at(when, [this, fn = std::move(fn)]() mutable {
    net_.trace().timer(now(), name_, name_hash_);
    fn();
  });
}

bool Node::cancel(TimerId id) {
  return net_.sim().cancel(id);
}

// --- packet path

void Node::receive(PacketPtr packet, IfaceId in) {
  if (!up_) return drop(std::move(packet), DropReason::node_down);
  if (capture_ != nullptr) capture_->write(now(), *packet);
  process(std::move(packet), in);
}

void Node::process(PacketPtr packet, IfaceId /*in*/) {
  const IpAddress& dst = packet->dst.address;
  if (owns(dst) || dst.is_multicast() || dst.is_broadcast())
    return deliver_local(std::move(packet));
  if (!forwards()) return drop(std::move(packet), DropReason::not_forwarding);
  forward(std::move(packet));
}

Result<void> Node::send(PacketPtr packet) {
  if (packet->id == 0) packet->id = net_.next_packet_id();
  if (!up_) {
    drop(std::move(packet), DropReason::node_down);
    return Errc::closed;
  }
  const IpAddress dst = packet->dst.address;
  if (owns(dst)) {
    // Loopback: delivered as a separate event, never re-entrantly.
    if (packet->src.address.is_unspecified()) packet->src.address = dst;
    ++counters_.sent;
    ++net_.counters().sent;
    net_.trace().packet(now(), TraceKind::send, name_, name_hash_, *packet);
    net_.sim().post_at(now(),
                       [this, p = std::move(packet)]() mutable { deliver_local(std::move(p)); });
    return {};
  }
  const Route* route = routes_.lookup(dst);
  if (route == nullptr) {
    drop(std::move(packet), DropReason::no_route);
    return Errc::no_route;
  }
  if (packet->src.address.is_unspecified()) {
    auto source = address(dst.family(), route->iface);
    if (!source) {
      drop(std::move(packet), DropReason::no_route);
      return Errc::address_unavailable;
    }
    packet->src.address = *source;
  }
  ++counters_.sent;
  counters_.bytes_sent += packet->wire_size();
  ++net_.counters().sent;
  net_.trace().packet(now(), TraceKind::send, name_, name_hash_, *packet);
  transmit(std::move(packet), route->iface, route->next_hop(dst));
  return {};
}

void Node::deliver_local(PacketPtr packet) {
  if (local_tap_) {
    ++counters_.delivered;
    counters_.bytes_delivered += packet->payload_size();
    ++net_.counters().delivered;
    net_.trace().packet(now(), TraceKind::deliver, name_, name_hash_, *packet);
    return local_tap_(std::move(packet));
  }
  if (packet->proto == IpProto::tcp) return tcp_deliver(std::move(packet));
  if (packet->proto == IpProto::icmp) return icmp_deliver(std::move(packet));
  UdpSocket* socket = udp_listener(packet->dst);
  if (socket == nullptr || !socket->handler_) {
    // RFC 1122 §4.1.3.1: no socket on that port; a host with the knob says so.
    if (socket == nullptr && icmp_port_unreachable_)
      (void)send_icmp_port_unreachable(*packet, packet->dst.address);
    return drop(std::move(packet), DropReason::port_unreachable);
  }
  ++counters_.delivered;
  counters_.bytes_delivered += packet->payload_size();
  ++net_.counters().delivered;
  net_.trace().packet(now(), TraceKind::deliver, name_, name_hash_, *packet);
  ++socket->received_;
  socket->handler_(Datagram{packet->src, packet->dst, packet->payload(), now()});
}

void Node::forward(PacketPtr packet) {
  // RFC 791 §3.2 / RFC 8200 §3: a router discards a packet whose TTL would reach zero.
  if (packet->ttl <= 1) return drop(std::move(packet), DropReason::ttl_expired);
  --packet->ttl;
  ++counters_.forwarded;
  ++net_.counters().forwarded;
  net_.trace().packet(now(), TraceKind::forward, name_, name_hash_, *packet);
  route_out(std::move(packet));
}

bool Node::route_out(PacketPtr packet) {
  const Route* route = routes_.lookup(packet->dst.address);
  if (route == nullptr) {
    drop(std::move(packet), DropReason::no_route);
    return false;
  }
  const IpAddress next_hop = route->next_hop(packet->dst.address);
  transmit(std::move(packet), route->iface, next_hop);
  return true;
}

void Node::transmit(PacketPtr packet, IfaceId out, const IpAddress& next_hop) {
  if (capture_ != nullptr) capture_->write(now(), *packet);
  const Interface& i = interfaces_[out];
  i.link->transmit(i.member, std::move(packet), next_hop);
}

void Node::drop(PacketPtr packet, DropReason reason) {
  counters_.count_drop(reason);
  net_.counters().count_drop(reason);
  net_.trace().packet(now(), TraceKind::drop, name_, name_hash_, *packet, reason);
}

}  // namespace natsim::sim
