// map: a host asks its gateway for a port mapping with PCP (RFC 6887), NAT-PMP (RFC 6886)
// or UPnP IGD, in the order `protocols` gives (or all at once with `parallel`), through
// the port mapper, which keeps it alive (refreshes, re-creation after
// a gateway reboot) for the rest of the run. With `from`, an outside host then sends
// datagrams to the mapped external endpoint and the internal host echoes each back.
#include <algorithm>
#include <cctype>

#include "../action_type.hpp"
#include "gateway.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/port_mapper.hpp"
#include "natsim/traversal/ssdp.hpp"
#include "traffic.hpp"

namespace natsim::scenarios::detail {

namespace {

using traversal::MappingProtocol;
using traversal::PortMapper;
using traversal::PortMapperEvent;

struct Map final : ActionSpec {
  std::string host;
  // The protocols tried, in order; `protocol` gives one, or auto's PCP, NAT-PMP, UPnP.
  std::vector<MappingProtocol> protocols{MappingProtocol::pcp, MappingProtocol::natpmp,
                                         MappingProtocol::upnp};
  bool parallel = false;
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_port = 0;
  std::uint32_t lifetime = 7200;
  sim::IpProto transport = sim::IpProto::udp;
  std::optional<Duration> delete_after;
  std::string from;  // an outside server or public host; empty: no traffic
  Traffic traffic;
};

struct MapCheck final : ActionCheck {
  std::optional<std::string> outcome;
  std::optional<std::string> protocol;
  std::optional<std::string> external;  // "a.b.c.d" or "a.b.c.d:port"
  std::optional<bool> double_nat;
  std::optional<std::string> result;
  std::optional<Range> mapped_ms;
  std::optional<Range> failed_ms;
  std::optional<Range> lifetime;
  std::optional<Range> refreshes;
  std::optional<Range> refreshed_ms;
  std::optional<Range> recreated;
  std::optional<Range> recreated_ms;
  std::optional<Range> reboot_detected_ms;
  EchoCheck echoes;
};

std::string protocol_name(MappingProtocol p) {
  return std::string(traversal::to_string(p));
}

// The result code's name as metrics spell it: "not_authorized", "user_ex_quota",
// "out_of_resources".
std::string result_name(MappingProtocol p, std::uint16_t code) {
  if (p == MappingProtocol::upnp) return "upnp_" + std::to_string(code);  // e.g. upnp_718
  std::string name(
      p == MappingProtocol::pcp
          ? traversal::pcp::to_string(static_cast<traversal::pcp::ResultCode>(code))
          : traversal::natpmp::to_string(static_cast<traversal::natpmp::ResultCode>(code)));
  for (char& c : name)
    c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

class MapRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    a["outcome"] = outcome.value_or("timeout");
    a["protocol"] = protocol ? nlohmann::json(protocol_name(*protocol)) : nlohmann::json(nullptr);
    a["internal"] = endpoint_json(internal);
    a["external"] = endpoint_json(external);
    a["lifetime"] = lifetime;
    a["epoch"] = epoch;
    a["double_nat"] = double_nat;
    a["mapped_ms"] = mapped ? nlohmann::json(ms(*mapped)) : nlohmann::json(nullptr);
    if (failed_at) a["failed_ms"] = ms(*failed_at);
    a["refreshes"] = refreshes;
    a["refreshed_ms"] = refreshed_at ? nlohmann::json(ms(*refreshed_at)) : nlohmann::json(nullptr);
    a["recreated"] = recreated;
    a["recreated_ms"] = recreated_at ? nlohmann::json(ms(*recreated_at)) : nlohmann::json(nullptr);
    a["reboot_detected_ms"] =
        reboot_detected_at ? nlohmann::json(ms(*reboot_detected_at)) : nlohmann::json(nullptr);
    if (!result.empty()) a["result"] = result;
    if (deleted) a["deleted"] = true;
    if (traffic) {
      a["sent"] = sent;
      a["delivered"] = delivered;
      a["echoed"] = echoed;
    }
  }

  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    const auto& e = as<MapCheck>(c);
    const std::string got_outcome = outcome.value_or("timeout");
    if (e.outcome)
      checks.check(got_outcome == *e.outcome,
                   "outcome: expected " + *e.outcome + ", got " + got_outcome);
    if (e.protocol) {
      const std::string got = protocol ? protocol_name(*protocol) : "none";
      checks.check(got == *e.protocol, "protocol: expected " + *e.protocol + ", got " + got);
    }
    if (e.external) {
      const std::string got = external ? external->to_string() : "none";
      const std::string got_address = external ? external->address.to_string() : "none";
      const bool with_port =
          e.external->find(':') != std::string::npos && e.external->find('.') != std::string::npos;
      checks.check((with_port ? got : got_address) == *e.external,
                   "external: expected " + *e.external + ", got " + got);
    }
    if (e.double_nat) {
      auto text = [](bool b) { return std::string(b ? "true" : "false"); };
      checks.check(double_nat == *e.double_nat,
                   "double_nat: expected " + text(*e.double_nat) + ", got " + text(double_nat));
    }
    if (e.result) {
      const std::string got = result.empty() ? "none" : result;
      checks.check(got == *e.result, "result: expected " + *e.result + ", got " + got);
    }
    auto time = [&](const char* name, const std::optional<Range>& want,
                    const std::optional<Duration>& got) {
      if (!want) return;
      if (!got)
        return checks.check(false,
                            std::string(name) + ": expected " + range_text(*want) + ", got never");
      checks.check_range(name, *want, ms(*got));
    };
    time("mapped_ms", e.mapped_ms, mapped);
    time("failed_ms", e.failed_ms, failed_at);
    time("refreshed_ms", e.refreshed_ms, refreshed_at);
    time("recreated_ms", e.recreated_ms, recreated_at);
    time("reboot_detected_ms", e.reboot_detected_ms, reboot_detected_at);
    if (e.lifetime) checks.check_range("lifetime", *e.lifetime, lifetime);
    if (e.refreshes) checks.check_range("refreshes", *e.refreshes, static_cast<double>(refreshes));
    if (e.recreated) checks.check_range("recreated", *e.recreated, static_cast<double>(recreated));
    check_echoes(e.echoes, delivered, echoed, checks);
  }

