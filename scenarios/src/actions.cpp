#include "actions.hpp"

#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios::detail {

namespace {

Endpoint server_endpoint(const World& w, const std::string& name) {
  const ServerSpec& s = *w.servers.at(name).spec;
  return Endpoint{s.address, s.port};
}

// Send actions tag their payloads with the action's index so echo servers count them.
}  // namespace

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

}  // namespace natsim::scenarios::detail
