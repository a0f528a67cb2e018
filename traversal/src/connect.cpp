#include "natsim/traversal/connect.hpp"

#include <algorithm>

namespace natsim::traversal::connect {

std::string_view to_string(Policy p) {
  switch (p) {
    case Policy::all:
      return "all";
    case Policy::relay_only:
      return "relay_only";
    case Policy::turn_first:
      return "turn_first";
  }
  return "?";
}

std::string_view to_string(PortMapping m) {
  switch (m) {
    case PortMapping::off:
      return "off";
    case PortMapping::automatic:
      return "auto";
    case PortMapping::pcp:
      return "pcp";
    case PortMapping::natpmp:
      return "natpmp";
    case PortMapping::upnp:
      return "upnp";
  }
  return "?";
}

std::string_view to_string(Path p) {
  switch (p) {
    case Path::host:
      return "host";
    case Path::srflx:
      return "srflx";
    case Path::prflx:
      return "prflx";
    case Path::mapped:
      return "mapped";
    case Path::relay:
      return "relay";
  }
  return "?";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::pending:
      return "pending";
    case Outcome::connected:
      return "connected";
    case Outcome::failed:
      return "failed";
    case Outcome::timeout:
      return "timeout";
  }
  return "?";
}

namespace {

Path path_of(ice::PathType p) {
  switch (p) {
    case ice::PathType::host:
      return Path::host;
    case ice::PathType::srflx:
      return Path::srflx;
    case ice::PathType::prflx:
      return Path::prflx;
    case ice::PathType::relay:
      return Path::relay;
    case ice::PathType::mapped:
      return Path::mapped;
  }
  return Path::host;
}

}  // namespace

Connector::Connector(std::uint64_t seed, Config config) : seed_(seed), config_(std::move(config)) {}

Connector::~Connector() = default;

void Connector::start(TimePoint now) {
  if (running_ || closed_) return;
  running_ = true;
  started_ = now;
  last_now_ = now;
  // Both sides ask at once: the answerer's mapping is then ready when the offer comes.
  start_mapping(now);
  if (config_.offerer) begin(now, 1);
  after_input(now);
}

void Connector::close() {
  if (closed_) return;
  closed_ = true;
  if (agent_) agent_->close();
  if (map_state_ == MapState::ready && mapper_) {
    mapper_->remove(last_now_, mapping_id_);  // RFC 6887 §15: lifetime 0 deletes it
  } else {
    mapper_.reset();
  }
}

// RFC 8445 §9: a restart (any generation after the first) is a new agent: new ufrag and
// password, a new gathering and a new checklist. The role stays the configured one.
void Connector::begin(TimePoint now, std::uint32_t generation) {
  generation_ = generation;
  described_ = false;
  gathered_ = false;
  remote_applied_ = false;
  selected_ = false;
  pending_local_.clear();
  early_remote_.clear();
  early_end_ = false;
  ice::AgentConfig c;
  c.controlling = config_.offerer;
  c.ta = config_.ta;
  c.aggressive_nomination = config_.aggressive_nomination;
  c.relay_first = config_.policy == Policy::turn_first;
  c.turn = config_.turn;
  // Relayed candidates only (a TURN-only transport policy): no host sockets paired and no
  // server-reflexive gathering; the TURN client still sends from its host socket.
  if (config_.policy != Policy::relay_only) {
    c.host = config_.host;
    c.stun_server = config_.stun_server;
  }
  // A mapping asked for or granted: its candidate comes from here, after gather().
  const bool mapping = map_state_ == MapState::pending || map_state_ == MapState::ready;
  if (mapping) c.external_sources = 1;
  std::uint64_t mix = seed_ ^ generation;
  consent_timeout_ = c.consent_timeout;
  agent_ = std::make_unique<ice::Agent>(splitmix64(mix), std::move(c));
  if (generation > 1) ++result_.restarts;
  agent_->gather(now);
  agent_waits_mapping_ = mapping;
  if (map_state_ == MapState::ready) offer_mapping(now);
}

bool Connector::signalled(const ice::Candidate& c) const {
  return config_.policy != Policy::relay_only || c.type == ice::CandidateType::relay;
}

void Connector::describe(TimePoint now) {
  Description d;
  d.generation = generation_;
  d.ufrag = agent_->ufrag();
  d.pwd = agent_->pwd();
  d.candidates = pending_local_;
  d.end_of_candidates = gathered_;
  pending_local_.clear();
  described_ = true;
  if (generation_ == 1 && !result_.times.description_sent)
    result_.times.description_sent = since_start(now);
  ++result_.signals_sent;
  events_.push_back(SendSignal{std::move(d)});
}

