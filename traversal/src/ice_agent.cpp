// The ICE agent: construction, gathering, demultiplexing, timers and polls. The
// connectivity checks themselves are in ice_checks.cpp.
#include "natsim/traversal/ice_agent.hpp"

#include <algorithm>
#include <array>

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::ice {

std::string_view to_string(PathType p) {
  switch (p) {
    case PathType::host:
      return "host";
    case PathType::srflx:
      return "srflx";
    case PathType::prflx:
      return "prflx";
    case PathType::relay:
      return "relay";
    case PathType::mapped:
      return "mapped";
  }
  return "?";
}

namespace {

// RFC 8445 §5.3: ice-chars are ALPHA / DIGIT / "+" / "/".
std::string random_ice_chars(Rng& rng, std::size_t n) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s(n, 'A');
  for (char& c : s)
    c = kChars[rng.below(64)];
  return s;
}

// A check policy for consent (RFC 7675 §5.1): a few tries within a consent interval.
constexpr stun::RetransmitPolicy kConsentPolicy{milliseconds(500), 4, 8, milliseconds(39500)};

}  // namespace

Agent::Agent(std::uint64_t seed, AgentConfig config)
    : rng_(Rng::for_component(seed, "ice")),
      config_(std::move(config)),
      controlling_(config_.controlling),
      checklist_(config_.max_pairs),
      checks_(config_.check_retransmit),
      consent_(kConsentPolicy) {
  // RFC 8445 §5.3: at least 24 bits of randomness in the ufrag, 128 in the password.
  ufrag_ = config_.ufrag.empty() ? random_ice_chars(rng_, 8) : config_.ufrag;
  pwd_ = config_.pwd.empty() ? random_ice_chars(rng_, 24) : config_.pwd;
  tie_breaker_ = rng_();  // RFC 8445 §7.1.3 (ICE-CONTROLLING/CONTROLLED)
  if (config_.stun_server) {
    stun_ = std::make_unique<stun::StunClient>(Rng::for_component(seed, "ice/stun")(),
                                               config_.gather_retransmit);
  }
  if (config_.turn) {
    turn_ =
        std::make_unique<turn::TurnClient>(Rng::for_component(seed, "ice/turn")(), *config_.turn);
  }
  scratch_.resize(stun::kMaxMessageSize);
  external_pending_ = config_.external_sources;
}

Agent::~Agent() = default;

// ---- gathering ---------------------------------------------------------------------------

void Agent::gather(TimePoint now) {
  if (gathering_started_ || closed_) return;
  gathering_started_ = true;
  // RFC 8445 §5.1.1.1: one host candidate per local socket; §5.1.2.1 local preference
  // decreasing with the order the application gave.
  for (std::size_t i = 0; i < config_.host.size(); ++i) {
    const Endpoint& h = config_.host[i];
    add_local(now, make_candidate(CandidateType::host, h, h, std::nullopt,
                                  static_cast<std::uint32_t>(65535 - i)));
  }
  // RFC 8445 §5.1.1.2: a Binding request from each host candidate to the STUN server.
  if (stun_) {
    for (const Endpoint& h : config_.host) {
      if (h.address.family() != config_.stun_server->address.family()) continue;
      (void)stun_->send_binding(now, h, *config_.stun_server);
      ++stun_pending_;
    }
  }
  if (turn_) {
    turn_pending_ = true;
    turn_->allocate(now);
  }
  maybe_gathering_done(now);
  start_checks_if_ready(now);
  route_checks(now);
}

void Agent::add_local_candidate(TimePoint now, const Candidate& c) {
  if (closed_ || !gathering_started_ || c.type == CandidateType::host ||
      c.type == CandidateType::relay || !local_by_base(c.base)) {
    return;  // only addresses of a host socket's base: pairs form on that base
  }
  add_local(now, c);
  run_checks(now);
  route_checks(now);
}

void Agent::external_source_done(TimePoint now) {
  if (external_pending_ == 0) return;
  --external_pending_;
  maybe_gathering_done(now);
  route_checks(now);
}

