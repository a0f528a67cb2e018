// connect: two hosts behind any NATs get connected by the connect strategy (ICE with
// STUN and TURN, traversal/connect.hpp) over a simulated signalling channel; the report
// says whether, how (the path and selected pair), how fast (a breakdown in simulated
// milliseconds from the action's start) and why not. Once connected, the controlling
// side sends datagrams over the selected pair and the other echoes each back; after a
// consent failure both sides restart ICE. With `port_mapping`, a side asks its gateway for
// a mapping (PCP, NAT-PMP) and offers it as a `mapped` candidate.
#include <algorithm>

#include "../action_type.hpp"
#include "gateway.hpp"
#include "natsim/traversal/connect.hpp"
#include "natsim/traversal/pcp_wire.hpp"
#include "signalling.hpp"
#include "traffic.hpp"

namespace natsim::scenarios::detail {

namespace {

namespace cn = traversal::connect;
namespace ice = traversal::ice;

struct Connect final : ActionSpec {
  std::string a, b;
  std::optional<std::string> stun, turn;
  std::string user_a, user_b;
  bool controlling_a = true;
  bool aggressive = false;
  Duration ta = milliseconds(50);
  bool trickle = true;
  cn::Policy policy = cn::Policy::all;
  bool restart = true;
  Duration restart_after_silence = Duration::zero();
  Duration timeout = seconds(60);
  struct Mapping {
    cn::PortMapping mode = cn::PortMapping::off;
    std::vector<traversal::MappingProtocol> protocols;  // empty: as mode says
    bool parallel = false;
  };
  Mapping mapping_a, mapping_b;
  SignallingParams signalling;
  Traffic traffic;
};

// Times of the whole connect, from its start.
struct Times {
  std::optional<Duration> gathering, offer_sent, answer_received, first_check, first_success,
      nomination, first_data, consent_lost, reconnect, upgrade;
};

struct TimeCheck {
  const char* name;
  std::optional<Duration> Times::*field;
};
constexpr TimeCheck kTimeChecks[] = {
    {"setup_ms", &Times::nomination},          {"gathering_ms", &Times::gathering},
    {"offer_sent_ms", &Times::offer_sent},     {"answer_received_ms", &Times::answer_received},
    {"first_check_ms", &Times::first_check},   {"first_success_ms", &Times::first_success},
    {"nomination_ms", &Times::nomination},     {"first_data_ms", &Times::first_data},
    {"consent_lost_ms", &Times::consent_lost}, {"reconnect_ms", &Times::reconnect},
    {"upgrade_ms", &Times::upgrade},
};

struct ConnectCheck final : ActionCheck {
  std::optional<std::string> outcome;
  std::vector<std::string> paths;  // any of them
  std::optional<std::string> first_path;
  std::vector<std::pair<const TimeCheck*, Range>> times;
  std::optional<Range> mapped;  // sides that offered a mapped candidate
  EchoCheck echoes;
};

std::optional<Duration> earliest(std::optional<Duration> x, std::optional<Duration> y) {
  if (!x) return y;
  if (!y) return x;
  return std::min(*x, *y);
}
std::optional<Duration> both(std::optional<Duration> x, std::optional<Duration> y) {
  if (!x || !y) return std::nullopt;
  return std::max(*x, *y);
}

nlohmann::json ms_or_null(std::optional<Duration> d) {
  return d ? nlohmann::json(ms(*d)) : nlohmann::json(nullptr);
}

// Reports are written for every run (bench-connect reads them), so they are built by
// assignment: nlohmann's initializer lists copy each pair through a temporary array.
nlohmann::json candidate_json(const std::optional<ice::Candidate>& c) {
  if (!c) return nullptr;
  nlohmann::json j;
  j["type"] = ice::to_string(c->type);
  j["address"] = c->address.to_string();
  return j;
}

// The one-line summary, for the table and the report's "line".
std::string line(const nlohmann::json& a) {
  const std::string outcome = a["outcome"].get<std::string>();
  if (outcome != "connected")
    return outcome + (a.contains("reason") ? ": " + a["reason"].get<std::string>() : "");
  std::string s = "connected, ";
  if (a.contains("first_path")) {  // turn_first: the relay first, the direct pair later
    s += a["first_path"].get<std::string>() + " path in " +
         number_text(a["setup_ms"].get<double>()) + " ms, " + a["path"].get<std::string>() +
         " from " + number_text(a["upgrade_ms"].get<double>()) + " ms, ";
  } else {
    s += a["path"].get<std::string>() + " path in " + number_text(a["setup_ms"].get<double>()) +
         " ms, ";
  }
  s += traffic_line(a);
  if (!a["consent_lost_ms"].is_null()) {
    s += ", consent lost at " + number_text(a["consent_lost_ms"].get<double>()) + " ms";
    s += a["reconnect_ms"].is_null()
             ? ", not reconnected"
             : ", reconnected at " + number_text(a["reconnect_ms"].get<double>()) + " ms";
  }
  return s;
}

struct Side {
  std::string host;
  std::unique_ptr<cn::Connector> conn;
  std::unique_ptr<SimDriver<cn::Connector>> driver;
  sim::Host* node = nullptr;
};

class ConnectRun final : public ActionRun {
 public:
  [[nodiscard]] std::string outcome() const {
    const cn::Result& x = side[0].conn->result();
    const cn::Result& y = side[1].conn->result();
    for (cn::Outcome o : {cn::Outcome::failed, cn::Outcome::timeout}) {
      if (x.outcome == o || y.outcome == o) return std::string(cn::to_string(o));
    }
    if (x.outcome == cn::Outcome::connected && y.outcome == cn::Outcome::connected)
      return "connected";
    return "timeout";  // the run ended first
  }
  [[nodiscard]] std::string reason() const {
    for (const Side& s : side) {
      if (!s.conn->result().reason.empty()) return s.host + ": " + s.conn->result().reason;
    }
    return "";
  }
  [[nodiscard]] const cn::Result& offerer() const { return side[0].conn->result(); }
  [[nodiscard]] Times times() const {
    const cn::Breakdown& o = side[0].conn->result().times;
    const cn::Breakdown& p = side[1].conn->result().times;
    Times t;
    t.gathering = both(o.gathering, p.gathering);
    t.offer_sent = o.description_sent;
    t.answer_received = o.description_received;
    t.first_check = earliest(o.first_check, p.first_check);
    t.first_success = earliest(o.first_success, p.first_success);
    t.nomination = both(o.selected, p.selected);  // both sides use the pair
    t.first_data = earliest(o.first_data, p.first_data);
    t.consent_lost =
        earliest(side[0].conn->result().consent_lost, side[1].conn->result().consent_lost);
    t.reconnect = both(side[0].conn->result().reconnected, side[1].conn->result().reconnected);
    t.upgrade = both(side[0].conn->result().upgraded, side[1].conn->result().upgraded);
    return t;
  }