void Connector::apply_remote(TimePoint now, const Description& d) {
  std::vector<ice::Candidate> cs;
  for (const ice::Candidate& c : d.candidates) {
    if (signalled(c)) cs.push_back(c);
  }
  agent_->set_remote(now, d.ufrag, d.pwd, cs, d.end_of_candidates);
  remote_applied_ = true;
  for (const ice::Candidate& c : early_remote_)
    agent_->add_remote_candidate(now, c);
  early_remote_.clear();
  if (early_end_) agent_->end_of_remote_candidates(now);
}

void Connector::handle_signal(TimePoint now, const Signal& s) {
  last_now_ = now;
  if (!running_ || closed_) return;
  if (const auto* d = std::get_if<Description>(&s)) {
    if (d->generation == 1 && !result_.times.description_received)
      result_.times.description_received = since_start(now);
    // A newer generation is the first offer (answerer) or the other side's restart.
    if (d->generation > generation_) begin(now, d->generation);
    if (d->generation == generation_ && !remote_applied_) apply_remote(now, *d);
  } else if (const auto* t = std::get_if<TrickledCandidate>(&s)) {
    if (t->generation == generation_ && signalled(t->candidate)) {
      if (remote_applied_) {
        agent_->add_remote_candidate(now, t->candidate);
      } else {
        early_remote_.push_back(t->candidate);
      }
    }
  } else if (const auto* e = std::get_if<EndOfCandidates>(&s)) {
    if (e->generation == generation_) {
      if (remote_applied_) {
        agent_->end_of_remote_candidates(now);
      } else {
        early_end_ = true;
      }
    }
  }
  after_input(now);
}

bool Connector::send(TimePoint now, ByteView data) {
  last_now_ = now;
  return agent_ && !closed_ && agent_->send(now, data);
}

bool Connector::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                ByteView bytes) {
  last_now_ = now;
  // PCP / NAT-PMP answers come from the gateway's port 5351, SSDP's from its port 1900.
  if (mapper_ && config_.gateway &&
      (remote == *config_.gateway ||
       (mapper_upnp_ && remote.address == config_.gateway->address))) {
    const bool mine = mapper_->handle_datagram(now, local, remote, bytes);
    drain_mapper(now);
    if (!closed_) after_input(now);
    return mine;
  }
  if (!agent_ || closed_) return false;
  const bool mine = agent_->handle_datagram(now, local, remote, bytes);
  after_input(now);
  return mine;
}

void Connector::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                              ByteView bytes) {
  last_now_ = now;
  if (!mapper_) return;
  mapper_->handle_stream(now, local, remote, bytes);
  drain_mapper(now);
  if (!closed_) after_input(now);
}

void Connector::handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote) {
  last_now_ = now;
  if (!mapper_) return;
  mapper_->handle_stream_closed(now, local, remote);
  drain_mapper(now);
  if (!closed_) after_input(now);
}

void Connector::handle_timeout(TimePoint now) {
  last_now_ = now;
  if (mapper_) {
    mapper_->handle_timeout(now);
    drain_mapper(now);
  }
  if (closed_) return;
  if (map_state_ == MapState::pending && now >= map_deadline_) {
    give_up_mapping(
        now, "no answer from the gateway within " + format_duration(config_.port_mapping_wait));
    mapper_.reset();  // nothing granted: stop asking (a late grant would go unused)
  }
  if (result_.outcome == Outcome::pending && running_ && now >= started_ + config_.timeout) {
    result_.outcome = Outcome::timeout;
    result_.reason = "no pair selected within " + format_duration(config_.timeout);
    events_.push_back(Failed{result_.reason});
    close();
    return;
  }
  if (agent_) agent_->handle_timeout(now);
  after_input(now);
  if (const auto silent = silence_deadline(); silent && now >= *silent) {
    lose_consent(now, "no answer on the selected pair for " +
                          format_duration(config_.restart_after_silence));
    after_input(now);
  }
}

std::optional<TimePoint> Connector::silence_deadline() const {
  if (config_.restart_after_silence <= Duration::zero() || !config_.restart || closed_ ||
      !selected_ || !agent_ || agent_->state() != ice::Agent::State::connected) {
    return std::nullopt;
  }
  // consent_expires() is the last answer (or the selection) plus the consent timeout.
  return agent_->consent_expires() - consent_timeout_ + config_.restart_after_silence;
}

