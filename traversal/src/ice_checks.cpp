// The ICE agent's connectivity checks (RFC 8445 §7): sending paced checks, answering
// requests (triggered checks, peer-reflexive candidates, role conflicts), processing
// responses, nomination, consent freshness (RFC 7675) and failure.
#include <algorithm>
#include <array>

#include "natsim/traversal/ice_agent.hpp"
#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::ice {

namespace attr = stun::attr;

void Agent::set_remote(TimePoint now, std::string ufrag, std::string pwd,
                       const std::vector<Candidate>& candidates, bool end_of_candidates) {
  if (closed_) return;
  remote_ufrag_ = std::move(ufrag);
  remote_pwd_ = std::move(pwd);
  // RFC 8445 §7.2.2: USERNAME of our checks is "remote ufrag:local ufrag".
  check_username_ = remote_ufrag_ + ":" + ufrag_;
  remote_known_ = true;
  for (const Candidate& c : candidates)
    add_remote_candidate(now, c);
  if (end_of_candidates) remote_end_ = true;
  start_checks_if_ready(now);
  maybe_fail(now);
  route_checks(now);
}

void Agent::add_remote_candidate(TimePoint now, const Candidate& c) {
  if (closed_) return;
  if (const auto known = remote_by_address(c.address)) {
    // RFC 8838 §11 (and RFC 8445 §7.3.1.3): the signalled candidate stands for a
    // peer-reflexive one learnt from a check that came first: it takes its type, priority
    // and foundation; the pairs keep their states, their priorities are computed again.
    Candidate& k = remote_[*known];
    if (k.type != CandidateType::prflx || c.type == CandidateType::prflx) return;
    k.type = c.type;
    k.priority = c.priority;
    k.foundation = c.foundation;
    k.related = c.related;
    checklist_.update_remote(*known, k, local_);
    pair_remote(now, *known);  // it pairs with every local candidate now, as signalled
    route_checks(now);
    return;
  }
  if (remote_.size() >= config_.max_remote_candidates) {
    ++counters_.remote_refused;
    return;
  }
  remote_.push_back(c);
  remote_generation_.push_back(0);
  pair_remote(now, remote_.size() - 1);
  route_checks(now);
}

void Agent::end_of_remote_candidates(TimePoint now) {
  remote_end_ = true;
  maybe_fail(now);
}

void Agent::start_checks_if_ready(TimePoint now) {
  if (checks_started_ || !gathering_started_ || !remote_known_ || closed_) return;
  checks_started_ = true;
  state_ = State::checking;
  checklist_.unfreeze_initial();  // RFC 8445 §6.1.2.6
  next_check_ = now;
  run_checks(now);
}

// RFC 8445 §6.1.4.2: one check every Ta — a pending nomination, a triggered check, or the
// highest-priority Waiting pair.
void Agent::run_checks(TimePoint now) {
  wants_tick_ = false;
  if (!checks_started_ || closed_ || state_ == State::failed) return;
  if (now < next_check_) {
    wants_tick_ = true;
    return;
  }
  std::optional<std::size_t> pair;
  bool use_candidate = false;
  if (nominate_due_) {
    pair = nominating_;
    use_candidate = true;
    nominate_due_ = false;
  } else if (checking_goes_on()) {
    pair = checklist_.next([this](const CandidatePair& p) {
      return !is_relay_base(p.local_base) || turn_->has_permission(p.remote_address.address);
    });
    use_candidate = controlling_ && config_.aggressive_nomination;
  }
  if (!pair) return;
  send_check(now, *pair, Kind::check, use_candidate);
  next_check_ = now + config_.ta;
  wants_tick_ = true;
}