  void on_event(const PortMapperEvent& e, const ActionContext& ctx);

  std::unique_ptr<PortMapper> mapper;
  std::unique_ptr<SimDriver<PortMapper>> driver;
  TimePoint started{};
  Traffic traffic_spec;
  sim::Host* host = nullptr;
  sim::Host* sender = nullptr;
  sim::UdpSocket* app = nullptr;      // the internal port, echoing
  sim::UdpSocket* outside = nullptr;  // on the sender

  std::optional<std::string> outcome;  // success | error | timeout
  std::optional<MappingProtocol> protocol;
  std::optional<Endpoint> internal;
  std::optional<Endpoint> external;
  std::uint32_t lifetime = 0;
  std::uint32_t epoch = 0;
  bool double_nat = false;
  std::string result;
  std::optional<Duration> mapped;
  std::optional<Duration> failed_at;
  std::optional<Duration> refreshed_at;  // the first renewal, since the ask
  std::optional<Duration> recreated_at;
  std::optional<Duration> reboot_detected_at;
  std::uint64_t refreshes = 0;
  std::uint64_t recreated = 0;
  bool deleted = false;
  bool traffic = false;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // at the internal host, through the mapping
  std::uint64_t echoed = 0;     // back at the outside sender
};

void MapRun::on_event(const PortMapperEvent& e, const ActionContext& ctx) {
  const Duration since = ctx.world.net.now() - started;
  protocol = e.protocol;
  epoch = e.epoch;
  using Kind = PortMapperEvent::Kind;
  switch (e.kind) {
    case Kind::gateway_rebooted:
      if (!reboot_detected_at) reboot_detected_at = since;
      return;
    case Kind::deleted:
      deleted = true;
      return;
    case Kind::failed:
      if (!outcome) {
        outcome = e.result == 0 ? "timeout" : "error";
        if (e.result != 0) result = result_name(e.protocol, e.result);
        if (e.protocol == MappingProtocol::upnp && e.result == 0) {
          // UPnP fails without an error code too: an HTTP refusal, an unreadable answer.
          const auto o = e.upnp_outcome;
          outcome =
              o == traversal::upnp::Outcome::timeout || o == traversal::upnp::Outcome::no_gateway
                  ? "timeout"
                  : "error";
          result = std::string(traversal::upnp::to_string(o));
          for (char& c : result)
            c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        failed_at = since;
        ctx.finish();
      }
      return;
    case Kind::mapped:
    case Kind::refreshed:
    case Kind::recreated:
      break;
  }
  external = e.external;
  lifetime = e.lifetime;
  double_nat = e.double_nat;
  if (e.kind == Kind::refreshed) {
    ++refreshes;
    if (!refreshed_at) refreshed_at = since;
  }
  if (e.kind == Kind::recreated) {
    ++recreated;
    if (!recreated_at) recreated_at = since;
  }
  if (outcome) return;
  outcome = "success";
  mapped = since;
  ctx.finish();
  if (sender == nullptr || outside == nullptr) return;
  // An outside host reaches the internal one through the mapping.
  traffic = true;
  const Endpoint to = e.external;
  std::vector<std::uint8_t> payload(traffic_spec.size, 0x6d);
  for (int k = 0; k < traffic_spec.count; ++k) {
    (void)sender->schedule_in(traffic_spec.interval * k, [this, to, payload] {
      ++sent;
      (void)outside->send_to(to, payload);
    });
  }
}

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto m = std::make_shared<Map>();
  m->host = names.require(r.at("host"), "host");
  if (auto p = r.get("protocol")) {
    if (r.has("protocols")) p->fail("give 'protocol' or 'protocols', not both");
    const std::string v = one_of(*p, {"auto", "pcp", "natpmp", "upnp"});
    if (v != "auto") m->protocols = {*traversal::parse_mapping_protocol(v)};
  }
  if (auto p = r.get("protocols")) m->protocols = parse_protocol_order(*p);
  if (auto p = r.get("parallel")) {
    m->parallel = p->boolean();
    if (m->parallel && m->protocols.size() < 2)
      p->fail("'parallel' needs at least two protocols to race");
  }
  m->internal_port = static_cast<std::uint16_t>(r.at("internal_port").integer(1, 65535));
  if (auto p = r.get("suggested_port"))
    m->suggested_port = static_cast<std::uint16_t>(p->integer(0, 65535));
  if (auto l = r.get("lifetime")) {
    const Duration d = l->duration();
    if (d < seconds(1) || d > seconds(0xffffffffLL) || d % seconds(1) != Duration::zero())
      l->fail("expected whole seconds from 1s");
    m->lifetime = static_cast<std::uint32_t>(d / seconds(1));
  }
  if (auto t = r.get("transport"))
    m->transport = one_of(*t, {"udp", "tcp"}) == "tcp" ? sim::IpProto::tcp : sim::IpProto::udp;
  if (auto d = r.get("delete_after")) m->delete_after = d->duration();
  if (auto f = r.get("from")) {
    m->from = names.require(*f, "server");
    if (m->transport != sim::IpProto::udp) f->fail("'from' sends UDP: it needs transport udp");
  } else {
    for (const char* key : {"count", "interval", "size"}) {
      if (r.has(key)) r.at(key).fail(std::string("'") + key + "' needs 'from'");
    }
  }
  m->traffic = parse_traffic(r, Traffic{.count = 5}, 1, 1400);
  return m;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<MapCheck>();
  if (auto f = r.get("outcome")) e->outcome = one_of(*f, {"success", "error", "timeout"});
  if (auto f = r.get("protocol")) e->protocol = one_of(*f, {"pcp", "natpmp", "upnp"});
  if (auto f = r.get("external")) {
    const std::string& v = f->string();
    if (!IpAddress::parse(v) && !Endpoint::parse(v))
      f->fail("expected an address or address:port, e.g. \"203.0.113.2:40000\"");
    e->external = v;
  }
  if (auto f = r.get("double_nat")) e->double_nat = f->boolean();
  if (auto f = r.get("result")) e->result = f->string();
  if (auto f = r.get("mapped_ms")) e->mapped_ms = parse_range(*f);
  if (auto f = r.get("failed_ms")) e->failed_ms = parse_range(*f);
  if (auto f = r.get("lifetime")) e->lifetime = parse_range(*f);
  if (auto f = r.get("refreshes")) e->refreshes = parse_range(*f);
  if (auto f = r.get("refreshed_ms")) e->refreshed_ms = parse_range(*f);
  if (auto f = r.get("recreated")) e->recreated = parse_range(*f);
  if (auto f = r.get("recreated_ms")) e->recreated_ms = parse_range(*f);
  if (auto f = r.get("reboot_detected_ms")) e->reboot_detected_ms = parse_range(*f);
  e->echoes = parse_echo_check(r);
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Map>(spec);
  auto run = std::make_unique<MapRun>();
  World& w = ctx.world;
  sim::Host& h = w.host(body.host);
  const auto gateway = gateway_of(w, body.host);
  if (!gateway || !h.address()) {
    ctx.out.error = "no gateway with an IPv4 LAN address for " + body.host;
    ctx.finish();
    return run;
  }
  sim::UdpSocket* control = ctx.bind(h, 0);
  if (control == nullptr) return run;
  MapRun* r = run.get();
  r->host = &h;
  r->started = w.net.now();
  r->internal = Endpoint{*h.address(), body.internal_port};
  r->traffic_spec = body.traffic;
  if (!body.from.empty()) {
    r->app = ctx.bind(h, body.internal_port);
    if (r->app == nullptr) return run;
    r->sender = &w.server_host(body.from);
    r->outside = ctx.bind(*r->sender, 0);
    if (r->outside == nullptr) return run;
    r->app->on_receive([r](const sim::Datagram& d) {
      ++r->delivered;
      (void)r->app->send_to(d.from, d.payload);
    });
    r->outside->on_receive([r](const sim::Datagram&) { ++r->echoed; });
  }
  traversal::PortMapperConfig config;
  config.local = Endpoint{*h.address(), control->local().port};
  config.gateway = Endpoint{*gateway, traversal::pcp::kServerPort};
  config.seed = ctx.seed("mapper");
  config.protocols = body.protocols;
  config.parallel = body.parallel;
  r->mapper = std::make_unique<PortMapper>(config);
  std::vector<sim::UdpSocket*> sockets{control};
  // Unsolicited announcements arrive on port 5350 (RFC 6887 §14.1.3, RFC 6886 §3.2.1);
  // when another map action of the host holds it, this one learns at its next refresh.
  if (auto s = h.udp_bind(traversal::pcp::kClientPort)) sockets.push_back(*s);
  // UPnP: the gateway's NOTIFY (UDA 1.1 §1.2) go to the SSDP group; a reboot's byebye and
  // alive make the client check its mappings at once. Held by another map action of the
  // host: this one finds a lost mapping at its next renewal.
  if (std::find(body.protocols.begin(), body.protocols.end(), MappingProtocol::upnp) !=
      body.protocols.end()) {
    if (auto s = h.udp_bind(Endpoint{traversal::ssdp::kMulticastV4, traversal::ssdp::kPort}))
      sockets.push_back(*s);
  }
  r->driver = std::make_unique<SimDriver<PortMapper>>(h, *r->mapper, sockets);
  r->driver->on_event([ctx, r](const PortMapperEvent& e) { r->on_event(e, ctx); });
  const std::size_t id = r->mapper->add(w.net.now(), static_cast<std::uint8_t>(body.transport),
                                        body.internal_port, body.lifetime, body.suggested_port);
  r->driver->pump();
  if (body.delete_after) {
    (void)h.schedule_in(*body.delete_after, [r, &w, id] {
      r->mapper->remove(w.net.now(), id);
      r->driver->pump();
    });
  }
  return run;
}

