// The TCP side of a node: its table of connections and listeners, demultiplexing
// arriving segments, and the answers RFC 9293 gives where no connection exists.
#include "natsim/sim/network.hpp"
#include "natsim/sim/node.hpp"
#include "node_ports.hpp"

namespace natsim::sim {

namespace {
using detail::kEphemeralCount;
using detail::kEphemeralFirst;
using detail::wildcard;

// Shares port_users_ with UDP under a key UDP never uses.
std::uint32_t tcp_port_key(const Endpoint& e) {
  return (1u << 20) | (static_cast<std::uint32_t>(e.address.family()) << 16) | e.port;
}
}  // namespace

Result<TcpListener*> Node::tcp_listen(std::uint16_t port, const TcpConfig& config,
                                      std::size_t backlog) {
  return tcp_listen(Endpoint{IpAddress{}, port}, config, backlog);
}

Result<TcpListener*> Node::tcp_listen(const Endpoint& local, const TcpConfig& config,
                                      std::size_t backlog) {
  if (local.port == 0) return Errc::invalid_argument;
  if (!local.address.is_unspecified() && !owns(local.address)) return Errc::address_unavailable;
  const Endpoint any{wildcard(local.address.family()), local.port};
  if (tcp_listeners_.contains(local) || tcp_listeners_.contains(any)) return Errc::address_in_use;
  if (local.address.is_unspecified()) {
    for (const auto& [at, l] : tcp_listeners_) {
      if (at.port == local.port && at.address.family() == local.address.family())
        return Errc::address_in_use;
    }
  }
  auto listener = std::make_unique<TcpListener>(*this, local, config, backlog);
  TcpListener* raw = listener.get();
  tcp_listeners_.emplace(local, std::move(listener));
  ++port_users_[tcp_port_key(local)];
  if (!local.address.is_unspecified()) ++tcp_specific_listens_;
  return raw;
}

Result<TcpSocket*> Node::tcp_connect(const Endpoint& remote, const TcpConfig& config,
                                     std::uint16_t local_port) {
  if (remote.port == 0 || remote.address.is_unspecified() || remote.address.is_multicast() ||
      remote.address.is_broadcast()) {
    return Errc::invalid_argument;
  }
  Endpoint local{remote.address, 0};
  if (!owns(remote.address)) {
    const Route* route = routes_.lookup(remote.address);
    if (route == nullptr) return Errc::no_route;
    auto source = address(remote.address.family(), route->iface);
    if (!source) return Errc::address_unavailable;
    local.address = *source;
  }
  if (local_port == 0) {
    bool found = false;
    for (std::uint32_t tries = 0; tries < kEphemeralCount && !found; ++tries) {
      local.port = next_tcp_ephemeral_;
      next_tcp_ephemeral_ =
          next_tcp_ephemeral_ == 65535 ? kEphemeralFirst : next_tcp_ephemeral_ + 1;
      found =
          !port_users_.contains(tcp_port_key(local)) && !tcp_demux_.contains(TcpKey{local, remote});
    }
    if (!found) return Errc::no_free_port;
  } else {
    local.port = local_port;
    if (tcp_demux_.contains(TcpKey{local, remote})) return Errc::address_in_use;
  }
  auto socket = std::make_unique<TcpSocket>(*this, local, remote, config);
  TcpSocket* s = socket.get();
  tcp_sockets_.emplace(s, std::move(socket));
  tcp_demux_.emplace(TcpKey{local, remote}, s);
  ++port_users_[tcp_port_key(local)];
  s->counts_port_ = true;
  s->conn_.open_active(now(), tcp_isn(local, remote));
  s->pump();
  return s;
}

std::uint32_t Node::tcp_isn(const Endpoint& local, const Endpoint& remote) const {
  // RFC 9293 §3.4.1 / RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock.
  std::uint64_t h = tcp_secret_ ^ local.hash() ^ (remote.hash() * 0x9e3779b97f4a7c15ull);
  h = splitmix64(h);
  return static_cast<std::uint32_t>(to_ns(now()) / 4000) + static_cast<std::uint32_t>(h);
}

TcpListener* Node::tcp_listener_for(const Endpoint& dst) const {
  auto it = tcp_specific_listens_ != 0 ? tcp_listeners_.find(dst) : tcp_listeners_.end();
  if (it == tcp_listeners_.end())
    it = tcp_listeners_.find(Endpoint{wildcard(dst.address.family()), dst.port});
  return it == tcp_listeners_.end() ? nullptr : it->second.get();
}

void Node::tcp_deliver(PacketPtr packet) {
  const TcpHeader h = packet->tcp;
  const std::size_t payload = packet->payload_size();
  const Endpoint local = packet->dst;
  const Endpoint remote = packet->src;
  auto count_delivery = [&] {
    ++counters_.delivered;
    counters_.bytes_delivered += payload;
    ++net_.counters().delivered;
    net_.trace().packet(now(), TraceKind::deliver, name_, name_hash_, *packet);
  };
  auto it = tcp_demux_.find(TcpKey{local, remote});
  if (it != tcp_demux_.end()) {
    count_delivery();
    it->second->input(now(), *packet);
    return;
  }
  TcpListener* listener = tcp_listener_for(local);
  if (listener != nullptr && !listener->closed_) {
    // RFC 9293 §3.10.7.2 (LISTEN): a RST is ignored, an ACK answered with a RST, a SYN
    // starts a connection.
    if ((h.flags & (tcp_flags::syn | tcp_flags::ack | tcp_flags::rst)) == tcp_flags::syn) {
      if (listener->pending_ >= listener->backlog_) {
        ++listener->refused_;
        return drop(std::move(packet), DropReason::exhausted);
      }
      count_delivery();
      auto socket = std::make_unique<TcpSocket>(*this, local, remote, listener->config_);
      TcpSocket* s = socket.get();
      tcp_sockets_.emplace(s, std::move(socket));
      tcp_demux_.emplace(TcpKey{local, remote}, s);
      s->listener_ = listener;
      ++listener->pending_;
      s->conn_.open_passive(now(), tcp_isn(local, remote), h);
      s->pump();
      return;
    }
    if ((h.flags & tcp_flags::rst) == 0 && (h.flags & tcp_flags::ack) != 0) {
      drop(std::move(packet), DropReason::port_unreachable);
      if (auto r = tcp_reset_for(h, payload)) tcp_send_reset(local, remote, *r);
      return;
    }
    return drop(std::move(packet), DropReason::port_unreachable);
  }
  // RFC 9293 §3.10.7.1 (CLOSED): everything but a RST is answered with a RST.
  drop(std::move(packet), DropReason::port_unreachable);
  if (!tcp_reset_closed_) return;
  if (auto r = tcp_reset_for(h, payload)) tcp_send_reset(local, remote, *r);
}

PacketPtr make_tcp_reset(PacketPool& pool, const Packet& offending) {
  if (offending.proto != IpProto::tcp) return nullptr;
  auto h = tcp_reset_for(offending.tcp, offending.payload_size());
  if (!h) return nullptr;
  PacketPtr p = pool.acquire();
  p->proto = IpProto::tcp;
  p->src = offending.dst;
  p->dst = offending.src;
  p->tcp = *h;
  return p;
}

void Node::tcp_send_reset(const Endpoint& from, const Endpoint& to, const TcpHeader& h) {
  PacketPtr p = net_.packets().acquire();
  p->proto = IpProto::tcp;
  p->src = from;
  p->dst = to;
  p->tcp = h;
  ++tcp_resets_sent_;
  (void)send(std::move(p));
}

void Node::tcp_release(TcpSocket& s) {
  s.in_table_ = false;
  tcp_demux_.erase(TcpKey{s.local_, s.remote_});
  if (s.counts_port_) {
    s.counts_port_ = false;
    auto users = port_users_.find(tcp_port_key(s.local_));
    if (users != port_users_.end() && --users->second == 0) port_users_.erase(users);
  }
}

void Node::tcp_destroy(TcpSocket& s) {
  auto it = tcp_sockets_.find(&s);
  if (it == tcp_sockets_.end()) return;
  std::unique_ptr<TcpSocket> doomed = std::move(it->second);
  tcp_sockets_.erase(it);
  // Destroyed after the current event: the caller may be running inside its handler.
  net_.sim().post_at(now(), [doomed = std::move(doomed)] {});
}

void Node::tcp_close_listener(TcpListener& l) {
  std::vector<TcpSocket*> waiting;
  for (const auto& [raw, owned] : tcp_sockets_) {
    if (raw->listener_ == &l) waiting.push_back(raw);
  }
  for (TcpSocket* s : waiting)
    s->abort();  // RFC 9293 §3.10.4: connections not yet accepted are reset
  l.ready_.clear();
  if (!l.local_.address.is_unspecified()) --tcp_specific_listens_;
  auto users = port_users_.find(tcp_port_key(l.local_));
  if (users != port_users_.end() && --users->second == 0) port_users_.erase(users);
  auto it = tcp_listeners_.find(l.local_);
  std::unique_ptr<TcpListener> doomed = std::move(it->second);
  tcp_listeners_.erase(it);
  net_.sim().post_at(now(), [doomed = std::move(doomed)] {});
}

}  // namespace natsim::sim