// RFC 8445 §7.2.2: a Binding request with USERNAME, PRIORITY (of a peer-reflexive
// candidate from this base, §7.1.1), ICE-CONTROLLING or ICE-CONTROLLED with the
// tie-breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY with the remote password
// and FINGERPRINT.
void Agent::send_check(TimePoint now, std::size_t pair, Kind kind, bool use_candidate) {
  CandidatePair& p = checklist_[pair];
  const std::uint32_t local_pref = (p.local_priority >> 8) & 0xFFFF;
  const stun::TransactionId id = stun::random_transaction_id(rng_);
  stun::Writer w(scratch_, stun::method::binding, stun::Class::request, id);
  w.add_text(attr::username, check_username_);
  w.add_u32(attr::priority, candidate_priority(CandidateType::prflx, local_pref, 1));
  w.add_u64(controlling_ ? attr::ice_controlling : attr::ice_controlled, tie_breaker_);
  if (use_candidate) w.add_empty(attr::use_candidate);
  w.add_message_integrity(stun::as_bytes(remote_pwd_));
  w.add_fingerprint();
  const auto bytes = w.finish();
  if (!bytes) {  // a remote ufrag too long for a message: the pair cannot be checked
    if (kind == Kind::check) checklist_.fail(pair);
    return;
  }
  const Check c{pair, kind, use_candidate, controlling_};
  if (kind == Kind::consent) {
    ++counters_.consent_checks;
    consent_.start(now, id, p.local_base, p.remote_address, Transport::udp, *bytes, c, check_out_);
  } else {
    ++counters_.checks_sent;
    ++p.in_flight;
    p.last_check = now;
    // A nomination repeats a check on a valid pair: §14.3's RTO, which spreads the
    // retransmissions of a whole checklist, would leave a lost answer unrepeated for
    // seconds; it retransmits from RFC 8489's initial RTO instead.
    p.last_rto = use_candidate && !config_.aggressive_nomination ? config_.check_retransmit.rto
                                                                 : check_rto();
    checks_.start(now, id, p.local_base, p.remote_address, Transport::udp, *bytes, c, check_out_,
                  p.last_rto);
  }
  if (selected_ && *selected_ == pair) last_sent_ = now;
}

// RFC 8445 §14.3: RTO = MAX(500 ms, Ta × N × (Num-Waiting + Num-In-Progress)), N the
// total number of checks to be performed (the pairs of the checklist); 500 ms is the
// policy's RTO. Computed for each transaction as it starts.
Duration Agent::check_rto() const {
  const Duration floor = config_.check_retransmit.rto;
  if (!config_.check_rto_from_checklist) return floor;
  const auto n = static_cast<Duration::rep>(checklist_.size());
  const auto active = static_cast<Duration::rep>(checklist_.active());
  return std::max(floor, config_.ta * n * active);
}

// RFC 8445 §7.3.1.4: a triggered check on an In-Progress pair replaces its check — the
// transaction is cancelled (no more retransmissions, its answer still counts) and the pair
// goes Waiting in the triggered-check queue.
void Agent::trigger_check(std::size_t pair) {
  for (auto& t : checks_) {
    if (t.context.pair != pair || t.context.kind != Kind::check || t.cancelled) continue;
    checks_.cancel(t);
    --checklist_[pair].in_flight;
  }
  checklist_.trigger(pair);
}

bool Agent::handle_stun(TimePoint now, const Endpoint& local, const Endpoint& remote,
                        ByteView bytes) {
  if (!stun::Message::looks_like_stun(bytes)) return false;
  const auto m = stun::Message::parse(bytes);
  if (!m || m->classic() || m->method() != stun::method::binding) return false;
  switch (m->cls()) {
    case stun::Class::request:
      on_request(now, local, remote, *m);
      return true;
    case stun::Class::indication:
      return true;  // a keepalive (RFC 8445 §11): nothing to do
    case stun::Class::success:
    case stun::Class::error:
      if (!checks_.contains(m->transaction_id()) && !consent_.contains(m->transaction_id())) {
        return false;  // perhaps the STUN client's
      }
      on_response(now, local, remote, *m);
      return true;
  }
  return false;
}

void Agent::respond_error(const Endpoint& local, const Endpoint& remote, const stun::Message& m,
                          std::uint16_t code, bool sign) {
  stun::Writer w(scratch_, stun::method::binding, stun::Class::error, m.transaction_id());
  w.add_error(
      code, code == kRoleConflict ? std::string_view("Role Conflict") : stun::error::reason(code));
  if (sign) w.add_message_integrity(stun::as_bytes(pwd_));
  w.add_fingerprint();
  if (const auto bytes = w.finish()) check_out_.push(local, remote, *bytes);
}

