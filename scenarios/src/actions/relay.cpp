// relay: `host` allocates on a TURN server and permits `peer`, which learnt its own
// public address with a Binding to the same server; the peer sends datagrams to the
// relayed address and `host` echoes each back through the relay. With transport "tcp"
// the host speaks to the server over TCP (RFC 8656 §3.1); the relay to the peer is UDP.
#include "../action_type.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "traffic.hpp"

namespace natsim::scenarios::detail {

namespace {

namespace stun = traversal::stun;
namespace turn = traversal::turn;

struct Relay final : ActionSpec {
  std::string host;
  std::string peer;
  std::string server;
  std::string user;
  Traffic traffic;
  bool tcp = false;
};

struct RelayCheck final : ActionCheck {
  std::optional<std::string> outcome;
  EchoCheck echoes;
  std::optional<Range> setup_ms;
};

// The allocating host's TURN client, and the peer's STUN client (which learns the peer's
// public address, then hands its socket back).
class RelayRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    a["path"] = "relay";
    a["outcome"] = outcome.value_or("timeout");
    a["relayed"] = endpoint_json(relayed);
    a["setup_ms"] = ms(setup);
    a["sent"] = sent;
    a["delivered"] = delivered;
    a["echoed"] = echoed;
    a["relayed_bytes"] = relayed_bytes;
    if (tcp) a["transport"] = "tcp";
    if (!detail.empty()) a["detail"] = detail;
  }
  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    const auto& e = as<RelayCheck>(c);
    if (e.outcome && outcome) {
      checks.check(*outcome == *e.outcome, "outcome: expected " + *e.outcome + ", got " + *outcome);
    }
    check_echoes(e.echoes, delivered, echoed, checks);
    if (e.setup_ms) checks.check_range("setup_ms", *e.setup_ms, ms(setup));
  }

  // Once both the relayed address and the peer's public address are known, the host
  // permits the peer.
  void maybe_permit(TimePoint now) {
    if (permission_requested || !peer_mapped || !turn->relayed()) return;
    permission_requested = true;
    turn->create_permission(now, peer_mapped->address);
    turn_driver->pump();
  }

  std::unique_ptr<turn::TurnClient> turn;
  std::unique_ptr<SimDriver<turn::TurnClient>> turn_driver;
  std::unique_ptr<stun::StunClient> stun;
  std::unique_ptr<SimDriver<stun::StunClient>> stun_driver;
  std::optional<Endpoint> peer_mapped;
  bool permission_requested = false;
  bool tcp = false;

  std::optional<std::string> outcome;  // success | error | timeout
  std::optional<Endpoint> relayed;
  std::string detail;  // the TURN error, when the allocation or permission failed
  Duration setup{0};
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // at the host, through the relay
  std::uint64_t echoed = 0;     // back at the peer
  std::uint64_t relayed_bytes = 0;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto x = std::make_shared<Relay>();
  x->host = names.require(r.at("host"), "host");
  x->peer = names.require(r.at("peer"), "host");
  if (x->peer == x->host) r.at("peer").fail("the peer must be another host");
  x->server = names.require_server(r.at("server"), ServerKind::turn);
  x->user = r.at("user").string();
  if (!names.turn_users.at(x->server).contains(x->user)) {
    r.at("user").fail("no user '" + x->user + "' on TURN server '" + x->server + "'");
  }
  x->traffic = parse_traffic(r, Traffic{.count = 10}, 1, 1200);
  if (auto f = r.get("transport")) x->tcp = one_of(*f, {"udp", "tcp"}) == "tcp";
  return x;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<RelayCheck>();
  if (auto f = r.get("outcome")) e->outcome = one_of(*f, {"success", "error", "timeout"});
  e->echoes = parse_echo_check(r);
  if (auto f = r.get("setup_ms")) e->setup_ms = parse_range(*f);
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Relay>(spec);
  auto run = std::make_unique<RelayRun>();
  World& w = ctx.world;
  sim::Host& h = w.host(body.host);
  sim::Host& p = w.host(body.peer);
  sim::UdpSocket* hs = ctx.bind(h, 0);
  sim::UdpSocket* ps = hs == nullptr ? nullptr : ctx.bind(p, 0);
  if (ps == nullptr) return run;
  const ServerSpec& server = *w.servers.at(body.server).spec;
  turn::ClientConfig config;
  config.local = Endpoint{*h.address(hs->local().address.family()), hs->local().port};
  config.server = w.server(body.server);
  config.username = body.user;
  config.password = server.users.at(body.user);
  RelayRun* r = run.get();
  r->tcp = body.tcp;
  std::vector<sim::UdpSocket*> host_sockets{hs};
  if (body.tcp) {
    // The driver connects from the same port number on the first Allocate; the UDP
    // socket only picked it.
    config.transport = traversal::Transport::tcp;
    host_sockets.clear();
    hs->close();
  }
  r->turn = std::make_unique<turn::TurnClient>(ctx.seed("turn"), config);
  r->turn_driver = std::make_unique<SimDriver<turn::TurnClient>>(h, *r->turn, host_sockets);
  r->stun = std::make_unique<stun::StunClient>(ctx.seed("stun"));
  r->stun_driver = std::make_unique<SimDriver<stun::StunClient>>(p, *r->stun, std::vector{ps});
  const TimePoint started = w.net.now();
  r->stun_driver->on_event([ctx, r, ps](const stun::BindingResult& b) {
    if (b.outcome != stun::BindingResult::Outcome::success || !b.mapped) {
      ctx.out.error = "the peer could not learn its public address from the TURN server";
      ctx.finish();
      return;
    }
    r->peer_mapped = b.mapped;
    r->stun_driver->detach();
    ps->on_receive([r](const sim::Datagram&) { ++r->echoed; });
    r->maybe_permit(ctx.world.net.now());
  });
  const Traffic traffic = body.traffic;
  r->turn_driver->on_event([ctx, r, ps, &p, started, traffic](const turn::ClientEvent& e) {
    const TimePoint now = ctx.world.net.now();
    if (const auto* allocated = std::get_if<turn::Allocated>(&e)) {
      r->relayed = allocated->relayed;
      r->maybe_permit(now);
    } else if (const auto* f = std::get_if<turn::Failed>(&e)) {
      if (r->outcome) return;  // a later refresh failing does not change the result
      r->outcome = f->code == 0 ? "timeout" : "error";
      r->detail = f->code == 0 ? "no answer" : std::to_string(f->code) + " " + f->reason;
      ctx.finish();
    } else if (std::holds_alternative<turn::PermissionCreated>(e)) {
      if (r->outcome) return;
      r->outcome = "success";
      r->setup = now - started;
      ctx.finish();
      // The peer starts sending to the relayed address.
      const Endpoint relayed = *r->relayed;
      std::vector<std::uint8_t> payload(traffic.size, 0x5a);
      for (int k = 0; k < traffic.count; ++k) {
        (void)p.schedule_in(traffic.interval * k, [r, ps, relayed, payload] {
          ++r->sent;
          (void)ps->send_to(relayed, payload);
        });
      }
    } else if (const auto* d = std::get_if<turn::PeerData>(&e)) {
      ++r->delivered;
      r->relayed_bytes += d->data.size();
      r->turn->send(now, d->peer, d->data);  // the echo, back through the relay
    }
  });
  r->turn->allocate(w.net.now());
  r->turn_driver->pump();
  r->stun->send_binding(w.net.now(),
                        Endpoint{*p.address(ps->local().address.family()), ps->local().port},
                        config.server);
  r->stun_driver->pump();
  return run;
}

std::string line(const nlohmann::json& a) {
  return a["outcome"].get<std::string>() + ", relayed " +
         (a["relayed"].is_null() ? "-" : a["relayed"].get<std::string>()) + ", " + traffic_line(a);
}

}  // namespace

const ActionType& relay_action() {
  static const ActionType kType{
      .name = "relay",
      .summary = "data both ways through a TURN relay",
      .keys = {{"host", ""},
               {"peer", ""},
               {"server", "TURN"},
               {"user", ""},
               {"count", ""},
               {"interval", ""},
               {"size", ""},
               {"transport", "udp|tcp: to the server (default udp)"}},
      .expect_keys = {{"outcome", "success|error|timeout"},
                      {"delivered", "range"},
                      {"echoed", "range"},
                      {"setup_ms", "range"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
