#include "natsim/traversal/nat_discovery.hpp"

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal {

namespace {
stun::RequestOptions change(bool ip, bool port) {
  stun::RequestOptions o;
  o.change_request = std::pair{ip, port};
  return o;
}
}  // namespace

using stun::BindingResult;
using Outcome = stun::BindingResult::Outcome;

std::string_view to_string(MappingBehavior m) {
  switch (m) {
    case MappingBehavior::undetermined:
      return "undetermined";
    case MappingBehavior::none:
      return "none";
    case MappingBehavior::endpoint_independent:
      return "endpoint-independent";
    case MappingBehavior::address_dependent:
      return "address-dependent";
    case MappingBehavior::address_and_port_dependent:
      return "address-and-port-dependent";
  }
  return "?";
}

std::string_view to_string(FilteringBehavior f) {
  switch (f) {
    case FilteringBehavior::undetermined:
      return "undetermined";
    case FilteringBehavior::endpoint_independent:
      return "endpoint-independent";
    case FilteringBehavior::address_dependent:
      return "address-dependent";
    case FilteringBehavior::address_and_port_dependent:
      return "address-and-port-dependent";
  }
  return "?";
}

NatDiscovery::NatDiscovery(std::uint64_t seed, DiscoveryOptions options)
    : options_(std::move(options)), client_(seed, options_.retransmit) {
  report_.local = options_.local;
}

void NatDiscovery::send(TimePoint now, const Endpoint& local, const Endpoint& server,
                        stun::RequestOptions options) {
  options.software = options_.software;
  pending_ = client_.send_binding(now, local, server, options);
}

void NatDiscovery::start(TimePoint now) {
  started_ = now;
  step_ = Step::test1;
  send(now, options_.local, options_.server);
}

std::optional<TimePoint> NatDiscovery::poll_timeout() const {
  if (step_ == Step::lifetime_wait) return wait_until_;
  return client_.poll_timeout();
}

std::optional<DiscoveryReport> NatDiscovery::poll_event() {
  if (!event_pending_) return std::nullopt;
  event_pending_ = false;
  return report_;
}

bool NatDiscovery::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                   ByteView bytes) {
  if (step_ == Step::hairpin) {
    // §4.5: our own request coming back through the NAT means it hairpins.
    auto m = stun::Message::parse(bytes);
    if (m && m->cls() == stun::Class::request && m->transaction_id() == pending_) {
      client_.cancel(pending_);
      report_.hairpinning = true;
      start_lifetime(now);
      drain(now);
      return true;
    }
  }
  const bool ours = client_.handle_datagram(now, local, remote, bytes);
  drain(now);
  return ours;
}

void NatDiscovery::handle_timeout(TimePoint now) {
  if (step_ == Step::lifetime_wait && now >= wait_until_) {
    step_ = Step::lifetime_check;
    stun::RequestOptions o;
    o.response_port = trial_mapped_->port;
    send(now, *options_.lifetime_local, options_.server, o);
    return;
  }
  client_.handle_timeout(now);
  drain(now);
}

void NatDiscovery::drain(TimePoint now) {
  while (auto r = client_.poll_event()) {
    if (r->transaction == pending_) on_result(now, *r);
  }
}

