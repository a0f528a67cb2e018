#include "expectations.hpp"

namespace natsim::scenarios::detail {

using nlohmann::json;

namespace {

std::string number_text(double v) {
  if (v == static_cast<double>(static_cast<long long>(v)))
    return std::to_string(static_cast<long long>(v));
  return json(v).dump();
}

std::string range_text(const Range& r) {
  if (r.min && r.max && *r.min == *r.max) return number_text(*r.min);
  std::string s;
  if (r.min) s += ">= " + number_text(*r.min);
  if (r.max) s += (s.empty() ? "" : " and ") + std::string("<= ") + number_text(*r.max);
  return s;
}

std::optional<double> counter_value(const World& w, const std::string& name,
                                    const std::string& metric, std::string* why) {
  const sim::Counters* c = nullptr;
  nat::NatCounters nc;
  bool is_gateway = false;
  if (name == "network") {
    c = &w.net.counters();
  } else if (sim::Node* n = w.net.find_node(name)) {
    c = &n->counters();
    if (auto it = w.sites.find(name); it != w.sites.end()) {
      nc = it->second.gateway->nat_counters();
      is_gateway = true;
    }
  } else if (sim::Link* l = w.net.find_link(name)) {
    c = &l->counters();
  } else {
    *why = "no node or link named '" + name + "'";
    return std::nullopt;
  }
  if (metric == "sent") return static_cast<double>(c->sent);
  if (metric == "delivered") return static_cast<double>(c->delivered);
  if (metric == "forwarded") return static_cast<double>(c->forwarded);
  if (metric == "dropped") return static_cast<double>(c->total_drops());
  if (metric.starts_with("drops.")) {
    for (std::size_t r = 0; r < sim::kDropReasonCount; ++r) {
      if (metric.substr(6) == sim::to_string(static_cast<sim::DropReason>(r)))
        return static_cast<double>(c->dropped[r]);
    }
  }
  if (is_gateway) {
    if (metric == "nat.outbound") return static_cast<double>(nc.outbound);
    if (metric == "nat.inbound") return static_cast<double>(nc.inbound);
    if (metric == "nat.hairpinned") return static_cast<double>(nc.hairpinned);
    if (metric == "nat.mappings_created") return static_cast<double>(nc.mappings_created);
    if (metric == "nat.mappings_expired") return static_cast<double>(nc.mappings_expired);
    if (metric == "nat.mappings")
      return static_cast<double>(w.sites.at(name).gateway->mappings().size());
    if (metric.starts_with("nat.drops.")) {
      for (std::size_t r = 0; r < nat::kNatDropCount; ++r) {
        if (metric.substr(10) == nat::to_string(static_cast<nat::NatDrop>(r)))
          return static_cast<double>(nc.dropped[r]);
      }
    }
  }
  if (auto it = w.servers.find(name); it != w.servers.end() && it->second.turn) {
    const auto& t = it->second.turn->counters();
    if (metric == "turn.allocations") return static_cast<double>(t.allocations);
    if (metric == "turn.relayed_to_peer") return static_cast<double>(t.relayed_to_peer);
    if (metric == "turn.relayed_to_client") return static_cast<double>(t.relayed_to_client);
    if (metric == "turn.bytes_to_peer") return static_cast<double>(t.bytes_to_peer);
    if (metric == "turn.bytes_to_client") return static_cast<double>(t.bytes_to_client);
    if (metric == "turn.auth_failures") return static_cast<double>(t.auth_failures);
    if (metric == "turn.dropped_no_permission") return static_cast<double>(t.dropped_no_permission);
  }
  *why = "unknown metric '" + metric + "' (sent, delivered, forwarded, dropped, drops.<reason>" +
         std::string(is_gateway ? ", nat.outbound, nat.inbound, nat.hairpinned, nat.mappings, "
                                  "nat.mappings_created, nat.mappings_expired, nat.drops.<reason>"
                                : "") +
         ")";
  return std::nullopt;
}

}  // namespace

ExpectationResult evaluate(const Expectation& e, const World& w,
                           const std::map<std::string, Outcome*>& by_id) {
  ExpectationResult r;
  r.pointer = e.pointer;
  std::vector<std::string> failures;
  std::vector<std::string> checks;
  auto check = [&](bool ok, const std::string& what) {
    checks.push_back(what);
    if (!ok) failures.push_back(what);
  };
  if (!e.counter.empty()) {
    std::string why;
    auto v = counter_value(w, e.counter, e.metric, &why);
    if (!v) {
      r.message = why;
      return r;
    }
    check(e.value->contains(*v), e.counter + " " + e.metric + ": expected " + range_text(*e.value) +
                                     ", got " + number_text(*v));
  } else {
    const Outcome& o = *by_id.at(e.action);
    if (!o.error.empty()) {
      r.message = e.action + ": " + o.error;
      return r;
    }
    if (!o.finished) {
      r.message = e.action + ": did not finish within the run";
      return r;
    }
    if (o.probe) {
      const auto& p = *o.probe;
      if (e.mapping)
        check(std::string(traversal::to_string(p.mapping)) == *e.mapping,
              "mapping: expected " + *e.mapping + ", got " +
                  std::string(traversal::to_string(p.mapping)));
      if (e.filtering)
        check(std::string(traversal::to_string(p.filtering)) == *e.filtering,
              "filtering: expected " + *e.filtering + ", got " +
                  std::string(traversal::to_string(p.filtering)));
      if (e.hairpinning)
        check(p.hairpinning == e.hairpinning,
              std::string("hairpinning: expected ") + (*e.hairpinning ? "true" : "false") +
                  ", got " +
                  (p.hairpinning ? (*p.hairpinning ? "true" : "false") : "undetermined"));
      if (e.lifetime_s) {
        const double got = p.binding_lifetime ? to_seconds(*p.binding_lifetime) : -1;
        check(p.binding_lifetime && e.lifetime_s->contains(got),
              "lifetime_s: expected " + range_text(*e.lifetime_s) + ", got " +
                  (p.binding_lifetime ? json(got).dump() : "undetermined"));
      }
    }
    if (o.binding) {
      const auto& b = *o.binding;
      constexpr const char* kOutcomes[] = {"success", "error", "timeout"};
      const std::string got = kOutcomes[static_cast<int>(b.outcome)];
      if (e.outcome) check(got == *e.outcome, "outcome: expected " + *e.outcome + ", got " + got);
      if (e.rtt_ms)
        check(b.outcome == stun::BindingResult::Outcome::success && e.rtt_ms->contains(ms(b.rtt)),
              "rtt_ms: expected " + range_text(*e.rtt_ms) + ", got " + json(ms(b.rtt)).dump());
      if (e.mapped_changed_from) {
        const Outcome& other = *by_id.at(*e.mapped_changed_from);
        const bool changed = other.binding && other.binding->mapped && b.mapped &&
                             *other.binding->mapped != *b.mapped;
        check(changed,
              "mapped address: expected a change from " + *e.mapped_changed_from + "'s " +
                  (other.binding ? endpoint_json(other.binding->mapped).dump() : "nothing") +
                  ", got " + endpoint_json(b.mapped).dump());
      }
    }
    if (o.relay_outcome && e.outcome) {
      check(*o.relay_outcome == *e.outcome,
            "outcome: expected " + *e.outcome + ", got " + *o.relay_outcome);
    }
    if (e.delivered)
      check(e.delivered->contains(static_cast<double>(o.delivered)),
            "delivered: expected " + range_text(*e.delivered) + ", got " +
                std::to_string(o.delivered));
    if (e.echoed)
      check(e.echoed->contains(static_cast<double>(o.echoed)),
            "echoed: expected " + range_text(*e.echoed) + ", got " + std::to_string(o.echoed));
  }
  r.passed = failures.empty();
  std::string text;
  for (const auto& f : r.passed ? checks : failures)
    text += (text.empty() ? "" : "; ") + f;
  r.message = (e.counter.empty() ? e.action + ": " : "") + text;
  return r;
}

}  // namespace natsim::scenarios::detail