std::string line(const nlohmann::json& a) {
  std::string s = a["outcome"].get<std::string>();
  if (!a["protocol"].is_null()) s += ", " + a["protocol"].get<std::string>();
  if (!a["external"].is_null()) s += " " + a["external"].get<std::string>();
  if (a.contains("result")) s += " (" + a["result"].get<std::string>() + ")";
  if (a["double_nat"].get<bool>()) s += ", double NAT";
  s += ", " + std::to_string(a["refreshes"].get<std::uint64_t>()) + " refreshes";
  if (a["recreated"].get<std::uint64_t>() > 0)
    s += ", " + std::to_string(a["recreated"].get<std::uint64_t>()) + " re-created";
  if (a.contains("sent")) s += ", " + traffic_line(a);
  return s;
}

}  // namespace

const ActionType& map_action() {
  static const ActionType kType{
      .name = "map",
      .summary = "a port mapping from the gateway (PCP / NAT-PMP / UPnP IGD)",
      .keys = {{"host", ""},
               {"protocol", "auto|pcp|natpmp|upnp"},
               {"protocols", "[pcp|natpmp|upnp, ...] in order"},
               {"parallel", "bool"},
               {"internal_port", ""},
               {"suggested_port", ""},
               {"lifetime", ""},
               {"transport", "udp|tcp"},
               {"delete_after", ""},
               {"from", "server"},
               {"count", ""},
               {"interval", ""},
               {"size", ""}},
      .expect_keys = {{"outcome", "success|error|timeout"},
                      {"protocol", "pcp|natpmp|upnp"},
                      {"external", "address[:port]"},
                      {"double_nat", "bool"},
                      {"result", "result code"},
                      {"mapped_ms", "range"},
                      {"failed_ms", "range"},
                      {"lifetime", "range"},
                      {"refreshes", "range"},
                      {"refreshed_ms", "range"},
                      {"recreated", "range"},
                      {"recreated_ms", "range"},
                      {"reboot_detected_ms", "range"},
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