  void report(nlohmann::json& a) const override {
    const cn::Result& o = offerer();
    const Times t = times();
    a["outcome"] = outcome();
    if (const std::string why = reason(); !why.empty()) a["reason"] = why;
    a["path"] = o.path ? nlohmann::json(cn::to_string(*o.path)) : nlohmann::json(nullptr);
    a["local"] = candidate_json(o.local);
    a["remote"] = candidate_json(o.remote);
    a["setup_ms"] = ms_or_null(t.nomination);
    nlohmann::json& breakdown = a["breakdown"];
    breakdown["gathering_ms"] = ms_or_null(t.gathering);
    breakdown["offer_sent_ms"] = ms_or_null(t.offer_sent);
    breakdown["answer_received_ms"] = ms_or_null(t.answer_received);
    breakdown["first_check_ms"] = ms_or_null(t.first_check);
    breakdown["first_success_ms"] = ms_or_null(t.first_success);
    breakdown["nomination_ms"] = ms_or_null(t.nomination);
    breakdown["first_data_ms"] = ms_or_null(t.first_data);
    a["consent_lost_ms"] = ms_or_null(t.consent_lost);
    a["restarts"] = std::max(o.restarts, side[1].conn->result().restarts);
    a["reconnect_ms"] = ms_or_null(t.reconnect);
    if (o.first_path && o.first_path != o.path) {  // turn_first: relay, then direct
      a["first_path"] = cn::to_string(*o.first_path);
      a["upgrade_ms"] = ms_or_null(t.upgrade);
    }
    a["sent"] = sent;
    a["delivered"] = delivered;
    a["echoed"] = echoed;
    a["signalling"]["messages"] = signalling->messages();
    a["signalling"]["lost"] = signalling->lost();
    nlohmann::json& sides = a["sides"];
    side_json(side[0], sides["offerer"]);
    side_json(side[1], sides["answerer"]);
    a["line"] = line(a);
  }

  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    const auto& e = as<ConnectCheck>(c);
    if (e.outcome) {
      const std::string got = outcome();
      const std::string why = reason();
      checks.check(got == *e.outcome, "outcome: expected " + *e.outcome + ", got " + got +
                                          (why.empty() ? "" : " (" + why + ")"));
    }
    if (!e.paths.empty()) {
      const std::string got = offerer().path ? std::string(cn::to_string(*offerer().path)) : "none";
      std::string want;
      for (const std::string& p : e.paths)
        want += (want.empty() ? "" : " or ") + p;
      checks.check(std::find(e.paths.begin(), e.paths.end(), got) != e.paths.end(),
                   "path: expected " + want + ", got " + got);
    }
    if (e.first_path) {
      const auto& f = offerer().first_path;
      const std::string got = f ? std::string(cn::to_string(*f)) : "none";
      checks.check(got == *e.first_path, "first_path: expected " + *e.first_path + ", got " + got);
    }
    const Times t = times();
    for (const auto& [tc, range] : e.times) {
      const std::optional<Duration> got = t.*(tc->field);
      checks.check(got && range.contains(ms(*got)), std::string(tc->name) + ": expected " +
                                                        range_text(range) + ", got " +
                                                        (got ? number_text(ms(*got)) : "none"));
    }
    if (e.mapped) checks.check_range("mapped", *e.mapped, mapped_sides());
    check_echoes(e.echoes, delivered, echoed, checks);
  }