// RFC 8445 §7.3: a check from the other agent.
void Agent::on_request(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       const stun::Message& m) {
  // RFC 8445 §7.2.2: checks carry FINGERPRINT; without a valid one the request is not
  // ICE's and is dropped.
  if (!m.fingerprint_ok()) {
    ++counters_.malformed;
    return;
  }
  if (!m.unknown_required().empty()) {
    ++counters_.bad_requests;
    respond_error(local, remote, m, stun::error::unknown_attribute, false);
    return;
  }
  // RFC 8489 §9.1.3: short-term credentials.
  const auto username = m.text(attr::username);
  if (!username || !m.has(attr::message_integrity)) {
    ++counters_.bad_requests;
    respond_error(local, remote, m, stun::error::bad_request, false);
    return;
  }
  if (username->size() <= ufrag_.size() || username->substr(0, ufrag_.size()) != ufrag_ ||
      (*username)[ufrag_.size()] != ':' ||
      m.check_integrity(stun::as_bytes(pwd_)) != stun::IntegrityResult::ok) {
    ++counters_.bad_requests;
    respond_error(local, remote, m, stun::error::unauthenticated, false);
    return;
  }
  const auto priority = m.u32(attr::priority);
  if (!priority) {
    ++counters_.bad_requests;
    respond_error(local, remote, m, stun::error::bad_request, true);
    return;
  }
  // RFC 8445 §7.3.1.1: role conflicts.
  if (const auto theirs = m.u64(attr::ice_controlling); theirs && controlling_) {
    ++counters_.role_conflicts;
    if (tie_breaker_ >= *theirs) {
      respond_error(local, remote, m, kRoleConflict, true);
      return;
    }
    switch_role(false);
  } else if (const auto theirs2 = m.u64(attr::ice_controlled); theirs2 && !controlling_) {
    ++counters_.role_conflicts;
    if (tie_breaker_ >= *theirs2) {
      switch_role(true);
    } else {
      respond_error(local, remote, m, kRoleConflict, true);
      return;
    }
  }
  // RFC 8445 §7.3.1.2: the success response, XOR-MAPPED-ADDRESS the request's source.
  {
    stun::Writer w(scratch_, stun::method::binding, stun::Class::success, m.transaction_id());
    w.add_xor_address(attr::xor_mapped_address, remote);
    w.add_message_integrity(stun::as_bytes(pwd_));
    w.add_fingerprint();
    if (const auto bytes = w.finish()) check_out_.push(local, remote, *bytes);
  }
  ++counters_.requests_received;
  const auto li = local_by_base(local);
  if (!li) return;  // not one of our bases: answered, nothing more
  // RFC 8445 §7.3.1.3: a source address we do not know is a peer-reflexive candidate.
  auto ri = remote_by_address(remote);
  if (!ri && remote_.size() >= config_.max_remote_candidates) {
    ++counters_.remote_refused;  // answered, but not learnt
    return;
  }
  // A source that answered one of our checks non-symmetrically (RFC 8445 §7.2.5.2.1: that
  // pair failed) is a fresh mapping of a NAT that maps per destination. Its check is worth
  // a triggered check back once (our NAT may keep one mapping towards the peer, and then
  // that pair works); but when our check to such a candidate failed the same way, both
  // NATs map per destination, and each triggered check would leave through a fresh
  // mapping, teach the other side yet another peer-reflexive candidate and so on until
  // both checklists are full, starving the relayed pairs. From the second generation on
  // such a check is answered, not learnt: the lineage stops.
  std::uint8_t generation = 0;
  if (!ri) {
    for (const Stray& s : stray_sources_) {
      if (s.source == remote) generation = std::max(generation, s.generation);
    }
    if (generation >= 2) return;
  }
  bool learned = false;
  if (!ri) {
    Candidate c;
    c.type = CandidateType::prflx;
    c.address = remote;
    c.base = remote;
    c.priority = *priority;
    c.foundation = "prflx" + std::to_string(++prflx_count_);
    remote_.push_back(std::move(c));
    remote_generation_.push_back(generation);
    ri = remote_.size() - 1;
    ++counters_.prflx_remote;
    learned = true;
  }
  const auto pair = checklist_.add(*li, local_[*li], *ri, remote_[*ri], controlling_);
  if (learned) mark_unlikely();  // the peer's NAT may map per destination
  if (!pair) return;
  CandidatePair& p = checklist_[*pair];
  // RFC 8445 §7.3.1.5: USE-CANDIDATE nominates the pair once (or if) its check succeeds.
  if (!controlling_ && m.has(attr::use_candidate)) {
    p.use_candidate_seen = true;
    if (p.state == PairState::succeeded) {
      p.nominated = true;
      select(now, *pair);
    }
  }
  // RFC 8445 §7.3.1.4: a triggered check, unless the pair already succeeded.
  // turn_first: a renomination of a pair not yet valid here is checked after a selection.
  if (p.state != PairState::succeeded &&
      (checking_goes_on() || (config_.relay_first && p.use_candidate_seen))) {
    ++counters_.triggered_checks;
    trigger_check(*pair);
  }
}

