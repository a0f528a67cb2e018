#include "natsim/scenarios/runner.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "actions.hpp"
#include "expectations.hpp"

namespace natsim::scenarios {

using detail::Actors;
using detail::endpoint_json;
using detail::kTagMagic;
using detail::ms;
using detail::Outcome;
using nlohmann::json;

std::string digest_hex(std::uint64_t digest) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(digest));
  return buf;
}

RunResult run_scenario(const Scenario& scenario, std::uint64_t seed, const RunOptions& options) {
  World w(scenario, seed, options);
  // Echo servers answer and count what each send action delivered.
  for (auto& [name, node] : w.servers) {
    if (node.spec->kind != ServerKind::echo) continue;
    sim::UdpSocket* s = node.host->udp_bind(Endpoint{node.spec->address, node.spec->port}).value();
    ServerNode* n = &node;
    s->on_receive([n, s](const sim::Datagram& d) {
      if (d.payload.size() >= 4) {
        const std::uint32_t tag = (std::uint32_t{d.payload[0]} << 24) |
                                  (std::uint32_t{d.payload[1]} << 16) |
                                  (std::uint32_t{d.payload[2]} << 8) | d.payload[3];
        ++n->echo_received[tag];
      }
      (void)s->send_to(d.from, d.payload);
    });
  }
  Actors actors;
  std::vector<Outcome> outcomes(scenario.timeline.size());
  std::map<std::string, Outcome*> by_id;
  for (std::size_t i = 0; i < scenario.timeline.size(); ++i) {
    outcomes[i].action = &scenario.timeline[i];
    by_id[scenario.timeline[i].id] = &outcomes[i];
    const auto index = static_cast<std::uint32_t>(i);
    (void)w.core->schedule_at(TimePoint{scenario.timeline[i].at},
                              [&w, &actors, &outcomes, index, seed] {
                                start_action(w, actors, outcomes[index], index, seed);
                              });
  }
  const Duration last = scenario.timeline.empty() ? Duration::zero() : scenario.timeline.back().at;
  // Without a duration the run lasts until every action has had ten minutes to finish
  // (an hour more when a probe searches for the binding lifetime).
  const bool lifetime =
      std::any_of(scenario.timeline.begin(), scenario.timeline.end(), [](const Action& a) {
        const auto* p = std::get_if<ProbeAction>(&a.body);
        return p != nullptr && p->lifetime;
      });
  w.net.run_until(TimePoint{scenario.duration.value_or(last + minutes(lifetime ? 70 : 10))});

  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (const auto* send = std::get_if<SendAction>(&outcomes[i].action->body)) {
      const auto& counts = w.servers.at(send->server).echo_received;
      auto it = counts.find(kTagMagic | static_cast<std::uint32_t>(i));
      outcomes[i].delivered = it == counts.end() ? 0 : it->second;
    }
  }

  RunResult result;
  result.file = scenario.file;
  result.name = scenario.name;
  result.variant = scenario.variant;
  result.seed = seed;
  result.simulated = w.net.now().time_since_epoch();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    json a{{"id", o.action->id}, {"at_ms", ms(o.action->at)}, {"finished", o.finished}};
    if (!o.error.empty()) a["error"] = o.error;
    if (o.probe) {
      const auto& p = *o.probe;
      a["type"] = "probe";
      a["mapping"] = traversal::to_string(p.mapping);
      a["filtering"] = traversal::to_string(p.filtering);
      a["hairpinning"] = p.hairpinning ? json(*p.hairpinning) : json(nullptr);
      a["mapped"] = endpoint_json(p.mapped);
      if (p.binding_lifetime) a["binding_lifetime_s"] = to_seconds(*p.binding_lifetime);
      a["setup_ms"] = ms(p.elapsed);
      a["notes"] = p.notes;
    } else if (o.binding) {
      constexpr const char* kOutcomes[] = {"success", "error", "timeout"};
      a["type"] = "binding";
      a["outcome"] = kOutcomes[static_cast<int>(o.binding->outcome)];
      a["mapped"] = endpoint_json(o.binding->mapped);
      a["rtt_ms"] = ms(o.binding->rtt);
      a["transmissions"] = o.binding->transmissions;
    } else if (std::holds_alternative<RelayAction>(o.action->body)) {
      a["type"] = "relay";
      a["path"] = "relay";
      a["outcome"] = o.relay_outcome.value_or("timeout");
      a["relayed"] = endpoint_json(o.relayed);
      a["setup_ms"] = ms(o.setup);
      a["sent"] = o.sent;
      a["delivered"] = o.delivered;
      a["echoed"] = o.echoed;
      a["relayed_bytes"] = o.relayed_bytes;
      if (!o.relay_detail.empty()) a["detail"] = o.relay_detail;
    } else if (std::holds_alternative<SendAction>(o.action->body)) {
      a["type"] = "send";
      a["sent"] = o.sent;
      a["delivered"] = o.delivered;
      a["echoed"] = o.echoed;
    }
    result.actions.push_back(std::move(a));
  }
  result.passed = true;
  for (const Expectation& e : scenario.expectations) {
    result.expectations.push_back(evaluate(e, w, by_id));
    result.passed = result.passed && result.expectations.back().passed;
  }
  for (const auto& node : w.net.nodes()) {
    const sim::Counters& c = node->counters();
    json j{{"sent", c.sent}, {"delivered", c.delivered}, {"forwarded", c.forwarded}};
    json drops = json::object();
    for (std::size_t r = 0; r < sim::kDropReasonCount; ++r) {
      if (c.dropped[r] != 0)
        drops[std::string(sim::to_string(static_cast<sim::DropReason>(r)))] = c.dropped[r];
    }
    if (!drops.empty()) j["drops"] = drops;
    if (auto it = w.servers.find(node->name()); it != w.servers.end() && it->second.turn) {
      const auto& t = it->second.turn->counters();
      j["turn"] = {{"allocations", t.allocations},
                   {"relayed_to_peer", t.relayed_to_peer},
                   {"relayed_to_client", t.relayed_to_client},
                   {"bytes_to_peer", t.bytes_to_peer},
                   {"bytes_to_client", t.bytes_to_client},
                   {"auth_failures", t.auth_failures}};
    }
    result.counters[node->name()] = j;
  }
  w.net.trace().close_log();
  for (auto& c : w.captures)
    c->close();
  result.digest = w.net.trace().digest();
  return result;
}

json to_json(const RunResult& r) {
  json expectations = json::array();
  for (const auto& e : r.expectations) {
    expectations.push_back({{"pointer", e.pointer}, {"passed", e.passed}, {"message", e.message}});
  }
  return json{{"file", r.file},
              {"name", r.name},
              {"variant", r.variant},
              {"seed", r.seed},
              {"passed", r.passed},
              {"digest", digest_hex(r.digest)},
              {"simulated_ms", ms(r.simulated)},
              {"expectations", expectations},
              {"actions", r.actions},
              {"counters", r.counters}};
}

}  // namespace natsim::scenarios
