#include "natsim/nat_models/nat_table.hpp"

#include <algorithm>
#include <cassert>
#include <stdexcept>
#include <string>

namespace natsim::nat {

namespace {

bool later(const auto& a, const auto& b) {
  return a.at > b.at;
}

using sim::tcp_flags::ack;
using sim::tcp_flags::fin;
using sim::tcp_flags::rst;
using sim::tcp_flags::syn;

}  // namespace

std::string_view to_string(NatDrop d) {
  constexpr std::string_view kNames[] = {"no_mapping", "expired", "filtered", "exhausted",
                                         "hairpin_disabled"};
  static_assert(std::size(kNames) == kNatDropCount);
  return kNames[static_cast<std::size_t>(d)];
}

std::string_view to_string(MappingOwner o) {
  constexpr std::string_view kNames[] = {"traffic", "pcp", "natpmp", "upnp"};
  return kNames[static_cast<std::size_t>(o)];
}

void throw_exception_from_error(NatDrop d, const boost::source_location& loc) {
  throw std::runtime_error("NAT refused the packet (" + std::string(to_string(d)) + ") at " +
                           loc.to_string());
}

NatTable::NatTable(const NatBehavior& behavior, std::vector<IpAddress> pool, bool translate,
                   sim::Rng rng)
    : behavior_(behavior), translate_(translate), rng_(rng), ct_(behavior.conntrack && translate) {
  set_pool(std::move(pool));
}

void NatTable::set_pool(std::vector<IpAddress> pool) {
  pool_ = std::move(pool);
  flush();
}

void NatTable::flush() {
  entries_.clear();
  free_.clear();
  out_.clear();
  in_.clear();
  subscribers_.clear();
  expiries_.clear();
  filters_.clear();
  ct_out_.clear();
  ct_reply_.clear();
  ct_ports_.clear();
  live_ = 0;
  explicit_live_ = 0;
  const std::uint32_t range = std::uint32_t{behavior_.port_last} - behavior_.port_first + 1;
  const std::uint32_t blocks =
      behavior_.port_block_size == 0 ? 0 : range / behavior_.port_block_size;
  blocks_used_.assign(pool_.size(), std::vector<bool>(blocks, false));
  next_port_ = behavior_.port_first;
}

void NatTable::flush_keeping_explicit() {
  for (std::uint32_t id = 0; id < entries_.size(); ++id) {
    Entry& e = entries_[id];
    if (!e.live) continue;
    if (e.owner == MappingOwner::traffic) {
      remove(id);
      continue;
    }
    e.permissions.clear();
    set_expiry(e, e.explicit_until);
  }
}

bool NatTable::is_external(const IpAddress& address) const {
  return std::find(pool_.begin(), pool_.end(), address) != pool_.end();
}

Endpoint NatTable::remote_key(const Endpoint& remote) const {
  // A firewall never changes endpoints, so one mapping per internal endpoint suffices.
  if (!translate_) return Endpoint{};
  switch (behavior_.mapping) {
    case Mapping::endpoint_independent:
      return Endpoint{};
    case Mapping::address_dependent:
      return Endpoint{remote.address, 0};
    case Mapping::address_and_port_dependent:
      return remote;
  }
  return Endpoint{};
}

Duration NatTable::timeout(IpProto proto, TcpState state) const {
  if (proto == IpProto::udp) return behavior_.udp_timeout;
  return state == TcpState::established ? behavior_.tcp_established_timeout
                                        : behavior_.tcp_transitory_timeout;
}

NatTable::Outcome NatTable::outbound(TimePoint now, IpProto proto, const Endpoint& internal,
                                     const Endpoint& remote, std::uint8_t tcp_flags) {
  if (ct_ && proto == IpProto::udp) return ct_outbound(now, proto, internal, remote);
  expire(now);
  Endpoint key = remote_key(remote);
  // RFC 6887 §11: an explicit mapping is endpoint-independent; traffic from its internal
  // endpoint uses it whatever the NAT's mapping behaviour.
  if (explicit_live_ > 0 && key != Endpoint{} && find_explicit(proto, internal)) key = Endpoint{};
  std::uint32_t id;
  auto it = out_.find(OutKey{internal, key, proto});
  if (it != out_.end() && entries_[it->second].expires <= now) {
    // Timed out but not yet swept: it is gone, whatever comes next must start afresh.
    remove(it->second);
    ++counters_.mappings_expired;
    it = out_.end();
  }
  if (it != out_.end()) {
    id = it->second;
  } else {
    // RFC 5382 §5: only a SYN opens a TCP mapping.
    if (proto == IpProto::tcp && (tcp_flags & (syn | ack)) != syn) {
      ++counters_.dropped[static_cast<std::size_t>(NatDrop::no_mapping)];
      return NatDrop::no_mapping;
    }
    auto created = create(now, proto, internal, key);
    if (!created) {
      ++counters_.dropped[static_cast<std::size_t>(created.error())];
      return created.error();
    }
    id = *created;
  }
  Entry& e = entries_[id];
  Permission* p = find_permission(e, remote, now);
  if (p == nullptr) {
    e.permissions.push_back(Permission{remote, now, TcpState::none});
    p = &e.permissions.back();
  }
  touch(e, *p, now, /*outbound=*/true, tcp_flags);
  ++counters_.outbound;
  return e.external;
}

NatTable::Outcome NatTable::inbound(TimePoint now, IpProto proto, const Endpoint& remote,
                                    const Endpoint& external, std::uint8_t tcp_flags) {
  if (ct_ && proto == IpProto::udp) return ct_inbound(now, proto, remote, external);
  auto fail = [this](NatDrop d) -> Outcome {
    ++counters_.dropped[static_cast<std::size_t>(d)];
    return d;
  };
  auto it = in_.find(InKey{external, proto});
  if (it == in_.end()) return fail(NatDrop::no_mapping);
  const std::uint32_t id = it->second;
  if (entries_[id].expires <= now) {
    remove(id);
    ++counters_.mappings_expired;
    return fail(NatDrop::expired);
  }
  expire(now);
  Entry& e = entries_[id];
  // RFC 4787 §5: a permission is the remote (address, or address and port) that the
  // internal endpoint has sent to through this mapping, while it is fresh.
  Permission* match = nullptr;
  for (Permission& p : e.permissions) {
    if (p.expires <= now) continue;
    const bool same_address = p.remote.address == remote.address;
    const bool exact = same_address && p.remote.port == remote.port;
    if (exact) {
      match = &p;
      break;
    }
    if (behavior_.filtering == Filtering::endpoint_independent ||
        (behavior_.filtering == Filtering::address_dependent && same_address)) {
      match = match != nullptr ? match : &p;
    }
  }
  // RFC 6887 §11: an explicit mapping filters endpoint-independently.
  const bool admitted = match != nullptr ||
                        behavior_.filtering == Filtering::endpoint_independent ||
                        e.owner != MappingOwner::traffic;
  if (!admitted) return fail(NatDrop::filtered);
  if (e.filtered) {
    // RFC 6887 §13.3: only the listed remote peers may send in; what the internal
    // endpoint itself sent to is an answer, which a stateful firewall lets through.
    const bool answer = match != nullptr && match->remote == remote;
    const auto& list = filters_.find(id)->second;
    if (!answer && std::none_of(list.begin(), list.end(),
                                [&](const RemoteFilter& f) { return f.admits(remote); }))
      return fail(NatDrop::filtered);
  }
  if (proto == IpProto::tcp) {
    // Each TCP remote is its own connection with its own state and timer.
    Permission* conn = match != nullptr && match->remote == remote ? match : nullptr;
    if (conn == nullptr) {
      e.permissions.push_back(Permission{remote, now, TcpState::none});
      conn = &e.permissions.back();
    }
    touch(e, *conn, now, /*outbound=*/false, tcp_flags);
  } else if (behavior_.inbound_refresh && match != nullptr) {
    // RFC 4787 REQ-6a: inbound refresh is optional behaviour.
    touch(e, *match, now, /*outbound=*/false, 0);
  }
  ++counters_.inbound;
  return e.internal;
}

NatTable::Permission* NatTable::find_permission(Entry& e, const Endpoint& remote, TimePoint now) {
  Permission* stale = nullptr;
  for (Permission& p : e.permissions) {
    if (p.remote == remote) return &p;
    if (p.expires <= now && stale == nullptr) stale = &p;
  }
  if (stale != nullptr) {  // reuse an expired slot instead of growing
    *stale = Permission{remote, now, TcpState::none};
  }
  return stale;
}

void NatTable::touch(Entry& e, Permission& p, TimePoint now, bool outbound,
                     std::uint8_t tcp_flags) {
  if (e.proto == IpProto::tcp) {
    TcpState& s = p.tcp;
    const TcpState own_syn = outbound ? TcpState::syn_out : TcpState::syn_in;
    const TcpState their_syn = outbound ? TcpState::syn_in : TcpState::syn_out;
    if ((tcp_flags & (rst | fin)) != 0) {
      s = TcpState::closing;
    } else if ((tcp_flags & syn) != 0) {
      if (s == TcpState::none || s == TcpState::closing) {
        s = own_syn;  // a new connection, possibly reusing a closed one's 4-tuple
      } else if (s == their_syn) {
        s = TcpState::established;  // SYN seen both ways (incl. simultaneous open)
      }
    }
  }
  p.expires = now + timeout(e.proto, p.tcp);
  // The mapping lives as long as its longest-lived permission.
  TimePoint latest = p.expires;
  if (e.proto == IpProto::tcp) {
    for (const Permission& q : e.permissions)
      latest = std::max(latest, q.expires);
  } else {
    latest = std::max(latest, e.expires);
  }
  latest = std::max(latest, e.explicit_until);  // traffic never shortens an explicit lifetime
  if (latest < e.expires) {
    // A FIN or RST shortened the life: queue the earlier deadline too (the later queue
    // entry finds the mapping gone or requeues it).
    expiries_.push_back(
        Expiry{to_ns(latest), static_cast<std::uint32_t>(&e - entries_.data()), e.generation});
    std::push_heap(expiries_.begin(), expiries_.end(),
                   [](auto& a, auto& b) { return later(a, b); });
  }
  e.expires = latest;
}

boost::system::result<std::uint32_t, NatDrop> NatTable::create(TimePoint now, IpProto proto,
                                                               const Endpoint& internal,
                                                               const Endpoint& key,
                                                               std::uint16_t prefer, bool ct) {
  if (behavior_.max_mappings != 0 && live_ >= behavior_.max_mappings) return NatDrop::exhausted;
  auto sub_it = subscribers_.find(internal.address);
  if (behavior_.max_mappings_per_host != 0 && sub_it != subscribers_.end() &&
      sub_it->second.mappings >= behavior_.max_mappings_per_host) {
    return NatDrop::exhausted;
  }

  Endpoint external = internal;
  if (translate_) {
    if (pool_.empty()) return NatDrop::exhausted;
    const bool paired = behavior_.pooling == Pooling::paired || behavior_.port_block_size != 0;
    Subscriber sub;
    if (sub_it != subscribers_.end()) {
      sub = sub_it->second;
    } else {
      sub.pool_index = next_pool_;
      next_pool_ = (next_pool_ + 1) % static_cast<std::uint32_t>(pool_.size());
    }
    std::uint32_t pool_index =
        paired ? sub.pool_index : static_cast<std::uint32_t>(rng_.below(pool_.size()));
    std::uint32_t first = behavior_.port_first;
    std::uint32_t last = behavior_.port_last;
    if (behavior_.port_block_size != 0) {
      if (!sub.block) {
        // RFC 6888 REQ-4: a subscriber's ports come from its own block.
        auto& used = blocks_used_[pool_index];
        auto free_block = std::find(used.begin(), used.end(), false);
        if (free_block == used.end()) return NatDrop::exhausted;
        *free_block = true;
        sub.block = static_cast<std::uint32_t>(free_block - used.begin());
      }
      first = behavior_.port_first + *sub.block * behavior_.port_block_size;
      last = first + behavior_.port_block_size - 1;
    }
    std::optional<std::uint16_t> port;
    if (ct && behavior_.port_assignment == PortAssignment::preserve) {
      // get_unique_tuple, find_appropriate_src: masquerade's range never holds the
      // original (inside) address, so the kernel first reuses the mapping of another
      // flow from the same source (the newest, as the bysource chain is searched) when
      // its tuple towards this remote is free. A scan, but only when a flow is created.
      const Entry* newest = nullptr;
      for (const Entry& other : entries_) {
        if (other.live && other.ct && !other.local && other.proto == proto &&
            other.internal == internal && other.external.address == pool_[pool_index] &&
            (newest == nullptr || other.explicit_until > newest->explicit_until))
          newest = &other;
      }
      if (newest != nullptr && !ct_taken(proto, newest->external, key))
        port = newest->external.port;
    }
    if (!port)
      port = ct ? allocate_ct_port(proto, pool_[pool_index], internal.port, key)
                : allocate_port(proto, pool_[pool_index], internal.port, first, last, prefer);
    if (!port) {
      if (sub_it == subscribers_.end() && sub.block) blocks_used_[pool_index][*sub.block] = false;
      return NatDrop::exhausted;
    }
    external = Endpoint{pool_[pool_index], *port};
    sub_it = subscribers_.insert_or_assign(internal.address, sub).first;
  } else if (sub_it == subscribers_.end()) {
    sub_it = subscribers_.emplace(internal.address, Subscriber{}).first;
  }
  ++sub_it->second.mappings;

  const std::uint32_t id = new_entry(now, proto, internal, external, key);
  Entry& e = entries_[id];
  if (ct) e.explicit_until = now;  // the flow's first packet (see Entry)
  e.ct = ct;
  e.local = false;
  e.seen_reply = false;
  e.assured = false;
  if (ct) {
    ct_out_.emplace(CtKey{internal, key, proto}, id);
    ct_reply_.emplace(CtKey{external, key, proto}, id);
    ++ct_ports_[InKey{external, proto}];
  } else {
    out_.emplace(OutKey{internal, key, proto}, id);
    in_.emplace(InKey{external, proto}, id);
  }
  ++live_;
  ++counters_.mappings_created;
  return id;
}

std::uint32_t NatTable::new_entry(TimePoint now, IpProto proto, const Endpoint& internal,
                                  const Endpoint& external, const Endpoint& remote_key) {
  std::uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[id];
  e.internal = internal;
  e.external = external;
  e.remote_key = remote_key;
  e.expires = now;
  e.permissions.clear();
  e.proto = proto;
  e.live = true;
  // The expiry entry is pushed now, its time set once the first packet has set the
  // timer (see expire()).
  expiries_.push_back(Expiry{to_ns(now), id, e.generation});
  std::push_heap(expiries_.begin(), expiries_.end(), [](auto& a, auto& b) { return later(a, b); });
  return id;
}

std::optional<std::uint16_t> NatTable::allocate_port(IpProto proto, const IpAddress& external,
                                                     std::uint16_t internal_port,
                                                     std::uint32_t first, std::uint32_t last,
                                                     std::uint16_t prefer) {
  const std::uint32_t size = last - first + 1;
  std::uint32_t start = first;
  // RFC 6887 §11.3: a suggested external port is tried first, then the ports above it.
  if (prefer != 0 && prefer >= first && prefer <= last) {
    for (std::uint32_t i = 0; i < size; ++i) {
      const std::uint32_t port = first + (prefer - first + i) % size;
      if (!in_.contains(InKey{Endpoint{external, static_cast<std::uint16_t>(port)}, proto}))
        return static_cast<std::uint16_t>(port);
    }
    return std::nullopt;
  }
  switch (behavior_.port_assignment) {
    case PortAssignment::preserve:
      start = internal_port >= first && internal_port <= last ? internal_port : first;
      break;
    case PortAssignment::sequential:
      start = next_port_ >= first && next_port_ <= last ? next_port_ : first;
      break;
    case PortAssignment::random:
      start = first + static_cast<std::uint32_t>(rng_.below(size));
      break;
  }
  for (std::uint32_t i = 0; i < size; ++i) {
    const std::uint32_t port = first + (start - first + i) % size;
    // RFC 4787 REQ-4: keep the internal port's parity when asked to.
    if (behavior_.preserve_parity && (port & 1u) != (internal_port & 1u)) continue;
    if (in_.contains(InKey{Endpoint{external, static_cast<std::uint16_t>(port)}, proto})) continue;
    if (behavior_.port_assignment == PortAssignment::sequential) next_port_ = port + 1;
    return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

void NatTable::remove(std::uint32_t id) {
  Entry& e = entries_[id];
  assert(e.live);
  if (e.local) {
    // An unreplied entry towards the NAT itself: no mapping, no subscriber.
    ct_reply_.erase(CtKey{e.external, e.remote_key, e.proto});
    e.local = false;
    e.ct = false;
    e.live = false;
    ++e.generation;
    free_.push_back(id);
    return;
  }
  if (e.ct) {
    ct_out_.erase(CtKey{e.internal, e.remote_key, e.proto});
    ct_reply_.erase(CtKey{e.external, e.remote_key, e.proto});
    auto ports = ct_ports_.find(InKey{e.external, e.proto});
    if (--ports->second == 0) ct_ports_.erase(ports);
    e.ct = false;
  } else {
    out_.erase(OutKey{e.internal, e.remote_key, e.proto});
    in_.erase(InKey{e.external, e.proto});
  }
  auto sub = subscribers_.find(e.internal.address);
  if (e.owner != MappingOwner::traffic) {
    --explicit_live_;
    if (sub != subscribers_.end()) --sub->second.explicit_mappings;
  }
  e.owner = MappingOwner::traffic;
  e.explicit_until = TimePoint{};
  if (e.filtered) {
    filters_.erase(id);
    e.filtered = false;
  }
  if (sub != subscribers_.end() && --sub->second.mappings == 0) {
    if (sub->second.block) blocks_used_[sub->second.pool_index][*sub->second.block] = false;
    subscribers_.erase(sub);
  }
  e.live = false;
  ++e.generation;
  e.permissions.clear();
  free_.push_back(id);
  --live_;
}

void NatTable::expire(TimePoint now) {
  auto cmp = [](auto& a, auto& b) { return later(a, b); };
  // Lazy expiry: entries whose timer was extended since they were queued are requeued
  // with their new time, at most once per timeout period.
  while (!expiries_.empty() && expiries_.front().at <= to_ns(now)) {
    std::pop_heap(expiries_.begin(), expiries_.end(), cmp);
    const Expiry x = expiries_.back();
    expiries_.pop_back();
    Entry& e = entries_[x.id];
    if (!e.live || e.generation != x.generation) continue;
    if (e.expires <= now) {
      const bool mapping = !e.local;
      remove(x.id);
      if (mapping) ++counters_.mappings_expired;
    } else {
      expiries_.push_back(Expiry{to_ns(e.expires), x.id, x.generation});
      std::push_heap(expiries_.begin(), expiries_.end(), cmp);
    }
  }
}

std::vector<MappingInfo> NatTable::mappings(TimePoint now) const {
  std::vector<MappingInfo> out;
  for (const Entry& e : entries_) {
    if (!e.live || e.expires <= now || e.local) continue;
    MappingInfo info;
    info.owner = e.owner;
    info.proto = e.proto;
    info.internal = e.internal;
    info.external = e.external;
    if (translate_ && (behavior_.mapping != Mapping::endpoint_independent || e.ct) &&
        e.owner == MappingOwner::traffic)
      info.remote = e.remote_key;
    if (e.ct) info.permitted.push_back(e.remote_key);  // conntrack admits the reply tuple
    info.expires = e.expires;
    for (const Permission& p : e.permissions) {
      if (p.expires > now) info.permitted.push_back(p.remote);
    }
    if (e.filtered) {
      const auto& list = filters_.find(static_cast<std::uint32_t>(&e - entries_.data()))->second;
      info.filters.assign(list.begin(), list.end());
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const MappingInfo& a, const MappingInfo& b) {
    return std::tie(a.external, a.internal) < std::tie(b.external, b.internal);
  });
  return out;
}

std::optional<std::uint32_t> NatTable::find_explicit(IpProto proto,
                                                     const Endpoint& internal) const {
  auto it = out_.find(OutKey{internal, Endpoint{}, proto});
  if (it == out_.end() || entries_[it->second].owner == MappingOwner::traffic) return std::nullopt;
  return it->second;
}

void NatTable::set_expiry(Entry& e, TimePoint expires) {
  if (expires < e.expires) {
    // Shortened: queue the earlier deadline (the later queue entry finds it gone).
    expiries_.push_back(
        Expiry{to_ns(expires), static_cast<std::uint32_t>(&e - entries_.data()), e.generation});
    std::push_heap(expiries_.begin(), expiries_.end(),
                   [](auto& a, auto& b) { return later(a, b); });
  }
  e.expires = expires;
}

void NatTable::set_filters(std::uint32_t id, std::span<const RemoteFilter> filters) {
  Entry& e = entries_[id];
  e.filtered = !filters.empty();
  if (!e.filtered) {
    filters_.erase(id);
    return;
  }
  auto& list = filters_[id];
  list.assign(filters.begin(), filters.end());
}

boost::system::result<Mapped, MapError> NatTable::map(TimePoint now, const MapRequest& r) {
  if (r.filters.size() > kMaxRemoteFilters) return MapError::too_many_filters;
  expire(now);
  auto it = out_.find(OutKey{r.internal, Endpoint{}, r.proto});
  if (it != out_.end() && entries_[it->second].expires <= now) {
    remove(it->second);
    ++counters_.mappings_expired;
    it = out_.end();
  }
  auto sub = subscribers_.find(r.internal.address);
  const bool at_quota =
      r.quota != 0 && sub != subscribers_.end() && sub->second.explicit_mappings >= r.quota;
  Mapped result;
  std::uint32_t id;
  if (it != out_.end()) {
    id = it->second;
    Entry& e = entries_[id];
    if (e.owner != MappingOwner::traffic && e.owner != r.owner) return MapError::not_owner;
    if (e.owner == MappingOwner::traffic) {
      // A mapping traffic made becomes explicit and keeps its external endpoint.
      if (at_quota) return MapError::quota;
      if (r.require_suggested && r.suggested_port != e.external.port) return MapError::unavailable;
      e.owner = r.owner;
      ++explicit_live_;
      ++sub->second.explicit_mappings;
      ++counters_.mappings_mapped;
    }
  } else {
    if (at_quota) return MapError::quota;
    if (r.require_suggested && translate_) {
      // Paired pooling: the subscriber's address, or the one it would get.
      const bool any_free = std::any_of(pool_.begin(), pool_.end(), [&](const IpAddress& a) {
        return !in_.contains(InKey{Endpoint{a, r.suggested_port}, r.proto});
      });
      if (!any_free || r.suggested_port < behavior_.port_first ||
          r.suggested_port > behavior_.port_last)
        return MapError::unavailable;
    }
    auto created = create(now, r.proto, r.internal, Endpoint{}, r.suggested_port);
    if (!created) return MapError::exhausted;
    id = *created;
    Entry& e = entries_[id];
    if (r.require_suggested && translate_ && e.external.port != r.suggested_port) {
      remove(id);
      --counters_.mappings_created;
      return MapError::unavailable;
    }
    e.owner = r.owner;
    ++explicit_live_;
    ++subscribers_[r.internal.address].explicit_mappings;
    ++counters_.mappings_mapped;
    result.created = true;
  }
  Entry& e = entries_[id];
  // RFC 6887 §15: the lifetime the server granted is the mapping's lifetime; a refresh
  // may shorten it, but traffic through a permission keeps it alive as usual.
  e.explicit_until = now + r.lifetime;
  set_filters(id, r.filters);  // §13.3: the request's list replaces the mapping's
  TimePoint latest = e.explicit_until;
  for (const Permission& p : e.permissions)
    latest = std::max(latest, p.expires);
  set_expiry(e, latest);
  result.external = e.external;
  result.expires = e.expires;
  return result;
}

bool NatTable::unmap(TimePoint now, IpProto proto, const Endpoint& internal, MappingOwner owner) {
  expire(now);
  const auto id = find_explicit(proto, internal);
  if (!id || entries_[*id].owner != owner) return false;
  remove(*id);
  ++counters_.mappings_unmapped;
  return true;
}

std::optional<TimePoint> NatTable::expiry(TimePoint now, IpProto proto,
                                          const Endpoint& external) const {
  auto it = in_.find(InKey{external, proto});
  if (it == in_.end() || entries_[it->second].expires <= now) return std::nullopt;
  return entries_[it->second].expires;
}

std::optional<MappingInfo> NatTable::explicit_mapping(TimePoint now, IpProto proto,
                                                      const Endpoint& internal) const {
  const auto id = find_explicit(proto, internal);
  if (!id || entries_[*id].expires <= now) return std::nullopt;
  const Entry& e = entries_[*id];
  MappingInfo info;
  info.owner = e.owner;
  info.proto = e.proto;
  info.internal = e.internal;
  info.external = e.external;
  info.expires = e.expires;
  if (e.filtered) {
    const auto& list = filters_.find(*id)->second;
    info.filters.assign(list.begin(), list.end());
  }
  return info;
}

}  // namespace natsim::nat

namespace natsim::nat {

// ---- conntrack mode (docs/fidelity.md) ----

bool NatTable::ct_taken(IpProto proto, const Endpoint& external, const Endpoint& remote) const {
  // nf_nat_used_tuple: a candidate is taken when its reply tuple (remote -> external) is
  // some entry's tuple, whichever direction; an explicit mapping (a DNAT rule) owns its
  // port towards everyone.
  return ct_reply_.contains(CtKey{external, remote, proto}) || in_.contains(InKey{external, proto});
}

std::optional<std::uint16_t> NatTable::allocate_ct_port(IpProto proto, const IpAddress& external,
                                                        std::uint16_t internal_port,
                                                        const Endpoint& remote) {
  auto taken = [&](std::uint32_t port) {
    return ct_taken(proto, Endpoint{external, static_cast<std::uint16_t>(port)}, remote);
  };
  // get_unique_tuple step 1: without `random`/`fully-random` (NF_NAT_RANGE_PROTO_RANDOM_ALL)
  // the source port is kept when its tuple is free and in range (masquerade without a
  // port range: any port).
  const bool in_range = behavior_.port_classes || (internal_port >= behavior_.port_first &&
                                                   internal_port <= behavior_.port_last);
  if (behavior_.port_assignment == PortAssignment::preserve && in_range && !taken(internal_port))
    return internal_port;
  // nf_nat_l4proto_unique_tuple: without a port range, the source port's class.
  std::uint32_t first = behavior_.port_first;
  std::uint32_t last = behavior_.port_last;
  if (behavior_.port_classes) {
    const PortClass c = linux_port_class(internal_port);
    first = c.first;
    last = c.last;
  }
  const std::uint32_t size = last - first + 1;
  std::uint32_t start = first;
  const bool random = behavior_.port_assignment == PortAssignment::random ||
                      (behavior_.port_assignment == PortAssignment::preserve &&
                       behavior_.port_collision == PortCollision::random);
  if (random) {
    // A random offset (get_random_u16), then upward. The kernel gives up after 128
    // probes and retries from new offsets; natsim searches the whole class.
    start = first + static_cast<std::uint32_t>(rng_.below(size));
  } else if (behavior_.port_assignment == PortAssignment::sequential) {
    start = next_port_ >= first && next_port_ <= last ? next_port_ : first;
  } else {
    start = internal_port >= first && internal_port <= last ? internal_port : first;
  }
  for (std::uint32_t i = 0; i < size; ++i) {
    const std::uint32_t port = first + (start - first + i) % size;
    if (behavior_.preserve_parity && (port & 1u) != (internal_port & 1u)) continue;
    if (taken(port)) continue;
    if (behavior_.port_assignment == PortAssignment::sequential) next_port_ = port + 1;
    return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

void NatTable::ct_refresh(Entry& e, TimePoint now, bool reply) {
  // nf_conntrack_udp_packet: once a reply has been seen, a packet more than 2 s after
  // the flow's first one puts it on the stream timer and marks it ASSURED; before that
  // (and while unreplied) every packet sets the unreplied timer.
  constexpr Duration kStreamAfter = seconds(2);  // stream_ts = first packet + 2 * HZ
  Duration timeout = behavior_.udp_timeout;      // nf_conntrack_udp_timeout
  if (e.seen_reply && now > e.explicit_until + kStreamAfter) {
    timeout = behavior_.udp_timeout_stream;  // nf_conntrack_udp_timeout_stream
    e.assured = true;
  }
  set_expiry(e, now + timeout);
  // nf_conntrack_in sets IPS_SEEN_REPLY after the protocol handler: the first reply
  // itself is still timed as unreplied.
  if (reply) e.seen_reply = true;
}

NatTable::Outcome NatTable::ct_outbound(TimePoint now, IpProto proto, const Endpoint& internal,
                                        const Endpoint& remote) {
  expire(now);
  if (explicit_live_ > 0 && find_explicit(proto, internal)) {
    // RFC 6887 §11: traffic from an explicitly mapped endpoint uses that mapping.
    ct_ = false;
    auto out = outbound(now, proto, internal, remote);
    ct_ = true;
    return out;
  }
  auto it = ct_out_.find(CtKey{internal, remote, proto});
  if (it != ct_out_.end() && entries_[it->second].expires <= now) {
    remove(it->second);
    ++counters_.mappings_expired;
    it = ct_out_.end();
  }
  std::uint32_t id;
  if (it != ct_out_.end()) {
    id = it->second;
  } else {
    auto created = create(now, proto, internal, remote, 0, /*ct=*/true);
    if (!created) {
      ++counters_.dropped[static_cast<std::size_t>(created.error())];
      return created.error();
    }
    id = *created;
  }
  Entry& e = entries_[id];
  ct_refresh(e, now, /*reply=*/false);
  ++counters_.outbound;
  return e.external;
}

void NatTable::ct_create_local(TimePoint now, IpProto proto, const Endpoint& remote,
                               const Endpoint& external) {
  const std::uint32_t id = new_entry(now, proto, external, external, remote);
  Entry& e = entries_[id];
  e.explicit_until = now;  // the flow's first packet (see Entry)
  e.owner = MappingOwner::traffic;
  e.live = true;
  e.ct = true;
  e.local = true;
  e.seen_reply = false;
  e.assured = false;
  ct_reply_.emplace(CtKey{external, remote, proto}, id);
  ct_refresh(e, now, /*reply=*/false);
}

NatTable::Outcome NatTable::ct_inbound(TimePoint now, IpProto proto, const Endpoint& remote,
                                       const Endpoint& external) {
  auto fail = [this](NatDrop d) -> Outcome {
    ++counters_.dropped[static_cast<std::size_t>(d)];
    return d;
  };
  NatDrop reason = NatDrop::no_mapping;
  // Looked up before the sweep, so that a flow that just timed out counts as expired.
  auto it = ct_reply_.find(CtKey{external, remote, proto});
  if (it != ct_reply_.end() && entries_[it->second].expires <= now) {
    const bool mapping = !entries_[it->second].local;
    remove(it->second);
    if (mapping) {
      ++counters_.mappings_expired;
      reason = NatDrop::expired;
    }
  }
  expire(now);
  it = ct_reply_.find(CtKey{external, remote, proto});
  if (it != ct_reply_.end()) {
    Entry& e = entries_[it->second];
    if (e.local) {
      // Another packet of an unreplied flow towards the NAT itself: still no socket.
      ct_refresh(e, now, /*reply=*/false);
      return fail(ct_ports_.contains(InKey{external, proto}) ? NatDrop::filtered
                                                             : NatDrop::no_mapping);
    }
    if (behavior_.inbound_refresh) {
      ct_refresh(e, now, /*reply=*/true);
    } else {
      e.seen_reply = true;
    }
    ++counters_.inbound;
    return e.internal;
  }
  // An explicit mapping (PCP, UPnP) admits anyone, like a DNAT rule.
  if (explicit_live_ > 0) {
    if (auto in = in_.find(InKey{external, proto});
        in != in_.end() && entries_[in->second].expires > now) {
      ct_ = false;
      auto out = inbound(now, proto, remote, external);
      ct_ = true;
      return out;
    }
  }
  if (ct_ports_.contains(InKey{external, proto})) reason = NatDrop::filtered;
  // A packet no flow claims is NEW: conntrack confirms an entry for it (towards the
  // NAT's own stack) unless a `ct state new drop` rule drops it first; that entry's
  // reply tuple then blocks the port towards `remote` (nf_nat_used_tuple).
  if (!behavior_.wan_drop_new) ct_create_local(now, proto, remote, external);
  return fail(reason);
}

bool NatTable::blocks(TimePoint now, IpProto proto, const Endpoint& external,
                      const Endpoint& remote) const {
  auto it = ct_reply_.find(CtKey{external, remote, proto});
  return it != ct_reply_.end() && entries_[it->second].local && entries_[it->second].expires > now;
}

std::optional<Endpoint> NatTable::internal_for(TimePoint now, IpProto proto,
                                               const Endpoint& external,
                                               const Endpoint& remote) const {
  if (ct_) {
    auto it = ct_reply_.find(CtKey{external, remote, proto});
    if (it != ct_reply_.end()) {
      const Entry& e = entries_[it->second];
      if (!e.local && e.expires > now) return e.internal;
      return std::nullopt;
    }
  }
  auto it = in_.find(InKey{external, proto});
  if (it == in_.end()) return std::nullopt;
  const Entry& e = entries_[it->second];
  if (!e.live || e.expires <= now) return std::nullopt;
  // Only about a datagram the mapping sent there (it holds a permission for it).
  for (const Permission& p : e.permissions) {
    if (p.remote == remote || p.remote.address == remote.address) return e.internal;
  }
  return std::nullopt;
}

std::optional<NatTable::FlowState> NatTable::flow(TimePoint now, IpProto proto,
                                                  const Endpoint& internal,
                                                  const Endpoint& remote) const {
  auto it = ct_out_.find(CtKey{internal, remote, proto});
  if (it == ct_out_.end() || entries_[it->second].expires <= now) return std::nullopt;
  const Entry& e = entries_[it->second];
  return FlowState{e.expires, e.seen_reply, e.assured};
}

}  // namespace natsim::nat