  [[nodiscard]] double mapped_sides() const {
    double n = 0;
    for (const Side& s : side)
      n += s.conn->result().mapped ? 1 : 0;
    return n;
  }

  // The action is done once its outcome is known.
  void maybe_finish(const ActionContext& ctx) {
    if (done) return;
    const cn::Outcome x = side[0].conn->result().outcome;
    const cn::Outcome y = side[1].conn->result().outcome;
    const bool decided = (x == cn::Outcome::connected && y == cn::Outcome::connected) ||
                         x == cn::Outcome::failed || y == cn::Outcome::failed ||
                         x == cn::Outcome::timeout || y == cn::Outcome::timeout;
    if (!decided) return;
    done = true;
    ctx.finish();
    if (outcome() == "connected") start_data();
  }

  // The offerer sends the datagrams; the answerer echoes each back.
  void start_data() {
    Side& s = side[0];
    std::vector<std::uint8_t> payload(traffic.size, 0x5a);
    for (int k = 0; k < traffic.count; ++k) {
      (void)s.node->schedule_in(traffic.interval * k, [this, &s, payload] {
        if (s.conn->send(s.node->now(), payload)) ++sent;
        s.driver->pump();
      });
    }
  }

  std::array<Side, 2> side;  // [0] offers and controls, [1] answers
  std::unique_ptr<SignallingChannel> signalling;
  Traffic traffic;
  bool done = false;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // at the answerer
  std::uint64_t echoed = 0;     // back at the offerer