// RFC 8445 §7.2.5: the answer to one of our checks.
void Agent::on_response(TimePoint now, const Endpoint& local, const Endpoint& remote,
                        const stun::Message& m) {
  // RFC 8489 §9.1.4: an answer failing MESSAGE-INTEGRITY is discarded as if never received.
  if (m.check_integrity(stun::as_bytes(remote_pwd_)) != stun::IntegrityResult::ok) {
    ++counters_.bad_integrity;
    return;
  }
  ++counters_.responses;
  if (auto t = consent_.take(m.transaction_id())) {
    // RFC 7675 §5.1: an answer from the selected pair renews consent for 30 s.
    if (m.cls() == stun::Class::success && selected_ && *selected_ == t->context.pair &&
        local == t->local && remote == t->remote) {
      consent_expires_ = now + config_.consent_timeout;
    }
    return;
  }
  auto t = checks_.take(m.transaction_id());
  const Check c = t->context;
  // A cancelled check (RFC 8445 §7.3.1.4) was replaced: only its success counts.
  const bool replaced = t->cancelled;
  if (!replaced) --checklist_[c.pair].in_flight;
  // RFC 8445 §7.2.5.2.1: source and destination must be symmetric.
  if (local != t->local || remote != t->remote) {
    if (remote != t->remote && stray_sources_.size() < config_.max_remote_candidates) {
      const std::size_t r = checklist_[c.pair].remote;
      stray_sources_.push_back(
          {remote, static_cast<std::uint8_t>(std::min(remote_generation_[r] + 1, 2))});
    }
    if (!replaced) on_check_failure(now, c.pair);
    return;
  }
  if (m.cls() == stun::Class::error) {
    const auto e = m.error_code();
    // RFC 8445 §7.2.5.1: 487 — take the other role (if still in the one the request
    // claimed) and check the pair again.
    if (e && e->code == kRoleConflict) {
      ++counters_.role_conflicts;
      if (c.controlling == controlling_) switch_role(!c.controlling);
      trigger_check(c.pair);
      return;
    }
    if (!replaced) on_check_failure(now, c.pair);
    return;
  }
  const auto mapped = m.xor_address(attr::xor_mapped_address);
  if (!mapped) {
    if (!replaced) on_check_failure(now, c.pair);
    return;
  }
  // The round trip of this check (from its latest transmission): nomination's measure of
  // how long a reachable pair takes to answer.
  CandidatePair& p = checklist_[c.pair];
  if (!p.rtt) p.rtt = now - t->last_sent;
  on_check_success(now, c.pair, c, *mapped);
}

void Agent::on_check_success(TimePoint now, std::size_t pair, const Check& c,
                             const Endpoint& mapped) {
  CandidatePair& p = checklist_[pair];
  // RFC 8445 §7.2.5.3.1: the mapped address names the local candidate of the valid pair;
  // one we do not know is a peer-reflexive candidate with the priority the check carried.
  std::optional<std::size_t> vl;
  for (std::size_t i = 0; i < local_.size(); ++i) {
    if (local_[i].address == mapped && local_[i].base == p.local_base) vl = i;
  }
  if (!vl) {
    Candidate prflx;
    prflx.type = CandidateType::prflx;
    prflx.address = mapped;
    prflx.base = p.local_base;
    prflx.priority = candidate_priority(CandidateType::prflx, (p.local_priority >> 8) & 0xFFFF, 1);
    prflx.foundation = foundation(CandidateType::prflx, p.local_base.address, std::nullopt);
    local_.push_back(std::move(prflx));  // not signalled (§7.2.5.3.1)
    vl = local_.size() - 1;
    ++counters_.prflx_local;
  }
  if (p.state != PairState::succeeded) checklist_.succeed(pair, *vl);
  if (!first_valid_at_) first_valid_at_ = now;
  if (controlling_ && c.use_candidate) {
    // RFC 8445 §8.1.1: a check with USE-CANDIDATE succeeded — the pair is nominated.
    p.nominated = true;
    select(now, pair);
  } else if (!controlling_ && p.use_candidate_seen) {
    p.nominated = true;
    select(now, pair);
  }
  maybe_nominate(now);
}

