#include "natsim/traversal/nat_discovery.hpp"

#include <utility>

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
  if (step_ == Step::lifetime_wait || step_ == Step::promotion_wait) return wait_until_;
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
    return check_mapping(now);
  }
  if (step_ == Step::promotion_wait && now >= wait_until_) {
    step_ = Step::promotion_check;
    return check_mapping(now);
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
      if (!ok && r.outcome == Outcome::timeout && !options_.software.empty()) {
        // Some RFC 3489 servers drop a whole request whose text attribute they cannot
        // parse (stund 0.97 wants lengths in multiples of 4, RFC 3489 §11.2.6): ask once
        // more without SOFTWARE before calling the server unreachable.
        software_tried_ = std::exchange(options_.software, std::string{});
        step_ = Step::test1_bare;
        return send(now, options_.local, options_.server);
      }
      [[fallthrough]];
    case Step::test1_bare:
      if (!ok) {
        report_.notes.push_back(
            r.outcome == Outcome::timeout
                ? "no answer from the server: UDP blocked or server down" +
                      std::string(software_tried_.empty() ? "" : " (also without SOFTWARE)")
                : "the server answered Binding with an error");
        return finish(now);
      }
      if (step_ == Step::test1_bare) {
        report_.notes.push_back(
            "the server answered nothing to a Binding request with SOFTWARE \"" + software_tried_ +
            "\" but answered one without it: it may reject the attribute (RFC 3489 servers "
            "such as stund 0.97 want text lengths in multiples of 4); the tests ran without "
            "SOFTWARE (--software \"\" skips this retry)");
      }
      return test1_answered(now, r);
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
      if (options_.lifetime_fresh_locals.empty()) {
        // One socket for every trial: say when the trials did not all see one mapping
        // (a failed trial's late answer can leave NAT state that blocks the old port)...
        if (!first_trial_mapped_) {
          first_trial_mapped_ = r.mapped;
        } else if (*r.mapped != *first_trial_mapped_ && !mapping_changed_noted_) {
          mapping_changed_noted_ = true;
          report_.notes.push_back("lifetime test: the mapped address changed between trials (" +
                                  first_trial_mapped_->to_string() + " then " +
                                  r.mapped->to_string() +
                                  "): the NAT gave a new port after a trial expired; the trials "
                                  "measured different flows");
        }
        // ...or reused a flow that has already survived a wait with two-way traffic.
        if (alive_mapped_ && *alive_mapped_ == *r.mapped) reused_after_alive_ = true;
      }
      step_ = Step::lifetime_wait;
      wait_until_ = now + trial_;
      return;
    case Step::lifetime_check: {
      // §4.6: the answer reaches the trial's socket only if its mapping survived the wait.
      const bool alive = r.outcome == Outcome::success && r.local == trial_local_;
      if (alive) {
        lo_ = trial_;
        alive_mapped_ = trial_mapped_;
        alive_local_ = trial_local_;
        if (!first_alive_) first_alive_ = trial_;
      } else {
        hi_ = trial_;
      }
      if (alive && trial_ == options_.lifetime_max) {
        report_.binding_lifetime = trial_;
        report_.lifetime_at_least_max = true;
        return lifetime_found(now);
      }
      if (hi_ - lo_ <= options_.lifetime_precision) {
        report_.binding_lifetime = lo_;
        return lifetime_found(now);
      }
      trial_ = lo_ + (hi_ - lo_) / 2;
      return lifetime_trial(now);
    }
    case Step::promotion_refresh:
      if (!ok) {
        report_.notes.push_back("lifetime test: no answer while refreshing an established flow");
        return finish(now);
      }
      trial_mapped_ = r.mapped;
      step_ = Step::promotion_wait;
      wait_until_ = now + trial_;
      return;
    case Step::promotion_check: {
      const bool alive = r.outcome == Outcome::success && r.local == trial_local_;
      report_.established_flow_outlived_fresh = alive;
      if (alive) {
        report_.notes.push_back(
            "lifetime test: a flow that had already carried two-way traffic survived " +
            format_duration(trial_) + " idle, longer than a fresh flow's " +
            format_duration(*report_.binding_lifetime) +
            ": the NAT promotes established flows to a longer timer (as Linux conntrack "
            "does once a UDP flow is assured); a keepalive must beat the fresh flow's");
      }
      return finish(now);
    }
    case Step::idle:
    case Step::lifetime_wait:
    case Step::promotion_wait:
    case Step::done:
      return;
  }
}

void NatDiscovery::test1_answered(TimePoint now, const BindingResult& r) {
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
  report_.lifetime_of_fresh_flow = !options_.lifetime_fresh_locals.empty();
  lifetime_trial(now);
}

void NatDiscovery::lifetime_trial(TimePoint now) {
  step_ = Step::lifetime_refresh;
  trial_local_ = options_.local;
  const auto& fresh = options_.lifetime_fresh_locals;
  if (!fresh.empty()) {
    if (fresh_used_ < fresh.size()) {
      trial_local_ = fresh[fresh_used_++];
    } else {
      trial_local_ = fresh.back();
      if (report_.lifetime_of_fresh_flow) {
        report_.lifetime_of_fresh_flow = false;
        report_.notes.push_back("lifetime test: more trials than fresh sockets (" +
                                std::to_string(fresh.size()) + "); the last ones reused a flow");
      }
    }
  }
  send(now, trial_local_, options_.server);
}

void NatDiscovery::lifetime_found(TimePoint now) {
  if (options_.lifetime_fresh_locals.empty()) {
    if (reused_after_alive_ && first_alive_) {
      report_.notes.push_back(
          "lifetime test: after a check was answered at " + format_duration(*first_alive_) +
          " idle, later trials reused that flow; a NAT that promotes flows with two-way traffic "
          "(Linux conntrack: 30 s, 120 s once assured) may have given them a longer timer, so "
          "a fresh flow's lifetime may be shorter (fresh sockets per trial measure it)");
    }
    return finish(now);
  }
  report_.notes.push_back("lifetime test: every trial used a fresh flow; " +
                          format_duration(*report_.binding_lifetime) +
                          " is a new flow's lifetime, which a keepalive must beat");
  if (report_.lifetime_at_least_max || !alive_local_) return finish(now);
  // Does a flow that has carried two-way traffic outlive a fresh one? Refresh the last
  // surviving flow and idle past the fresh-flow bound before checking it.
  trial_local_ = *alive_local_;
  trial_ = hi_ + options_.lifetime_precision;
  step_ = Step::promotion_refresh;
  send(now, trial_local_, options_.server);
}

void NatDiscovery::check_mapping(TimePoint now) {
  stun::RequestOptions o;
  o.response_port = trial_mapped_->port;
  send(now, *options_.lifetime_local, options_.server, o);
}

void NatDiscovery::finish(TimePoint now) {
  step_ = Step::done;
  report_.elapsed = now - started_;
  event_pending_ = true;
}

}  // namespace natsim::traversal