void Connector::lose_consent(TimePoint now, const std::string& reason) {
  if (!result_.consent_lost) result_.consent_lost = since_start(now);
  events_.push_back(ConsentLost{reason});
  // RFC 8445 §9: restart; the description leaves once drained (trickle) or gathered.
  if (config_.restart) begin(now, generation_ + 1);
}

void Connector::after_input(TimePoint now) {
  // The agent may be replaced (a restart) while its events are handled: poll the
  // current one until it is quiet.
  while (agent_) {
    auto e = agent_->poll_event();
    if (!e) break;
    on_agent_event(now, *e);
  }
  if (!agent_) return;
  if (config_.trickle && !described_ && !closed_) describe(now);
  if (generation_ == 1) {
    Breakdown& t = result_.times;
    if (!t.first_check && agent_->counters().checks_sent > 0) t.first_check = since_start(now);
    if (!t.first_success && agent_->checklist().best_valid()) t.first_success = since_start(now);
  }
}

void Connector::on_agent_event(TimePoint now, const ice::Event& e) {
  if (const auto* lc = std::get_if<ice::LocalCandidate>(&e)) {
    if (!signalled(lc->candidate)) return;
    if (!described_) {
      pending_local_.push_back(lc->candidate);
    } else if (config_.trickle) {
      ++result_.signals_sent;
      events_.push_back(SendSignal{TrickledCandidate{generation_, lc->candidate}});
    }
  } else if (const auto* g = std::get_if<ice::GatheringDone>(&e)) {
    gathered_ = true;
    if (generation_ == 1 && !result_.times.gathering) result_.times.gathering = since_start(now);
    if (!config_.trickle) {
      pending_local_.clear();
      for (const ice::Candidate& c : g->candidates) {
        if (signalled(c)) pending_local_.push_back(c);
      }
      describe(now);
    } else if (described_) {
      ++result_.signals_sent;
      events_.push_back(SendSignal{EndOfCandidates{generation_}});  // RFC 8838 §4.4
    }
  } else if (const auto* s = std::get_if<ice::Selected>(&e)) {
    const bool first_in_generation = !selected_;
    selected_ = true;
    const Path before = result_.path.value_or(Path::relay);
    result_.path = path_of(s->path);
    if (!result_.first_path) result_.first_path = result_.path;
    if (generation_ == 1 && !first_in_generation && before == Path::relay &&
        *result_.path != Path::relay && !result_.upgraded) {
      result_.upgraded = since_start(now);
    }
    result_.local = s->local;
    result_.remote = s->remote;
    if (generation_ == 1) {
      if (!result_.times.selected) result_.times.selected = since_start(now);
    } else if (first_in_generation) {
      result_.reconnected = since_start(now);
    }
    if (result_.outcome == Outcome::pending) result_.outcome = Outcome::connected;
    events_.push_back(Connected{*result_.path, s->local, s->remote, generation_});
  } else if (const auto* f = std::get_if<ice::Failed>(&e)) {
    if (selected_) {
      lose_consent(now, f->reason);  // RFC 7675 §5.1: consent lost on the selected pair
      return;
    }
    if (result_.outcome == Outcome::pending) {
      result_.outcome = Outcome::failed;
      result_.reason = f->reason;
      events_.push_back(Failed{f->reason});
    } else {
      result_.reason = "after a restart: " + f->reason;
    }
  } else if (const auto* d = std::get_if<ice::Data>(&e)) {
    if (!result_.times.first_data) result_.times.first_data = since_start(now);
    events_.push_back(Data{d->from, std::vector<std::uint8_t>(d->bytes.begin(), d->bytes.end())});
  }
}

std::optional<Transmit> Connector::poll_transmit(MutableByteView out) {
  if (agent_) {
    if (auto t = agent_->poll_transmit(out)) return t;
  }
  if (mapper_) return mapper_->poll_transmit(out);
  return std::nullopt;
}

std::optional<TimePoint> Connector::poll_timeout() const {
  std::optional<TimePoint> m = mapper_ ? mapper_->poll_timeout() : std::nullopt;
  if (closed_) return m;  // the deletion's retransmissions
  if (map_state_ == MapState::pending && (!m || map_deadline_ < *m)) m = map_deadline_;
  std::optional<TimePoint> t = agent_ ? agent_->poll_timeout() : std::nullopt;
  if (m && (!t || *m < *t)) t = m;
  if (running_ && result_.outcome == Outcome::pending) {
    const TimePoint deadline = started_ + config_.timeout;
    if (!t || deadline < *t) t = deadline;
  }
  if (const auto silent = silence_deadline(); silent && (!t || *silent < *t)) t = silent;
  return t;
}

std::optional<Event> Connector::poll_event() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace natsim::traversal::connect