void Agent::on_check_failure(TimePoint now, std::size_t pair) {
  CandidatePair& p = checklist_[pair];
  // A pair queued for a triggered check (Waiting) waits for that check's outcome.
  if (p.in_flight <= 0 && p.state == PairState::in_progress) checklist_.fail(pair);
  if (nominating_ && *nominating_ == pair && p.in_flight <= 0) {
    nominating_.reset();
    nominate_due_ = false;
    if (p.state == PairState::succeeded) checklist_.fail(pair);  // nomination got no answer
  }
  maybe_nominate(now);
  maybe_fail(now);
}

// RFC 8445 §8.1.1 leaves regular nomination's stopping criterion to the agent. A pair of
// higher priority than the best valid one holds it only while its success is plausible:
// queued for a triggered check (the peer's check came through on it), or In-Progress
// with its check out for less than nomination_rtt_multiple × the valid pair's round trip
// (a reachable pair, usually the shorter path, would have answered by then) unless its
// success is unlikely (mark_unlikely). A Frozen or Waiting pair nothing triggered does
// not: checks go in priority order, so it is only unchecked because triggered checks or
// likelier pairs went first. At most nomination_wait after the first valid pair.
// Returns when nomination may go if nothing else happens (a time already passed: now),
// or nullopt without a valid pair.
std::optional<TimePoint> Agent::nomination_deadline() const {
  const auto best = checklist_.best_valid();
  if (!best || !first_valid_at_) return std::nullopt;
  // turn_first: the first valid pair goes at once; a better one may replace it later.
  if (config_.relay_first) return *first_valid_at_;
  const CandidatePair& v = checklist_[*best];
  const TimePoint cap = *first_valid_at_ + config_.nomination_wait;
  const Duration window = v.rtt.value_or(config_.ta) * config_.nomination_rtt_multiple;
  TimePoint until = *first_valid_at_;
  for (std::size_t i = 0; i < checklist_.size(); ++i) {
    const CandidatePair& p = checklist_[i];
    if (p.priority <= v.priority) continue;
    if (checklist_.queued(i)) return cap;
    if (p.state == PairState::in_progress && !p.unlikely) {
      until = std::max(until, p.last_check + window);
    }
  }
  TimePoint deadline = std::min(until, cap);
  if (config_.prefer_direct && path_of(*best) == PathType::relay) {
    // A relayed pair waits for every plausible non-relay pair, past the cap: one in
    // progress until its first retransmission could have been answered, one queued for a
    // triggered check until the same from the next check slot.
    // §14.3's RTO grows with the checklist; the peer's first retransmission, which is what
    // opens such a path, comes after RFC 8489's initial RTO at the earliest.
    const Duration rto_cap = config_.check_retransmit.rto;
    const Duration rt =
        std::min(v.rtt.value_or(config_.prefer_direct_rtt), config_.prefer_direct_rtt);
    for (std::size_t i = 0; i < checklist_.size(); ++i) {
      const CandidatePair& p = checklist_[i];
      if (path_of(i) == PathType::relay) continue;
      if (checklist_.queued(i)) {
        deadline = std::max(deadline, next_check_ + std::min(check_rto(), rto_cap) + rt);
      } else if (p.state == PairState::in_progress) {
        deadline = std::max(deadline, p.last_check + std::min(p.last_rto, rto_cap) + rt);
      }
    }
  }
  return deadline;
}

// RFC 8445 §8.1.1: regular nomination — the controlling agent checks its best valid pair
// again, with USE-CANDIDATE; the pair is selected when that check succeeds, one round
// trip later.
void Agent::maybe_nominate(TimePoint now) {
  if (!controlling_ || config_.aggressive_nomination) return;
  if (selected_) {
    if (nominating_ && *nominating_ != *selected_) return;  // a renomination in flight
    // turn_first: a non-relay valid pair replaces the relayed selection with a second
    // nomination. RFC 8445 has no renomination; the controlled side accepts it because it
    // selects a nominated pair of higher priority (see select()).
    if (!checking_goes_on() || state_ != State::connected) return;
    const auto best = checklist_.best_valid();
    if (!best || path_of(*best) == PathType::relay || *best == *selected_) return;
    nominating_ = best;
    send_check(now, *nominating_, Kind::check, true);
    return;
  }
  if (nominating_ || state_ != State::checking) return;
  const auto when = nomination_deadline();
  if (!when || *when > now) return;
  nominating_ = checklist_.best_valid();
  if (config_.pace_nomination) {
    nominate_due_ = true;
    run_checks(now);
  } else {
    send_check(now, *nominating_, Kind::check, true);
  }
}