void NatDiscovery::on_result(TimePoint now, const BindingResult& r) {
  const bool ok = r.outcome == Outcome::success && r.mapped.has_value();
  switch (step_) {
    case Step::test1:
      if (!ok) {
        report_.notes.push_back(r.outcome == Outcome::timeout
                                    ? "no answer from the server: UDP blocked or server down"
                                    : "the server answered Binding with an error");
        return finish(now);
      }
      report_.mapped = r.mapped;
      report_.other_address = r.other_address;
      if (*r.mapped == options_.local) {
        report_.mapping = MappingBehavior::none;
        if (!r.other_address) {
          report_.notes.push_back("the server does not support RFC 5780 (no OTHER-ADDRESS)");
          return finish(now);
        }
        return start_filtering(now);
      }
      if (!r.other_address) {
        report_.notes.push_back("the server does not support RFC 5780 (no OTHER-ADDRESS)");
        return start_hairpin(now);
      }
      // Filtering first: the mapping tests would open permissions for the alternate
      // address and make an address-dependent filter look endpoint-independent.
      return start_filtering(now);
    case Step::mapping2:
      if (!ok) {
        report_.notes.push_back("no answer from the server's alternate address");
        return start_hairpin(now);
      }
      mapped2_ = r.mapped;
      if (*r.mapped == *report_.mapped) {
        report_.mapping = MappingBehavior::endpoint_independent;
        return start_hairpin(now);
      }
      step_ = Step::mapping3;
      return send(now, options_.local, *report_.other_address);  // §4.3 test III
    case Step::mapping3:
      if (!ok) {
        report_.notes.push_back("no answer from the server's alternate address and port");
      } else {
        report_.mapping = *r.mapped == *mapped2_ ? MappingBehavior::address_dependent
                                                 : MappingBehavior::address_and_port_dependent;
      }
      return start_hairpin(now);
    case Step::filtering2:
      if (ok) {
        report_.filtering = FilteringBehavior::endpoint_independent;
        return start_mapping(now);
      }
      if (r.outcome == Outcome::error) {
        report_.notes.push_back("the server refused CHANGE-REQUEST");
        return start_mapping(now);
      }
      step_ = Step::filtering3;
      return send(now, options_.local, options_.server, change(false, true));
    case Step::filtering3:
      if (r.outcome == Outcome::error) {
        report_.notes.push_back("the server refused CHANGE-REQUEST");
      } else {
        report_.filtering = ok ? FilteringBehavior::address_dependent
                               : FilteringBehavior::address_and_port_dependent;
      }
      return start_mapping(now);
    case Step::hairpin:
      // The request's own transaction ended without it coming back.
      report_.hairpinning = false;
      return start_lifetime(now);
    case Step::lifetime_refresh:
      if (!ok) {
        report_.notes.push_back("lifetime test: no answer while refreshing the mapping");
        return finish(now);
      }
      trial_mapped_ = r.mapped;
      step_ = Step::lifetime_wait;
      wait_until_ = now + trial_;
      return;
    case Step::lifetime_check: {
      // §4.6: the answer reaches the first socket only if its mapping survived the wait.
      const bool alive = r.outcome == Outcome::success && r.local == options_.local;
      if (alive) {
        lo_ = trial_;
      } else {
        hi_ = trial_;
      }
      if (alive && trial_ == options_.lifetime_max) {
        report_.binding_lifetime = trial_;
        report_.lifetime_at_least_max = true;
        return finish(now);
      }
      if (hi_ - lo_ <= options_.lifetime_precision) {
        report_.binding_lifetime = lo_;
        return finish(now);
      }
      trial_ = lo_ + (hi_ - lo_) / 2;
      return lifetime_trial(now);
    }
    case Step::idle:
    case Step::lifetime_wait:
    case Step::done:
      return;
  }
}

void NatDiscovery::start_mapping(TimePoint now) {
  if (report_.mapping == MappingBehavior::none) return start_hairpin(now);
  step_ = Step::mapping2;
  // §4.3 test II: the alternate address, the primary port.
  send(now, options_.local, Endpoint{report_.other_address->address, options_.server.port});
}

void NatDiscovery::start_filtering(TimePoint now) {
  if (!report_.other_address) return start_hairpin(now);
  step_ = Step::filtering2;
  // §4.4 test II: ask for the answer from the other address and port.
  send(now, options_.local, options_.server, change(true, true));
}

void NatDiscovery::start_hairpin(TimePoint now) {
  if (!options_.hairpinning || !report_.mapped || report_.mapping == MappingBehavior::none) {
    return start_lifetime(now);
  }
  step_ = Step::hairpin;
  send(now, options_.local, *report_.mapped);
}

void NatDiscovery::start_lifetime(TimePoint now) {
  if (!options_.lifetime_local || !report_.mapped || report_.mapping == MappingBehavior::none) {
    return finish(now);
  }
  lo_ = Duration::zero();
  hi_ = options_.lifetime_max + options_.lifetime_precision;
  trial_ = options_.lifetime_max;  // first see whether the maximum already holds
  lifetime_trial(now);
}

void NatDiscovery::lifetime_trial(TimePoint now) {
  step_ = Step::lifetime_refresh;
  send(now, options_.local, options_.server);
}

void NatDiscovery::finish(TimePoint now) {
  step_ = Step::done;
  report_.elapsed = now - started_;
  event_pending_ = true;
}

}  // namespace natsim::traversal
