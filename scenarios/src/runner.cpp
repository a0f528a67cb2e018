#include "natsim/scenarios/runner.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "action_type.hpp"
#include "expectations.hpp"

namespace natsim::scenarios {

using detail::ms;
using detail::Outcome;
using nlohmann::json;

std::string digest_hex(std::uint64_t digest) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(digest));
  return buf;
}

RunResult run_scenario(const Scenario& scenario, std::uint64_t seed, const RunOptions& options) {
  World w(&scenario, seed, options);  // the caller keeps the scenario: no copy per run
  // Echo servers answer, and count what they receive by the payload's first four bytes
  // (send actions tag theirs).
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
  std::vector<Outcome> outcomes(scenario.timeline.size());
  detail::OutcomesById by_id;
  // Without a duration the run lasts from the last action until every action has had
  // time to finish: ten minutes, or the longest any action's type asks for.
  Duration settle = minutes(10);
  for (std::size_t i = 0; i < scenario.timeline.size(); ++i) {
    const Action& a = scenario.timeline[i];
    outcomes[i].action = &a;
    by_id[a.id] = &outcomes[i];
    settle = std::max(settle, a.spec->settle());
    const auto index = static_cast<std::uint32_t>(i);
    (void)w.core->schedule_at(TimePoint{a.at}, [&w, &outcomes, index] {
      Outcome& out = outcomes[index];
      out.started = w.net.now();
      const detail::ActionType& type = *detail::find_action_type(out.action->type);
      out.run = type.start(*out.action->spec, detail::ActionContext{w, out, index});
    });
  }
  const Duration last = scenario.timeline.empty() ? Duration::zero() : scenario.timeline.back().at;
  w.net.run_until(TimePoint{scenario.duration.value_or(last + settle)});

  RunResult result;
  result.file = scenario.file;
  result.name = scenario.name;
  result.variant = scenario.variant;
  result.seed = seed;
  result.simulated = w.net.now().time_since_epoch();
  for (Outcome& o : outcomes) {
    // finish() runs either way: expectations read what it collects.
    if (o.run) o.run->finish(w);
    if (!options.report_actions) continue;
    json a;  // by assignment: initializer lists copy each pair through a temporary array
    a["id"] = o.action->id;
    a["type"] = o.action->type;
    a["at_ms"] = ms(o.action->at);
    a["finished"] = o.finished;
    if (!o.error.empty()) a["error"] = o.error;
    if (o.run) o.run->report(a);
    result.actions.push_back(std::move(a));
  }
  result.passed = true;
  for (const Expectation& e : scenario.expectations) {
    result.expectations.push_back(evaluate(e, w, by_id));
    result.passed = result.passed && result.expectations.back().passed;
  }
  if (options.report_counters) result.counters = counters_report(w);
  w.net.trace().close_log();
  for (auto& c : w.captures)
    c->close();
  result.digest = w.net.trace().digest();
  return result;
}

json counters_report(const World& w) {
  json out = json::object();
  for (const auto& node : w.net.nodes()) {
    const sim::Counters& c = node->counters();
    json& j = out[node->name()];
    j["sent"] = c.sent;
    j["delivered"] = c.delivered;
    j["forwarded"] = c.forwarded;
    for (std::size_t r = 0; r < sim::kDropReasonCount; ++r) {
      if (c.dropped[r] != 0)
        j["drops"][std::string(sim::to_string(static_cast<sim::DropReason>(r)))] = c.dropped[r];
    }
    if (auto it = w.servers.find(node->name()); it != w.servers.end() && it->second.turn) {
      const auto& t = it->second.turn->counters();
      json& turn = j["turn"];
      turn["allocations"] = t.allocations;
      turn["relayed_to_peer"] = t.relayed_to_peer;
      turn["relayed_to_client"] = t.relayed_to_client;
      turn["bytes_to_peer"] = t.bytes_to_peer;
      turn["bytes_to_client"] = t.bytes_to_client;
      turn["auth_failures"] = t.auth_failures;
    }
    if (auto it = w.sites.find(node->name()); it != w.sites.end()) {
      if (const nat::PcpServer* pm = it->second.gateway->port_mapping()) {
        json& m = j["port_mapping"];
        m = json::object();
        for (const auto& [key, value] : nat::port_mapping_metrics(*pm))
          m[key] = value;
      }
      if (const nat::upnp::IgdService* igd = it->second.gateway->upnp()) {
        json m = json::object();
        for (const auto& [key, value] : nat::upnp::igd_metrics(igd->counters()))
          m[key] = value;
        j["upnp"] = m;
      }
    }
  }
  return out;
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