std::optional<std::size_t> Agent::local_by_base(const Endpoint& base) const {
  for (std::size_t i = 0; i < local_.size(); ++i) {
    const Candidate& c = local_[i];
    if ((c.type == CandidateType::host || c.type == CandidateType::relay) && c.base == base) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> Agent::remote_by_address(const Endpoint& a) const {
  for (std::size_t i = 0; i < remote_.size(); ++i) {
    if (remote_[i].address == a) return i;
  }
  return std::nullopt;
}

bool Agent::is_relay_base(const Endpoint& e) const {
  return turn_ && turn_->relayed() && *turn_->relayed() == e;
}

void Agent::add_local(TimePoint now, const Candidate& c) {
  // RFC 8445 §5.1.3: a candidate with the same transport address and base as another is
  // redundant (a server-reflexive address equal to its host: no NAT).
  for (const Candidate& o : local_) {
    if (o.address == c.address && o.base == c.base) return;
  }
  local_.push_back(c);
  events_.push_back(LocalCandidate{c});
  // RFC 8445 §6.1.2.4: server-reflexive candidates pair as their base (a host candidate),
  // so only host and relayed candidates form pairs.
  if (c.type == CandidateType::host || c.type == CandidateType::relay) {
    pair_local(now, local_.size() - 1);
  } else {
    mark_unlikely();  // a server-reflexive address tells whether this host is behind a NAT
  }
}

// Pairs whose success the candidates make unlikely; they are checked after the others and
// do not hold nomination (unless the peer's check arrives on them). They stay in the
// checklist: the judgement is about order and waiting, never about whether to try.
// - Host to host across two NATs: both hosts have server-reflexive addresses other than
//   their own, and those public addresses differ. Two hosts behind the same NAT share its
//   public address; private addresses of different networks rarely route to each other.
// - To a server-reflexive address of a peer whose checks came from another port of the
//   same public address: its NAT maps per destination, so the address its STUN server saw
//   is not the one it uses towards us, and its filtering most likely drops what we send.
void Agent::mark_unlikely() {
  auto public_ips = [](const std::vector<Candidate>& cs, const Candidate& host) {
    std::vector<IpAddress> ips;
    for (const Candidate& c : cs) {
      if (c.type != CandidateType::srflx || c.address.address == host.address.address) continue;
      if (c.related && *c.related != host.address && *c.related != host.base) continue;
      ips.push_back(c.address.address);
    }
    return ips;
  };
  for (std::size_t i = 0; i < checklist_.size(); ++i) {
    CandidatePair& p = checklist_[i];
    const Candidate& l = local_[p.local];
    const Candidate& r = remote_[p.remote];
    bool unlikely = false;
    if (l.type == CandidateType::host && r.type == CandidateType::host) {
      const auto ours = public_ips(local_, l);
      const auto theirs = public_ips(remote_, r);
      unlikely = !ours.empty() && !theirs.empty() &&
                 std::none_of(ours.begin(), ours.end(), [&](const IpAddress& ip) {
                   return std::find(theirs.begin(), theirs.end(), ip) != theirs.end();
                 });
    } else if (r.type == CandidateType::srflx) {
      unlikely = std::any_of(remote_.begin(), remote_.end(), [&](const Candidate& o) {
        return o.type == CandidateType::prflx && o.address.address == r.address.address &&
               o.address.port != r.address.port;
      });
    }
    p.unlikely = unlikely;
  }
}

void Agent::request_permission(TimePoint now, const IpAddress& peer) {
  if (!turn_ || !turn_->allocated()) return;
  if (std::find(permissions_.begin(), permissions_.end(), peer) != permissions_.end()) return;
  permissions_.push_back(peer);
  turn_->create_permission(now, peer);  // RFC 8656 §9: the peer may then reach the relay
}

void Agent::add_pair(TimePoint now, std::size_t local, std::size_t remote) {
  const auto added = checklist_.add(local, local_[local], remote, remote_[remote], controlling_);
  if (!added) return;
  if (local_[local].type == CandidateType::relay)
    request_permission(now, remote_[remote].address.address);
  // RFC 8838 §10: a pair added while checks run is unfrozen like the initial ones.
  if (checks_started_) checklist_.unfreeze_initial();
}

void Agent::pair_local(TimePoint now, std::size_t local) {
  for (std::size_t r = 0; r < remote_.size(); ++r)
    add_pair(now, local, r);
  mark_unlikely();
  run_checks(now);
}

void Agent::pair_remote(TimePoint now, std::size_t remote) {
  for (std::size_t l = 0; l < local_.size(); ++l) {
    const CandidateType t = local_[l].type;
    if (t == CandidateType::host || t == CandidateType::relay) add_pair(now, l, remote);
  }
  mark_unlikely();
  run_checks(now);
}

void Agent::maybe_gathering_done(TimePoint now) {
  if (!gathering_started_ || gathering_done_ || stun_pending_ > 0 || turn_pending_ ||
      external_pending_ > 0) {
    return;
  }
  gathering_done_ = true;
  GatheringDone done;
  for (const Candidate& c : local_) {
    if (c.type != CandidateType::prflx) done.candidates.push_back(c);
  }
  events_.push_back(std::move(done));
  maybe_fail(now);
}

void Agent::drain_clients(TimePoint now) {
  if (stun_) {
    while (auto r = stun_->poll_event()) {
      --stun_pending_;
      if (r->outcome == stun::BindingResult::Outcome::success && r->mapped) {
        const auto host = local_by_base(r->local);
        const std::uint32_t pref = host ? (local_[*host].priority >> 8) & 0xFFFF : 65535;
        Candidate c = make_candidate(CandidateType::srflx, *r->mapped, r->local,
                                     config_.stun_server->address, pref);
        c.related = r->local;
        add_local(now, c);
      } else {
        gather_notes_ += "; no server-reflexive candidate from " + r->local.to_string();
      }
    }
  }
  if (turn_) {
    while (auto e = turn_->poll_event())
      on_turn_event(now, *e);
  }
  maybe_gathering_done(now);
}

void Agent::on_turn_event(TimePoint now, const turn::ClientEvent& e) {
  const IpAddress server = turn_->config().server.address;
  if (const auto* a = std::get_if<turn::Allocated>(&e)) {
    turn_pending_ = false;
    // RFC 8445 §5.1.1.2: the Allocate response's XOR-MAPPED-ADDRESS is a server-reflexive
    // candidate as well.
    const Endpoint base = turn_->config().local;
    const auto host = local_by_base(base);
    const std::uint32_t pref = host ? (local_[*host].priority >> 8) & 0xFFFF : 65535;
    Candidate s = make_candidate(CandidateType::srflx, a->mapped, base, server, pref);
    s.related = base;
    add_local(now, s);
    Candidate r = make_candidate(CandidateType::relay, a->relayed, a->relayed, server, 65535);
    r.related = a->mapped;
    add_local(now, r);
    for (const Candidate& rc : remote_)
      request_permission(now, rc.address.address);
  } else if (const auto* f = std::get_if<turn::Failed>(&e)) {
    if (turn_pending_) {
      turn_pending_ = false;
      gather_notes_ += "; no relayed candidate: TURN " +
                       (f->code == 0 ? std::string("gave no answer")
                                     : std::to_string(f->code) + " " + f->reason);
    }
  } else if (std::holds_alternative<turn::PermissionCreated>(e)) {
    run_checks(now);  // relayed pairs waiting for it may go
  } else if (const auto* d = std::get_if<turn::PeerData>(&e)) {
    if (!turn_->relayed()) return;
    const Endpoint relayed = *turn_->relayed();
    if (!handle_stun(now, relayed, d->peer, d->data)) {
      if (checklist_.find(relayed, d->peer)) push_data(d->peer, d->data);
    }
  }
}

// ---- demultiplexing ---------------------------------------------------------------------

bool Agent::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                            ByteView bytes) {
  if (closed_) return false;
  bool mine = handle_stun(now, local, remote, bytes);
  if (!mine && stun_ && stun::Message::looks_like_stun(bytes)) {
    mine = stun_->handle_datagram(now, local, remote, bytes);
  }
  if (!mine && turn_ && remote == turn_->config().server && local == turn_->config().local) {
    mine = turn_->handle_datagram(now, local, remote, bytes);
  }
  if (!mine && !stun::Message::looks_like_stun(bytes) && checklist_.find(local, remote)) {
    push_data(remote, bytes);  // application data from a paired remote
    mine = true;
  }
  drain_clients(now);
  run_checks(now);
  route_checks(now);
  return mine;
}

void Agent::push_data(const Endpoint& from, ByteView bytes) {
  if (data_pending_ == 0) data_used_ = 0;
  if (data_used_ == data_slots_.size()) data_slots_.emplace_back();
  std::vector<std::uint8_t>& slot = data_slots_[data_used_++];
  slot.assign(bytes.begin(), bytes.end());
  ++data_pending_;
  ++counters_.data_in;
  events_.push_back(Data{from, ByteView(slot.data(), slot.size())});
}

bool Agent::send(TimePoint now, ByteView data) {
  if (closed_ || !selected_ || state_ != State::connected) {
    ++counters_.data_dropped;
    return false;
  }
  const CandidatePair& p = checklist_[*selected_];
  emit(now, p.local_base, p.remote_address, data);
  last_sent_ = now;
  ++counters_.data_out;
  return true;
}

void Agent::emit(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes) {
  if (is_relay_base(local)) {
    turn_->send(now, remote, bytes);  // a Send indication or ChannelData to the peer
  } else {
    out_.push(local, remote, bytes);
  }
}

void Agent::route_checks(TimePoint now) {
  std::array<std::uint8_t, 2048> buf;  // checks are far smaller (USERNAME ≤ 513 bytes)
  while (auto t = check_out_.pop(buf))
    emit(now, t->local, t->remote, ByteView(buf.data(), t->size));
}

void Agent::close() {
  closed_ = true;
  checks_.clear();
  consent_.clear();
  stun_.reset();
  turn_.reset();
}

// ---- timers and polls -------------------------------------------------------------------

void Agent::handle_timeout(TimePoint now) {
  if (closed_) return;
  if (stun_) stun_->handle_timeout(now);
  if (turn_) turn_->handle_timeout(now);
  drain_clients(now);
  checks_.retransmit_due(now, check_out_);
  while (auto t = checks_.pop_expired(now)) {
    if (t->cancelled) continue;  // replaced by a triggered check (RFC 8445 §7.3.1.4)
    ++counters_.check_timeouts;
    --checklist_[t->context.pair].in_flight;
    on_check_failure(now, t->context.pair);
  }
  consent_.retransmit_due(now, check_out_);
  while (consent_.pop_expired(now)) {
  }
  consent_tick(now);
  maybe_nominate(now);
  run_checks(now);
  route_checks(now);
}

std::optional<Transmit> Agent::poll_transmit(MutableByteView out) {
  if (auto t = out_.pop(out)) return t;
  if (stun_) {
    if (auto t = stun_->poll_transmit(out)) return t;
  }
  if (turn_) {
    if (auto t = turn_->poll_transmit(out)) return t;
  }
  return std::nullopt;
}

std::optional<TimePoint> Agent::poll_timeout() const {
  if (closed_) return std::nullopt;
  std::optional<TimePoint> t;
  auto consider = [&t](std::optional<TimePoint> d) {
    if (d && (!t || *d < *t)) t = d;
  };
  if (wants_tick_) consider(next_check_);
  if (controlling_ && !selected_ && !nominating_ && !config_.aggressive_nomination &&
      state_ == State::checking) {
    consider(nomination_deadline());
  }
  consider(checks_.next_deadline());
  consider(consent_.next_deadline());
  if (selected_ && state_ == State::connected) {
    if (config_.consent_interval > Duration::zero()) {
      consider(next_consent_);
      consider(consent_expires_);
    } else {
      consider(last_sent_ + config_.keepalive);
    }
  }
  if (stun_) consider(stun_->poll_timeout());
  if (turn_) consider(turn_->poll_timeout());
  return t;
}

std::optional<Event> Agent::poll_event() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  if (std::holds_alternative<Data>(e)) --data_pending_;
  return e;
}

}  // namespace natsim::traversal::ice
