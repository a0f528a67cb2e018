#include "natsim/traversal/port_mapper.hpp"

#include <algorithm>

namespace natsim::traversal {

namespace {

constexpr Duration kPcpInitialTimeout = seconds(3);            // RFC 6887 §8.1.1 IRT
constexpr Duration kPcpMaxTimeout = seconds(1024);             // RFC 6887 §8.1.1 MRT
constexpr Duration kNatPmpInitialTimeout = milliseconds(250);  // RFC 6886 §3.1
// After a parallel race, "unsupported version" answers to the losing probe are expected
// this long (a few retransmissions' round trips on any LAN).
constexpr Duration kRaceGrace = seconds(2);

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

bool behind_another_nat(const IpAddress& a) {
  if (!a.is_v4()) return false;
  const std::uint32_t v = a.v4_value();
  return (v >> 24) == 10 || (v >> 20) == (172u << 4 | 1) || (v >> 16) == (192u << 8 | 168) ||
         (v >> 22) == (100u << 2 | 1);  // 10/8, 172.16/12, 192.168/16, 100.64/10
}

std::string_view to_string(MappingProtocol p) {
  return p == MappingProtocol::pcp ? "pcp" : p == MappingProtocol::natpmp ? "natpmp" : "upnp";
}

std::optional<MappingProtocol> parse_mapping_protocol(std::string_view name) {
  if (name == "pcp") return MappingProtocol::pcp;
  if (name == "natpmp") return MappingProtocol::natpmp;
  if (name == "upnp") return MappingProtocol::upnp;
  return std::nullopt;
}

PortMapper::PortMapper(PortMapperConfig config)
    : config_(std::move(config)), nonce_state_(config_.seed ^ 0x706370u) {
  for (MappingProtocol p : config_.protocols) {
    if (std::find(order_.begin(), order_.end(), p) == order_.end()) order_.push_back(p);
  }
  if (order_.empty()) order_ = {MappingProtocol::pcp, MappingProtocol::natpmp};
  protocol_ = order_.front();
  probing_ = config_.parallel && order_.size() > 1;
}

std::size_t PortMapper::add(TimePoint now, std::uint8_t protocol, std::uint16_t internal_port,
                            std::uint32_t lifetime, std::uint16_t suggested_port) {
  Mapping m;
  m.ask.protocol = protocol;
  m.ask.internal_port = internal_port;
  m.ask.suggested_port = suggested_port;
  m.ask.lifetime = lifetime;
  m.wanted_lifetime = lifetime;
  // RFC 6887 §11.2: a nonce per mapping, kept for its refreshes and its deletion.
  for (std::size_t i = 0; i < m.ask.nonce.size(); i += 8) {
    const std::uint64_t r = splitmix(nonce_state_);
    for (std::size_t j = 0; j < 8 && i + j < m.ask.nonce.size(); ++j)
      m.ask.nonce[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
  mappings_.push_back(m);
  const std::size_t id = mappings_.size() - 1;
  if (probing_) {
    // Asked for once a protocol has answered the probe.
    if (!probe_started_) start_probe(now);
  } else if (protocol_ == MappingProtocol::upnp) {
    send_upnp(now, id);
  } else {
    send(now, mappings_.back());
  }
  drain_upnp(now);
  return id;
}

void PortMapper::remove(TimePoint now, std::size_t id) {
  if (id >= mappings_.size()) return;
  Mapping& m = mappings_[id];
  if (probing_) {
    // Nothing was asked for yet.
    m.state = State::deleted;
    m.deadline = kTimeNever;
    emit(PortMapperEvent::Kind::deleted, id, m);
    return;
  }
  if (protocol_ == MappingProtocol::upnp) {
    m.state = State::deleting;
    m.deadline = kTimeNever;
    if (upnp_) upnp_->remove(now, m.upnp_id);
    drain_upnp(now);
    return;
  }
  m.state = State::deleting;
  m.ask.lifetime = 0;
  m.ask.suggested_port = 0;  // RFC 6886 §3.4: a deletion suggests port 0
  m.attempts = 0;
  send(now, m);
}

void PortMapper::refresh(TimePoint now, std::size_t id) {
  if (id >= mappings_.size() || mappings_[id].state != State::mapped) return;
  Mapping& m = mappings_[id];
  if (protocol_ == MappingProtocol::upnp) {
    if (upnp_) upnp_->refresh(now, m.upnp_id);
    drain_upnp(now);
    return;
  }
  m.state = State::requesting;
  m.attempts = 0;
  m.ask.lifetime = m.wanted_lifetime;
  send(now, m);
}

std::optional<Endpoint> PortMapper::external(std::size_t id) const {
  if (id >= mappings_.size() || mappings_[id].state != State::mapped) return std::nullopt;
  return mappings_[id].external;
}

void PortMapper::send(TimePoint now, Mapping& m) {
  std::optional<std::size_t> n;
  Duration timeout;
  if (protocol_ == MappingProtocol::pcp) {
    n = pcp_client::map_request(config_.local.address, m.ask, buffer_);
    timeout = std::min(kPcpInitialTimeout * (1 << std::min(m.attempts, 9u)), kPcpMaxTimeout);
  } else {
    if (!natpmp_address_) {
      // RFC 6886 §3.3: the map answer has no address; ask for it alongside.
      if (auto a = natpmp_client::address_request(buffer_))
        out_.push(config_.local, config_.gateway, ByteView(buffer_.data(), *a));
    }
    n = natpmp_client::map_request(m.ask, buffer_);
    timeout = kNatPmpInitialTimeout * (1 << std::min(m.attempts, 9u));
  }
  if (n) out_.push(config_.local, config_.gateway, ByteView(buffer_.data(), *n));
  ++m.attempts;
  m.deadline = now + timeout;
}

std::optional<TimePoint> PortMapper::poll_timeout() const {
  TimePoint next = kTimeNever;
  for (const Mapping& m : mappings_)
    next = std::min(next, m.deadline);
  next = std::min(next, probe_deadline_);
  if (upnp_) next = std::min(next, upnp_->poll_timeout().value_or(kTimeNever));
  if (next == kTimeNever) return std::nullopt;
  return next;
}

std::optional<Transmit> PortMapper::poll_transmit(MutableByteView out) {
  if (auto t = out_.pop(out)) return t;
  if (upnp_) return upnp_->poll_transmit(out);
  return std::nullopt;
}

void PortMapper::ensure_upnp() {
  if (upnp_) return;
  upnp::ClientConfig c = config_.upnp_client;
  if (c.local.address.is_unspecified() && c.local.port == 0) c.local = config_.local;
  // PCP and NAT-PMP answers must come from the gateway; so must the IGD's SSDP answer.
  // A multicast "gateway" is only where to search (probe --upnp): the IGD is not known yet.
  const IpAddress& gw = config_.gateway.address;
  if (!c.gateway && !gw.is_unspecified() && !gw.is_multicast()) c.gateway = gw;
  upnp_ = std::make_unique<upnp::UpnpClient>(std::move(c));
}

void PortMapper::drain_upnp(TimePoint now) {
  if (!upnp_) return;
  while (auto e = upnp_->poll_event())
    upnp_event(now, *e);
}

void PortMapper::start_probe(TimePoint now) {
  probe_started_ = true;
  if (std::find(order_.begin(), order_.end(), MappingProtocol::upnp) != order_.end()) {
    ensure_upnp();
    upnp_->start(now);  // M-SEARCH, then the description: `discovered` says UPnP answered
  }
  send_probes(now);
}

void PortMapper::send_probes(TimePoint now) {
  bool any = false;
  for (MappingProtocol p : order_) {
    std::optional<std::size_t> n;
    if (p == MappingProtocol::pcp) {
      // RFC 6887 §14.1: an ANNOUNCE request elicits an ANNOUNCE response from a server.
      pcp::Request r;
      r.opcode = pcp::Opcode::announce;
      r.client_address = config_.local.address;
      n = pcp::emit_request(r, buffer_);
    } else if (p == MappingProtocol::natpmp) {
      n = natpmp_client::address_request(buffer_);  // RFC 6886 §3.2
    }
    if (!n) continue;
    out_.push(config_.local, config_.gateway, ByteView(buffer_.data(), *n));
    any = true;
  }
  if (!any) return;  // UPnP alone: its client keeps its own M-SEARCH schedule
  // RFC 6886 §3.1's schedule for both: 250 ms, doubling.
  probe_deadline_ = now + kNatPmpInitialTimeout * (1 << std::min(probe_attempts_, 9u));
  ++probe_attempts_;
}

void PortMapper::probe_failed() {
  probing_ = false;
  probe_deadline_ = kTimeNever;
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    Mapping& m = mappings_[id];
    if (m.state != State::requesting) continue;
    m.state = State::failed;
    m.deadline = kTimeNever;
    PortMapperEvent e;
    e.kind = PortMapperEvent::Kind::failed;
    e.id = id;
    e.protocol = order_.back();
    if (upnp_discovery_failed_ && upnp_discovery_outcome_ != upnp::Outcome::no_gateway) {
      // The gateway answered SSDP but its UPnP was unusable: say why.
      e.protocol = MappingProtocol::upnp;
      e.upnp_outcome = upnp_discovery_outcome_;
      e.detail = upnp_discovery_detail_;
    }
    events_.push_back(std::move(e));
  }
}

void PortMapper::choose(TimePoint now, MappingProtocol p) {
  probing_ = false;
  probe_deadline_ = kTimeNever;
  const MappingProtocol from = protocol_;
  protocol_ = p;
  probe_chose_ = p;
  // Answers to the losing probes still on the way arrive within a round trip or so.
  race_grace_until_ = now + kRaceGrace;
  stage_ = static_cast<std::size_t>(std::find(order_.begin(), order_.end(), p) - order_.begin());
  // The race is over: UPnP stops searching and fetching if it lost.
  if (p != MappingProtocol::upnp && upnp_) upnp_->stop();
  take_over(now, from);
}

bool PortMapper::probe_answered(TimePoint now, ByteView bytes) {
  auto asked = [&](MappingProtocol p) {
    return std::find(order_.begin(), order_.end(), p) != order_.end();
  };
  if (bytes[0] == pcp::kVersion && asked(MappingProtocol::pcp)) {
    auto r = pcp::parse_response(bytes);
    if (!r) return false;
    if (r->opcode == pcp::Opcode::announce && r->result == pcp::ResultCode::success) {
      choose(now, MappingProtocol::pcp);
      (void)epoch_says_rebooted(now, r->epoch);  // the epoch's first sample
      drain_upnp(now);
    }
    return true;  // UNSUPP_VERSION to the NAT-PMP probe: PCP's answer will come
  }
  if (bytes[0] == 0 && asked(MappingProtocol::natpmp)) {
    auto a = natpmp_client::read(bytes, nullptr);
    if (!a) return false;
    if (a->kind == MappingAnswer::Kind::address) {
      natpmp_address_ = a->external.address;
      choose(now, MappingProtocol::natpmp);
      (void)epoch_says_rebooted(now, a->epoch);
      drain_upnp(now);
    }
    return true;
  }
  return false;
}

void PortMapper::send_upnp(TimePoint now, std::size_t id) {
  ensure_upnp();
  Mapping& m = mappings_[id];
  m.deadline = kTimeNever;  // the UPnP client keeps the timers now
  m.state = State::requesting;
  m.upnp_id =
      upnp_->add(now, m.ask.protocol, m.ask.internal_port, m.wanted_lifetime, m.ask.suggested_port);
}

void PortMapper::upnp_event(TimePoint now, const upnp::ClientEvent& e) {
  using K = upnp::ClientEvent::Kind;
  if (e.id == upnp::ClientEvent::kNoMapping) {
    // Discovery; outside a probe the mappings report its failure themselves.
    if (!probing_) return;
    if (e.kind == K::discovered) return choose(now, MappingProtocol::upnp);
    if (e.kind == K::failed) {
      upnp_discovery_failed_ = true;
      upnp_discovery_outcome_ = e.outcome;
      upnp_discovery_detail_ = e.detail;
      if (probe_deadline_ == kTimeNever) probe_failed();  // nothing else is still asking
    }
    return;
  }
  if (protocol_ != MappingProtocol::upnp) return;  // handed on to the next protocol
  std::size_t id = 0;
  while (id < mappings_.size() && mappings_[id].upnp_id != e.id)
    ++id;
  if (id == mappings_.size()) return;
  Mapping& m = mappings_[id];
  // The gateway's UPnP is absent or unusable (no SSDP answer, no description, no control
  // URL that answers): the next protocol in the order, if any, takes over.
  const auto o = e.outcome;
  if (e.kind == K::mapped) granted_over_protocol_ = true;
  // Only when nothing was ever granted over UPnP: a mapping granted here must go on being
  // refreshed and deleted here.
  if (e.kind == K::failed && !m.ever_mapped && !granted_over_protocol_ && has_next() &&
      (o == upnp::Outcome::no_gateway || o == upnp::Outcome::unreachable ||
       o == upnp::Outcome::timeout || o == upnp::Outcome::http_error ||
       o == upnp::Outcome::bad_description || o == upnp::Outcome::no_wan_service)) {
    fall_back(now);
    return;
  }
  PortMapperEvent::Kind kind;
  switch (e.kind) {
    case K::mapped:
      // A mapping the old protocol's server lost, granted anew here after a downgrade.
      kind = m.recreating ? PortMapperEvent::Kind::recreated : PortMapperEvent::Kind::mapped;
      break;
    case K::refreshed:
      kind = PortMapperEvent::Kind::refreshed;
      break;
    case K::recreated:
      kind = PortMapperEvent::Kind::recreated;
      break;
    // UPnP has no epoch: a mapping the gateway no longer has is how a reboot shows.
    case K::lost:
      kind = PortMapperEvent::Kind::gateway_rebooted;
      break;
    case K::deleted:
      kind = PortMapperEvent::Kind::deleted;
      break;
    case K::failed:
      kind = PortMapperEvent::Kind::failed;
      break;
    default:
      return;
  }
  switch (kind) {
    case PortMapperEvent::Kind::mapped:
    case PortMapperEvent::Kind::refreshed:
    case PortMapperEvent::Kind::recreated:
      m.state = State::mapped;
      m.ever_mapped = true;
      m.recreating = false;
      m.external = e.external;
      m.lifetime = e.lease;
      break;
    case PortMapperEvent::Kind::deleted:
      m.state = State::deleted;
      break;
    case PortMapperEvent::Kind::failed:
      m.state = State::failed;
      break;
    case PortMapperEvent::Kind::gateway_rebooted:
      break;
  }
  PortMapperEvent out;
  out.kind = kind;
  out.id = id;
  out.protocol = MappingProtocol::upnp;
  out.external = e.external;
  out.lifetime = e.lease;
  out.result = static_cast<std::uint16_t>(e.upnp_error);
  out.upnp_outcome = e.outcome;
  out.detail = e.detail;
  out.double_nat = kind != PortMapperEvent::Kind::failed && behind_another_nat(e.external.address);
  events_.push_back(std::move(out));
}

std::optional<PortMapperEvent> PortMapper::poll_event() {
  if (events_.empty()) return std::nullopt;
  PortMapperEvent e = events_.front();
  events_.pop_front();
  return e;
}

void PortMapper::emit(PortMapperEvent::Kind kind, std::size_t id, const Mapping& m) {
  PortMapperEvent e;
  e.kind = kind;
  e.id = id;
  e.protocol = protocol_;
  e.external = m.external;
  e.lifetime = m.lifetime;
  e.double_nat = behind_another_nat(m.external.address);
  e.epoch = last_epoch_.value_or(0);
  events_.push_back(e);
}

bool PortMapper::fall_back(TimePoint now) {
  if (!has_next()) return false;
  const MappingProtocol from = protocol_;
  protocol_ = order_[++stage_];
  granted_over_protocol_ = false;
  stale_refusals_ = 0;
  take_over(now, from);
  return true;
}

void PortMapper::take_over(TimePoint now, MappingProtocol from) {
  if (from != protocol_) last_epoch_.reset();  // each protocol's epoch is another counter
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    Mapping& m = mappings_[id];
    if (m.state == State::requesting) {
      if (protocol_ == MappingProtocol::upnp) {
        send_upnp(now, id);
      } else {
        m.attempts = 0;
        send(now, m);
      }
    } else if (m.state == State::deleting) {
      if (protocol_ == MappingProtocol::upnp || from == MappingProtocol::upnp) {
        // Nothing was granted over a protocol that never answered.
        m.state = State::deleted;
        m.deadline = kTimeNever;
        emit(PortMapperEvent::Kind::deleted, id, m);
      } else {
        m.attempts = 0;
        send(now, m);
      }
    }
  }
}

void PortMapper::handle_timeout(TimePoint now) {
  if (upnp_) {
    upnp_->handle_timeout(now);
    drain_upnp(now);
  }
  if (probing_ && probe_deadline_ <= now) {
    if (probe_attempts_ < config_.natpmp_attempts) {
      send_probes(now);
    } else {
      probe_deadline_ = kTimeNever;
      // UPnP's discovery may still be under way; else nothing answered at all.
      if (!upnp_ || upnp_discovery_failed_) probe_failed();
    }
  }
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    Mapping& m = mappings_[id];
    if (m.deadline > now) continue;
    if (m.state == State::mapped) {
      // Half the lifetime has passed: refresh with the same nonce.
      m.state = State::requesting;
      m.attempts = 0;
      m.ask.lifetime = m.wanted_lifetime;
      send(now, m);
      continue;
    }
    const std::uint32_t limit =
        protocol_ == MappingProtocol::pcp ? config_.pcp_attempts : config_.natpmp_attempts;
    if (m.attempts < limit) {
      send(now, m);
      continue;
    }
    // RFC 6887 §9: no PCP server answered; the next protocol (NAT-PMP by default). Only
    // when nothing was ever granted over this one: a gateway that granted here is there,
    // one lost exchange fails this mapping alone, and the others stay on this protocol.
    // Whether this mapping was granted before (over a protocol since left) does not count:
    // every mapping waiting on this protocol must meet the same fate, whatever its order.
    if (!granted_over_protocol_ && fall_back(now)) {
      drain_upnp(now);
      return;
    }
    m.deadline = kTimeNever;
    m.state = State::failed;
    emit(PortMapperEvent::Kind::failed, id, m);
  }
}

bool PortMapper::epoch_says_rebooted(TimePoint now, std::uint32_t epoch) {
  bool rebooted = false;
  if (last_epoch_) {
    // RFC 6887 §8.5: the server lost state if its epoch went backwards, or advanced
    // much less than the client's clock did (7/8 of it, less 2 s of slack).
    const std::int64_t client_delta = (now - last_epoch_at_) / seconds(1);
    const std::int64_t server_delta = std::int64_t{epoch} - std::int64_t{*last_epoch_};
    rebooted = epoch + 1 < *last_epoch_ || server_delta + 2 < client_delta * 7 / 8;
  }
  last_epoch_ = epoch;
  last_epoch_at_ = now;
  return rebooted;
}

void PortMapper::renew_all_after_announcement(TimePoint now, std::uint32_t epoch) {
  PortMapperEvent e;
  e.kind = PortMapperEvent::Kind::gateway_rebooted;
  e.protocol = protocol_;
  e.epoch = epoch;
  events_.push_back(e);
  const Duration delay = milliseconds(static_cast<std::int64_t>(splitmix(nonce_state_) % 5000));
  for (Mapping& m : mappings_) {
    if (m.state != State::mapped) continue;
    m.recreating = true;
    m.deadline = now + delay;  // handle_timeout refreshes a mapped mapping at its deadline
  }
}

void PortMapper::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                               ByteView bytes) {
  if (!upnp_) return;
  upnp_->handle_stream(now, local, remote, bytes);
  drain_upnp(now);
}