 private:
  static void side_json(const Side& s, nlohmann::json& j) {
    const cn::Result& r = s.conn->result();
    const cn::Breakdown& b = r.times;
    j["host"] = s.host;
    j["outcome"] = cn::to_string(r.outcome);
    j["path"] = r.path ? nlohmann::json(cn::to_string(*r.path)) : nullptr;
    j["local"] = candidate_json(r.local);
    j["remote"] = candidate_json(r.remote);
    j["gathering_ms"] = ms_or_null(b.gathering);
    j["description_sent_ms"] = ms_or_null(b.description_sent);
    j["description_received_ms"] = ms_or_null(b.description_received);
    j["first_check_ms"] = ms_or_null(b.first_check);
    j["first_success_ms"] = ms_or_null(b.first_success);
    j["selected_ms"] = ms_or_null(b.selected);
    j["first_data_ms"] = ms_or_null(b.first_data);
    j["consent_lost_ms"] = ms_or_null(r.consent_lost);
    j["restarts"] = r.restarts;
    j["reconnect_ms"] = ms_or_null(r.reconnected);
    j["signals_sent"] = r.signals_sent;
    if (!r.reason.empty()) j["reason"] = r.reason;
    if (!r.port_mapping.empty()) {
      nlohmann::json& m = j["port_mapping"];
      m["result"] = r.port_mapping;
      m["mapped"] = r.mapped ? nlohmann::json(r.mapped->to_string()) : nlohmann::json(nullptr);
      m["refreshes"] = r.mapping_refreshes;
    }
    if (const ice::Agent* agent = s.conn->agent()) {
      const ice::AgentCounters& c = agent->counters();
      j["candidates"] = agent->local_candidates().size();
      j["pairs"] = agent->checklist().size();
      nlohmann::json& k = j["counters"];
      k["checks_sent"] = c.checks_sent;
      k["triggered_checks"] = c.triggered_checks;
      k["requests_received"] = c.requests_received;
      k["responses"] = c.responses;
      k["check_timeouts"] = c.check_timeouts;
      k["role_conflicts"] = c.role_conflicts;
      k["prflx_remote"] = c.prflx_remote;
      k["prflx_local"] = c.prflx_local;
      k["consent_checks"] = c.consent_checks;
      k["data_in"] = c.data_in;
      k["data_out"] = c.data_out;
      k["data_dropped"] = c.data_dropped;
    }
  }
};

std::string parse_user(const Reader& r, const Names& names, const std::string& server) {
  const std::string user = r.string();
  if (!names.turn_users.at(server).contains(user))
    r.fail("no user '" + user + "' on TURN server '" + server + "'");
  return user;
}

// A side's port mapping: a name ("auto": PCP, then NAT-PMP), the protocols in order
// (["upnp", "pcp"]), or {"protocols": [...], "parallel": true}.
Connect::Mapping parse_mapping(const Reader& r) {
  Connect::Mapping m;
  if (r.json().is_array() || r.json().is_object()) {
    m.mode = cn::PortMapping::automatic;
    if (r.json().is_array()) {
      m.protocols = parse_protocol_order(r);
      return m;
    }
    r.only({"protocols", "parallel"});
    m.protocols = parse_protocol_order(r.at("protocols"));
    if (auto p = r.get("parallel")) {
      m.parallel = p->boolean();
      if (m.parallel && m.protocols.size() < 2)
        p->fail("'parallel' needs at least two protocols to race");
    }
    return m;
  }
  const std::string v = one_of(r, {"off", "auto", "pcp", "natpmp", "upnp"});
  m.mode = v == "auto"     ? cn::PortMapping::automatic
           : v == "pcp"    ? cn::PortMapping::pcp
           : v == "natpmp" ? cn::PortMapping::natpmp
           : v == "upnp"   ? cn::PortMapping::upnp
                           : cn::PortMapping::off;
  return m;
}

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto x = std::make_shared<Connect>();
  x->a = names.require(r.at("a"), "host");
  x->b = names.require(r.at("b"), "host");
  if (x->a == x->b) r.at("b").fail("b must be another host than a");
  if (auto s = r.get("stun")) x->stun = names.require_server(*s, ServerKind::stun, true);
  if (auto t = r.get("turn")) {
    x->turn = names.require_server(*t, ServerKind::turn);
    // One user for both sides, or {"a": ..., "b": ...}.
    const Reader u = r.at("user");
    if (u.json().is_object()) {
      u.only({"a", "b"});
      x->user_a = parse_user(u.at("a"), names, *x->turn);
      x->user_b = parse_user(u.at("b"), names, *x->turn);
    } else {
      x->user_a = x->user_b = parse_user(u, names, *x->turn);
    }
  } else if (r.has("user")) {
    r.at("user").fail("'user' needs a 'turn' server");
  }
  if (auto c = r.get("controlling")) x->controlling_a = one_of(*c, {"a", "b"}) == "a";
  if (auto i = r.get("ice")) {
    i->only({"nomination", "ta_ms", "trickle", "policy", "restart", "restart_after_silence"});
    if (auto n = i->get("nomination"))
      x->aggressive = one_of(*n, {"regular", "aggressive"}) == "aggressive";
    if (auto t = i->get("ta_ms")) x->ta = milliseconds(t->integer(5, 1000));  // RFC 8445 §14.2
    if (auto t = i->get("trickle")) x->trickle = t->boolean();
    if (auto p = i->get("policy")) {
      const std::string policy = one_of(*p, {"all", "relay_only", "turn_first"});
      x->policy = policy == "relay_only"   ? cn::Policy::relay_only
                  : policy == "turn_first" ? cn::Policy::turn_first
                                           : cn::Policy::all;
      if (x->policy != cn::Policy::all && !x->turn) p->fail(policy + " needs a 'turn' server");
    }
    if (auto t = i->get("restart")) x->restart = t->boolean();
    if (auto t = i->get("restart_after_silence")) {
      x->restart_after_silence = t->duration();
      // Consent checks leave every 5 s ± 20% (RFC 7675 §5.1): a shorter silence is normal.
      if (x->restart_after_silence < seconds(7)) t->fail("must be at least 7s");
    }
  }
  // One setting for both sides, or {"a": ..., "b": ...} (a missing side: off).
  if (auto m = r.get("port_mapping")) {
    if (m->json().is_object() && (m->has("a") || m->has("b"))) {
      m->only({"a", "b"});
      if (auto a = m->get("a")) x->mapping_a = parse_mapping(*a);
      if (auto b = m->get("b")) x->mapping_b = parse_mapping(*b);
    } else {
      x->mapping_a = x->mapping_b = parse_mapping(*m);
    }
  }
  if (auto s = r.get("signalling")) {
    s->only({"delay", "loss"});
    if (auto d = s->get("delay")) x->signalling.delay = d->duration();
    if (auto l = s->get("loss")) x->signalling.loss = l->number(0, 0.9);
  }
  if (auto t = r.get("timeout")) {
    x->timeout = t->duration();
    if (x->timeout <= Duration::zero()) t->fail("expected a positive duration");
  }
  x->traffic = parse_traffic(r, Traffic{}, 1, 1200);
  return x;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<ConnectCheck>();
  if (auto f = r.get("outcome")) e->outcome = one_of(*f, {"connected", "failed", "timeout"});
  if (auto f = r.get("path")) {
    auto one = [](const Reader& p) {
      return one_of(p, {"host", "srflx", "prflx", "mapped", "relay"});
    };
    if (f->json().is_array()) {
      if (f->size() == 0) f->fail("expected at least one path");
      for (std::size_t i = 0; i < f->size(); ++i)
        e->paths.push_back(one((*f)[i]));
    } else {
      e->paths.push_back(one(*f));
    }
  }
  for (const TimeCheck& tc : kTimeChecks) {
    if (auto f = r.get(tc.name)) e->times.emplace_back(&tc, parse_range(*f));
  }
  if (auto f = r.get("mapped")) e->mapped = parse_range(*f);
  if (auto f = r.get("first_path"))
    e->first_path = one_of(*f, {"host", "srflx", "prflx", "mapped", "relay"});
  e->echoes = parse_echo_check(r);
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Connect>(spec);
  auto run = std::make_unique<ConnectRun>();
  World& w = ctx.world;
  ConnectRun* r = run.get();
  r->traffic = body.traffic;
  r->signalling = std::make_unique<SignallingChannel>(body.signalling, ctx.seed("signalling"));
  const std::string hosts[2] = {body.controlling_a ? body.a : body.b,
                                body.controlling_a ? body.b : body.a};
  const std::string users[2] = {body.controlling_a ? body.user_a : body.user_b,
                                body.controlling_a ? body.user_b : body.user_a};
  for (int i = 0; i < 2; ++i) {
    Side& s = r->side[i];
    s.host = hosts[i];
    s.node = &w.host(s.host);
    sim::UdpSocket* socket = ctx.bind(*s.node, 0);
    if (socket == nullptr) return run;
    // The socket's family: an IPv6 site's host gathers on its IPv6 address.
    const Endpoint local{*s.node->address(socket->local().address.family()), socket->local().port};
    cn::Config c;
    c.offerer = i == 0;
    c.host = {local};
    if (body.stun) c.stun_server = w.server(*body.stun);
    if (body.turn) {
      traversal::turn::ClientConfig t;
      t.local = local;
      t.server = w.server(*body.turn);
      t.username = users[i];
      t.password = w.servers.at(*body.turn).spec->users.at(users[i]);
      c.turn = t;
    }
    c.policy = body.policy;
    c.trickle = body.trickle;
    c.aggressive_nomination = body.aggressive;
    c.ta = body.ta;
    c.timeout = body.timeout;
    c.restart = body.restart;
    c.restart_after_silence = body.restart_after_silence;
    const Connect::Mapping& mapping = s.host == body.a ? body.mapping_a : body.mapping_b;
    c.port_mapping = mapping.mode;
    c.port_mapping_protocols = mapping.protocols;
    c.port_mapping_parallel = mapping.parallel;
    if (c.port_mapping != cn::PortMapping::off) {
      if (auto g = gateway_of(w, s.host)) c.gateway = Endpoint{*g, traversal::pcp::kServerPort};
    }
    s.conn = std::make_unique<cn::Connector>(ctx.seed(i == 0 ? "offerer" : "answerer"), c);
    s.driver = std::make_unique<SimDriver<cn::Connector>>(*s.node, *s.conn, std::vector{socket});
  }
  for (int i = 0; i < 2; ++i) {
    Side& self = r->side[i];
    Side& other = r->side[1 - i];
    self.driver->on_event([ctx, r, i, &self, &other](const cn::Event& e) {
      if (const auto* s = std::get_if<cn::SendSignal>(&e)) {
        r->signalling->send(*other.node, i, [&other, signal = s->signal] {
          other.conn->handle_signal(other.node->now(), signal);
          other.driver->pump();
        });
      } else if (const auto* d = std::get_if<cn::Data>(&e)) {
        if (i == 1) {
          ++r->delivered;
          (void)self.conn->send(self.node->now(), d->bytes);  // the echo, at once
        } else {
          ++r->echoed;
        }
      } else if (std::holds_alternative<cn::Connected>(e) ||
                 std::holds_alternative<cn::Failed>(e)) {
        r->maybe_finish(ctx);
      }
    });
  }
  const TimePoint now = w.net.now();
  for (Side& s : r->side) {
    s.conn->start(now);
    s.driver->pump();
  }
  return run;
}

}  // namespace