void Agent::select(TimePoint now, std::size_t pair) {
  if (state_ == State::failed) return;
  if (selected_ &&
      (*selected_ == pair || checklist_[*selected_].priority >= checklist_[pair].priority)) {
    return;
  }
  selected_ = pair;
  state_ = State::connected;
  consent_expires_ = now + config_.consent_timeout;
  next_consent_ = now + consent_jitter();
  last_sent_ = now;
  const CandidatePair& p = checklist_[pair];
  events_.push_back(
      Selected{local_[p.valid_local.value_or(p.local)], remote_[p.remote], path_of(pair)});
}

PathType Agent::path_of(std::size_t pair) const {
  const CandidatePair& p = checklist_[pair];
  const CandidateType l = local_[p.valid_local.value_or(p.local)].type;
  const CandidateType r = remote_[p.remote].type;
  auto either = [&](CandidateType t) { return l == t || r == t; };
  if (either(CandidateType::relay)) return PathType::relay;
  // A port mapping is what let the peer in, whatever address the answer came from.
  if (either(CandidateType::mapped)) return PathType::mapped;
  if (either(CandidateType::prflx)) return PathType::prflx;
  if (either(CandidateType::srflx)) return PathType::srflx;
  return PathType::host;
}

bool Agent::checking_goes_on() const {
  return !selected_ || (config_.relay_first && path_of(*selected_) == PathType::relay);
}

void Agent::switch_role(bool controlling) {
  controlling_ = controlling;
  checklist_.set_role(controlling);  // RFC 8445 §7.3.1.1: priorities computed again
  nominating_.reset();               // only the controlling agent nominates
  nominate_due_ = false;
}

void Agent::maybe_fail(TimePoint now) {
  (void)now;
  if (state_ == State::failed || state_ == State::connected || closed_) return;
  if (!gathering_done_ || !remote_known_ || !remote_end_) return;
  if (!checklist_.finished() || checklist_.best_valid()) return;
  std::string reason;
  if (remote_.empty()) {
    reason = "no remote candidates";
  } else if (checklist_.size() == 0) {
    reason = "no candidate pairs (no common address family)";
  } else {
    reason = "all " + std::to_string(checklist_.size()) + " candidate pairs failed";
  }
  fail(reason + gather_notes_);
}

void Agent::fail(std::string reason) {
  state_ = State::failed;
  selected_.reset();
  checks_.clear();
  consent_.clear();
  wants_tick_ = false;
  events_.push_back(Failed{std::move(reason)});
}

Duration Agent::consent_jitter() {
  // RFC 7675 §5.1: intervals uniformly within ±20% of the configured one.
  const auto base = config_.consent_interval.count();
  if (base <= 0) return config_.keepalive;
  const auto spread = base * 2 / 5;
  return Duration(base - base / 5 +
                  static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(spread) + 1)));
}

void Agent::consent_tick(TimePoint now) {
  if (!selected_ || state_ != State::connected) return;
  if (config_.consent_interval > Duration::zero()) {
    if (now >= consent_expires_) {
      // RFC 7675 §5.1: consent is lost 30 s after the last answer; stop sending.
      fail("consent expired: no answer on the selected pair for " +
           format_duration(config_.consent_timeout));
      return;
    }
    if (now >= next_consent_) {
      send_check(now, *selected_, Kind::consent, false);
      next_consent_ = now + consent_jitter();
    }
  } else if (now >= last_sent_ + config_.keepalive) {
    // RFC 8445 §11: a Binding indication keeps the NAT bindings of the pair alive.
    const CandidatePair& p = checklist_[*selected_];
    std::array<std::uint8_t, stun::kHeaderSize + stun::kFingerprintSize> buf;
    stun::Writer w(buf, stun::method::binding, stun::Class::indication,
                   stun::random_transaction_id(rng_));
    w.add_fingerprint();
    if (const auto bytes = w.finish()) check_out_.push(p.local_base, p.remote_address, *bytes);
    ++counters_.keepalives;
    last_sent_ = now;
  }
}

}  // namespace natsim::traversal::ice