void PortMapper::handle_stream_closed(TimePoint now, const Endpoint& local,
                                      const Endpoint& remote) {
  if (!upnp_) return;
  upnp_->handle_stream_closed(now, local, remote);
  drain_upnp(now);
}

bool PortMapper::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  if (upnp_ && upnp_->handle_datagram(now, local, remote, bytes)) {
    drain_upnp(now);
    return true;
  }
  if (remote != config_.gateway || bytes.empty()) return false;
  if (probing_) return probe_answered(now, bytes);
  if (protocol_ == MappingProtocol::upnp) return false;  // a late probe answer
  if (protocol_ == MappingProtocol::pcp && bytes[0] == pcp::kVersion) {
    // RFC 6887 §14.1.3: an ANNOUNCE response, solicited or not, carries the epoch.
    if (auto r = pcp::parse_response(bytes);
        r && r->opcode == pcp::Opcode::announce && r->result == pcp::ResultCode::success) {
      if (epoch_says_rebooted(now, r->epoch)) renew_all_after_announcement(now, r->epoch);
      return true;
    }
  }
  if (protocol_ == MappingProtocol::natpmp) {
    // An address answer first: it may complete mappings waiting for it.
    if (auto a = natpmp_client::read(bytes, nullptr);
        a && a->kind == MappingAnswer::Kind::address) {
      // RFC 6886 §3.2.1 / §3.6: an announcement of a new address or a new epoch means the
      // mappings must be asked for again.
      const bool moved = natpmp_address_ && *natpmp_address_ != a->external.address;
      const bool rebooted = epoch_says_rebooted(now, a->epoch);
      if (natpmp_address_ && (moved || rebooted)) {
        natpmp_address_ = a->external.address;
        for (Mapping& m : mappings_) {
          if (m.state == State::mapped) m.external.address = a->external.address;
        }
        renew_all_after_announcement(now, a->epoch);
        return true;
      }
      natpmp_address_ = a->external.address;
      for (std::size_t id = 0; id < mappings_.size(); ++id) {
        Mapping& m = mappings_[id];
        if (m.state == State::mapped && m.external.address.is_unspecified()) {
          m.external.address = *natpmp_address_;
          emit(m.recreating ? PortMapperEvent::Kind::recreated : PortMapperEvent::Kind::mapped, id,
               m);
          m.recreating = false;
        }
      }
      return true;
    }
  }
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    Mapping& m = mappings_[id];
    if (m.state != State::requesting && m.state != State::deleting) continue;
    auto a = protocol_ == MappingProtocol::pcp ? pcp_client::read(bytes, m.ask)
                                               : natpmp_client::read(bytes, &m.ask);
    if (!a) continue;
    answered(now, id, *a);
    return true;
  }
  return false;
}