const ActionType& connect_action() {
  static const ActionType kType{
      .name = "connect",
      .summary = "two hosts connected by ICE (STUN, TURN) over simulated signalling",
      .keys = {{"a", "host"},
               {"b", "host"},
               {"stun", "STUN (or TURN) server"},
               {"turn", "TURN server"},
               {"user", "TURN user, or {a, b}"},
               {"controlling", "a|b"},
               {"ice",
                "nomination, ta_ms, trickle, policy (all|relay_only|turn_first), restart, "
                "restart_after_silence"},
               {"port_mapping",
                "off|auto|pcp|natpmp|upnp, [protocols in order], {protocols, parallel}, or {a, b}"},
               {"signalling", "delay, loss"},
               {"timeout", ""},
               {"count", ""},
               {"interval", ""},
               {"size", ""}},
      .expect_keys = {{"outcome", "connected|failed|timeout"},
                      {"path", "host|srflx|prflx|mapped|relay, or a list"},
                      {"setup_ms", "range"},
                      {"gathering_ms", "range"},
                      {"offer_sent_ms", "range"},
                      {"answer_received_ms", "range"},
                      {"first_check_ms", "range"},
                      {"first_success_ms", "range"},
                      {"nomination_ms", "range"},
                      {"first_data_ms", "range"},
                      {"consent_lost_ms", "range"},
                      {"reconnect_ms", "range"},
                      {"mapped", "range: sides that offered a mapped candidate"},
                      {"first_path",
                       "host|srflx|prflx|mapped|relay (turn_first: before the upgrade)"},
                      {"upgrade_ms", "range"},
                      {"delivered", "range"},
                      {"echoed", "range"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
