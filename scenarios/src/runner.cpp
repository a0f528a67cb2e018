#include "natsim/scenarios/runner.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "natsim/nat_models/nat_behavior_json.hpp"
#include "natsim/scenarios/loader.hpp"
#include "natsim/scenarios/world.hpp"
#include "natsim/traversal/nat_discovery.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/turn_client.hpp"

namespace natsim::scenarios {

using nlohmann::json;
namespace stun = traversal::stun;

namespace {

json endpoint_json(const std::optional<Endpoint>& e) {
  return e ? json(e->to_string()) : json(nullptr);
}

double ms(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}

// What each action produced, filled in as the run goes.
struct Outcome {
  const Action* action;
  bool finished = false;
  TimePoint started;
  TimePoint ended;
  std::optional<traversal::DiscoveryReport> probe;
  std::optional<stun::BindingResult> binding;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // counted by the echo server, read after the run
  std::uint64_t echoed = 0;
  std::string error;  // an action that could not run (e.g. a bind failure)
  // relay actions
  std::optional<std::string> relay_outcome;  // success | error | timeout
  std::optional<Endpoint> relayed;
  std::string relay_detail;  // the TURN error, when the allocation or permission failed
  std::uint64_t relayed_bytes = 0;
  Duration setup{0};
};

// One relay action's machines: the allocating host's TURN client and the peer's STUN
// client (which learns the peer's public address, then hands its socket back).
struct RelayRun {
  std::unique_ptr<traversal::turn::TurnClient> turn;
  std::unique_ptr<SimDriver<traversal::turn::TurnClient>> turn_driver;
  std::unique_ptr<stun::StunClient> stun;
  std::unique_ptr<SimDriver<stun::StunClient>> stun_driver;
  std::optional<Endpoint> peer_mapped;
  bool permission_requested = false;
};

// Owns the machines and drivers started by actions; they live until the run ends.
struct Actors {
  std::vector<std::unique_ptr<traversal::NatDiscovery>> probes;
  std::vector<std::unique_ptr<SimDriver<traversal::NatDiscovery>>> probe_drivers;
  std::vector<std::unique_ptr<stun::StunClient>> clients;
  std::vector<std::unique_ptr<SimDriver<stun::StunClient>>> client_drivers;
  std::vector<std::unique_ptr<RelayRun>> relays;
};

Endpoint server_endpoint(const World& w, const std::string& name) {
  const ServerSpec& s = *w.servers.at(name).spec;
  return Endpoint{s.address, s.port};
}

// Send actions tag their payloads with the action's index so echo servers count them.
constexpr std::uint32_t kTagMagic = 0x6e730000;

void start_action(World& w, Actors& actors, Outcome& out, std::uint32_t index, std::uint64_t seed) {
  const Action& a = *out.action;
  out.started = w.net.now();
  auto bind = [&](sim::Host& h, std::uint16_t port) -> sim::UdpSocket* {
    auto s = h.udp_bind(port);
    if (!s) {
      out.error = "cannot bind UDP port " + std::to_string(port) + " on " + h.name() + ": " +
                  s.error().message();
      out.finished = true;
      return nullptr;
    }
    return *s;
  };
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, ProbeAction>) {
          sim::Host& h = *w.hosts.at(body.host);
          sim::UdpSocket* s = bind(h, 0);
          if (s == nullptr) return;
          traversal::DiscoveryOptions o;
          o.local = Endpoint{*h.address(), s->local().port};
          o.server = server_endpoint(w, body.server);
          std::vector<sim::UdpSocket*> sockets{s};
          if (body.lifetime) {
            sim::UdpSocket* second = bind(h, 0);
            if (second == nullptr) return;
            o.lifetime_local = Endpoint{*h.address(), second->local().port};
            sockets.push_back(second);
          }
          actors.probes.push_back(std::make_unique<traversal::NatDiscovery>(seed ^ index, o));
          auto& machine = *actors.probes.back();
          actors.probe_drivers.push_back(
              std::make_unique<SimDriver<traversal::NatDiscovery>>(h, machine, sockets));
          auto& driver = *actors.probe_drivers.back();
          driver.on_event([&w, &out, &driver](const traversal::DiscoveryReport& r) {
            out.probe = r;
            out.finished = true;
            out.ended = w.net.now();
            driver.close();  // frees the ports for later actions
          });
          machine.start(w.net.now());
          driver.pump();
        } else if constexpr (std::is_same_v<T, BindingAction>) {
          sim::Host& h = *w.hosts.at(body.host);
          sim::UdpSocket* s = bind(h, body.port);
          if (s == nullptr) return;
          actors.clients.push_back(std::make_unique<stun::StunClient>(seed ^ index));
          auto& machine = *actors.clients.back();
          actors.client_drivers.push_back(
              std::make_unique<SimDriver<stun::StunClient>>(h, machine, std::vector{s}));
          auto& driver = *actors.client_drivers.back();
          driver.on_event([&w, &out, &driver](const stun::BindingResult& r) {
            out.binding = r;
            out.finished = true;
            out.ended = w.net.now();
            driver.close();
          });
          machine.send_binding(w.net.now(), Endpoint{*h.address(), s->local().port},
                               server_endpoint(w, body.server));
          driver.pump();
        } else if constexpr (std::is_same_v<T, SendAction>) {
          sim::Host& h = *w.hosts.at(body.host);
          sim::UdpSocket* s = bind(h, body.port);
          if (s == nullptr) return;
          s->on_receive([&out](const sim::Datagram&) { ++out.echoed; });
          const Endpoint to = server_endpoint(w, body.server);
          std::vector<std::uint8_t> payload(body.size, 0);
          const std::uint32_t tag = kTagMagic | index;
          for (int k = 0; k < 4; ++k)
            payload[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(tag >> (24 - 8 * k));
          for (int k = 0; k < body.count; ++k) {
            (void)h.schedule_in(body.interval * k, [&out, s, to, payload] {
              ++out.sent;
              (void)s->send_to(to, payload);
            });
          }
          out.finished = true;  // its numbers are read at the end of the run
        } else if constexpr (std::is_same_v<T, RelayAction>) {
          sim::Host& h = *w.hosts.at(body.host);
          sim::Host& p = *w.hosts.at(body.peer);
          sim::UdpSocket* hs = bind(h, 0);
          sim::UdpSocket* ps = hs == nullptr ? nullptr : bind(p, 0);
          if (ps == nullptr) return;
          const ServerSpec& spec = *w.servers.at(body.server).spec;
          const Endpoint server = Endpoint{spec.address, spec.port};
          actors.relays.push_back(std::make_unique<RelayRun>());
          RelayRun& run = *actors.relays.back();
          traversal::turn::ClientConfig config;
          config.local = Endpoint{*h.address(), hs->local().port};
          config.server = server;
          config.username = body.user;
          config.password = spec.users.at(body.user);
          run.turn = std::make_unique<traversal::turn::TurnClient>(seed ^ index, config);
          run.turn_driver = std::make_unique<SimDriver<traversal::turn::TurnClient>>(
              h, *run.turn, std::vector{hs});
          run.stun = std::make_unique<stun::StunClient>(seed ^ index ^ 0x5a5a);
          run.stun_driver =
              std::make_unique<SimDriver<stun::StunClient>>(p, *run.stun, std::vector{ps});
          const TimePoint started = w.net.now();
          // Once both the relayed address and the peer's public address are known, the
          // host permits the peer, and the peer starts sending to the relayed address.
          auto maybe_permit = [&w, &run]() {
            if (run.permission_requested || !run.peer_mapped || !run.turn->relayed()) return;
            run.permission_requested = true;
            run.turn->create_permission(w.net.now(), run.peer_mapped->address);
            run.turn_driver->pump();
          };
          run.stun_driver->on_event([&, ps, maybe_permit](const stun::BindingResult& r) {
            if (r.outcome != stun::BindingResult::Outcome::success || !r.mapped) {
              out.error = "the peer could not learn its public address from the TURN server";
              out.finished = true;
              return;
            }
            run.peer_mapped = r.mapped;
            run.stun_driver->detach();
            ps->on_receive([&out](const sim::Datagram&) { ++out.echoed; });
            maybe_permit();
          });
          run.turn_driver->on_event([&, ps, started,
                                     maybe_permit](const traversal::turn::ClientEvent& e) {
            if (const auto* allocated = std::get_if<traversal::turn::Allocated>(&e)) {
              out.relayed = allocated->relayed;
              maybe_permit();
            } else if (const auto* f = std::get_if<traversal::turn::Failed>(&e)) {
              if (out.relay_outcome) return;  // a later refresh failing does not change the result
              out.relay_outcome = f->code == 0 ? "timeout" : "error";
              out.relay_detail =
                  f->code == 0 ? "no answer" : std::to_string(f->code) + " " + f->reason;
              out.finished = true;
              out.ended = w.net.now();
            } else if (std::holds_alternative<traversal::turn::PermissionCreated>(e)) {
              if (out.relay_outcome) return;
              out.relay_outcome = "success";
              out.setup = w.net.now() - started;
              out.finished = true;
              out.ended = w.net.now();
              const Endpoint relayed = *out.relayed;
              std::vector<std::uint8_t> payload(body.size, 0x5a);
              for (int k = 0; k < body.count; ++k) {
                (void)p.schedule_in(body.interval * k, [&out, ps, relayed, payload] {
                  ++out.sent;
                  (void)ps->send_to(relayed, payload);
                });
              }
            } else if (const auto* d = std::get_if<traversal::turn::PeerData>(&e)) {
              ++out.delivered;
              out.relayed_bytes += d->data.size();
              run.turn->send(w.net.now(), d->peer, d->data);  // the echo, back through the relay
            }
          });
          run.turn->allocate(w.net.now());
          run.turn_driver->pump();
          run.stun->send_binding(w.net.now(), Endpoint{*p.address(), ps->local().port}, server);
          run.stun_driver->pump();
        } else if constexpr (std::is_same_v<T, LinkAction>) {
          const auto dot = body.target.rfind('.');
          const std::string owner = body.target.substr(0, dot);
          const std::string which = body.target.substr(dot + 1);
          sim::Link* link = which == "link"     ? w.servers.at(owner).link
                            : which == "uplink" ? w.sites.at(owner).uplink
                                                : w.sites.at(owner).lan;
          if (!body.changes.empty())
            link->set_params(parse_link_params(body.changes, a.pointer, link->params()));
          if (body.up) link->set_up(*body.up);
          out.finished = true;
        } else if constexpr (std::is_same_v<T, RebootAction>) {
          const SiteNode& site = w.sites.at(body.site);
          if (body.new_address) site.readdress(*body.new_address);
          site.gateway->reboot(body.downtime, body.new_address);
          out.finished = true;
        } else if constexpr (std::is_same_v<T, ChangeAddressAction>) {
          const SiteNode& site = w.sites.at(body.site);
          site.readdress(body.address);
          site.gateway->change_wan_address(body.address);
          out.finished = true;
        } else if constexpr (std::is_same_v<T, FlushAction>) {
          w.sites.at(body.site).gateway->flush_mappings();
          out.finished = true;
        } else if constexpr (std::is_same_v<T, SetNatAction>) {
          w.sites.at(body.site).gateway->set_behavior(body.nat);
          out.finished = true;
        }
      },
      a.body);
  if (out.finished && out.ended == TimePoint{}) out.ended = w.net.now();
}

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

}  // namespace

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