void PortMapper::answered(TimePoint now, std::size_t id, const MappingAnswer& a) {
  if (a.kind == MappingAnswer::Kind::unsupported_version) {
    // The race chose this protocol on the gateway's own answer: "unsupported version" is
    // the late answer to another protocol's probe (a PCP-only gateway answers NAT-PMP's
    // in PCP's format, RFC 6887 §9), not about this one.
    // Only within the race's grace period: later, the gateway means it (a downgrade).
    if (probe_chose_ == protocol_ && now < race_grace_until_) return;
    // A refusal that moved every mapping on left the other requests of the old protocol
    // still out: their refusals carry no nonce, may come in the new protocol's own format
    // (a NAT-PMP-only gateway answers PCP in NAT-PMP's, RFC 6887 §9) and would be read as
    // the new protocol refused. Ignored for the race's 2 s grace, and only as many as were
    // out: a gateway that speaks neither refuses the new protocol at once too, and that
    // refusal must move the mappings on without delay.
    if (stale_refusals_ > 0 && now < stale_refusals_until_) {
      --stale_refusals_;
      return;
    }
    // This one is answered; the others waiting on the same protocol will be refused too.
    std::uint32_t waiting = 0;
    for (const Mapping& o : mappings_)
      if (o.state == State::requesting || o.state == State::deleting) ++waiting;
    // After grants over this protocol the gateway was downgraded (RFC 6887 §9: its answer
    // names the version it speaks now). Unlike a lost exchange this is the gateway's own
    // word, so follow it; the mappings it granted went with the old server and cannot be
    // refreshed or deleted over a protocol it no longer speaks: re-created at once, on
    // the ports they had, over the next protocol.
    if (granted_over_protocol_ && has_next()) {
      for (Mapping& o : mappings_) {
        // A refresh under way too: what it refreshed is gone.
        if (o.state != State::mapped && !(o.state == State::requesting && o.ever_mapped)) continue;
        o.state = State::requesting;
        o.recreating = true;
        o.ask.lifetime = o.wanted_lifetime;
      }
    }
    // The gateway said that it does not speak this protocol: the next one.
    if (fall_back(now)) {
      stale_refusals_ = waiting > 0 ? waiting - 1 : 0;
      stale_refusals_until_ = now + kRaceGrace;
      return drain_upnp(now);
    }
    // Told to use this protocol only: the gateway does not speak it.
    Mapping& m = mappings_[id];
    m.state = State::failed;
    m.deadline = kTimeNever;
    PortMapperEvent e;
    e.kind = PortMapperEvent::Kind::failed;
    e.id = id;
    e.protocol = protocol_;
    e.result = a.result;
    e.epoch = a.epoch;
    events_.push_back(e);
    return;
  }
  if (epoch_says_rebooted(now, a.epoch)) {
    PortMapperEvent e;
    e.kind = PortMapperEvent::Kind::gateway_rebooted;
    e.protocol = protocol_;
    e.epoch = a.epoch;
    events_.push_back(e);
    // The answered request re-created its own mapping; the others are asked again now.
    for (std::size_t other = 0; other < mappings_.size(); ++other) {
      Mapping& o = mappings_[other];
      if (o.state == State::mapped || (other == id && o.ever_mapped)) o.recreating = true;
      if (other != id && o.state == State::mapped) {
        o.state = State::requesting;
        o.attempts = 0;
        o.ask.lifetime = o.wanted_lifetime;
        send(now, o);
      }
    }
  }
  Mapping& m = mappings_[id];
  if (a.kind == MappingAnswer::Kind::failed) {
    m.state = State::failed;
    m.deadline = kTimeNever;
    PortMapperEvent e;
    e.kind = PortMapperEvent::Kind::failed;
    e.id = id;
    e.protocol = protocol_;
    e.result = a.result;
    e.epoch = a.epoch;
    events_.push_back(e);
    return;
  }
  if (m.state == State::deleting) {
    m.state = State::deleted;
    m.deadline = kTimeNever;
    emit(PortMapperEvent::Kind::deleted, id, m);
    return;
  }
  const bool first = !m.ever_mapped;
  granted_over_protocol_ = true;  // a later timeout is this gateway's lost exchange
  m.state = State::mapped;
  m.ever_mapped = true;
  m.lifetime = a.lifetime;
  m.external = a.external;
  // RFC 6887 §11.2.1 / RFC 6886 §3.3: refreshes, and a re-creation after the gateway
  // lost its state, suggest the port the mapping had, so peers can keep using it.
  m.ask.suggested_port = a.external.port;
  // Refresh at half the granted lifetime (RFC 6887 §11.2.1 suggests between 1/2 and 5/8).
  m.deadline = now + seconds(a.lifetime) / 2;
  if (protocol_ == MappingProtocol::natpmp) {
    if (!natpmp_address_) return;  // the event waits for the address answer
    m.external.address = *natpmp_address_;
  }
  const auto kind = m.recreating ? PortMapperEvent::Kind::recreated
                    : first      ? PortMapperEvent::Kind::mapped
                                 : PortMapperEvent::Kind::refreshed;
  m.recreating = false;
  emit(kind, id, m);
}

}  // namespace natsim::traversal
