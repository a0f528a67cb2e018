// probe: RFC 5780 NAT behaviour discovery from a host against a STUN server.
#include "../action_type.hpp"
#include "natsim/traversal/nat_discovery.hpp"

namespace natsim::scenarios::detail {

namespace {

struct Probe final : ActionSpec {
  std::string host;
  std::string server;
  bool lifetime = false;
  Duration lifetime_max = minutes(10);
  Duration lifetime_precision = seconds(5);
  // Each trial on a new socket (a new flow), as `natsim probe` does on real sockets; off
  // by default so existing scenarios keep their runs.
  bool lifetime_fresh = false;
  // The binding-lifetime search idles up to ten minutes per step.
  [[nodiscard]] Duration settle() const override { return minutes(lifetime ? 70 : 10); }
};

struct ProbeCheck final : ActionCheck {
  std::optional<std::string> mapping;
  std::optional<std::string> filtering;
  std::optional<bool> hairpinning;
  std::optional<Range> lifetime_s;
};

class ProbeRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    if (!result) return;
    const auto& p = *result;
    a["mapping"] = traversal::to_string(p.mapping);
    a["filtering"] = traversal::to_string(p.filtering);
    a["hairpinning"] = p.hairpinning ? nlohmann::json(*p.hairpinning) : nlohmann::json(nullptr);
    a["mapped"] = endpoint_json(p.mapped);
    if (p.binding_lifetime) a["binding_lifetime_s"] = to_seconds(*p.binding_lifetime);
    if (fresh) {
      a["binding_lifetime_fresh_flow"] = p.lifetime_of_fresh_flow;
      a["established_flow_outlived_fresh"] =
          p.established_flow_outlived_fresh ? nlohmann::json(*p.established_flow_outlived_fresh)
                                            : nlohmann::json(nullptr);
    }
    a["setup_ms"] = ms(p.elapsed);
    a["notes"] = p.notes;
  }

  void check(const ActionCheck& c, const OutcomesById&, Checks& checks) const override {
    const auto& e = as<ProbeCheck>(c);
    const auto& p = *result;
    auto text = [](bool b) { return std::string(b ? "true" : "false"); };
    if (e.mapping) {
      const std::string got(traversal::to_string(p.mapping));
      checks.check(got == *e.mapping, "mapping: expected " + *e.mapping + ", got " + got);
    }
    if (e.filtering) {
      const std::string got(traversal::to_string(p.filtering));
      checks.check(got == *e.filtering, "filtering: expected " + *e.filtering + ", got " + got);
    }
    if (e.hairpinning) {
      checks.check(p.hairpinning == e.hairpinning,
                   "hairpinning: expected " + text(*e.hairpinning) + ", got " +
                       (p.hairpinning ? text(*p.hairpinning) : "undetermined"));
    }
    if (e.lifetime_s) {
      const double got = p.binding_lifetime ? to_seconds(*p.binding_lifetime) : -1;
      checks.check(p.binding_lifetime && e.lifetime_s->contains(got),
                   "lifetime_s: expected " + range_text(*e.lifetime_s) + ", got " +
                       (p.binding_lifetime ? nlohmann::json(got).dump() : "undetermined"));
    }
  }

  std::unique_ptr<traversal::NatDiscovery> machine;
  std::unique_ptr<SimDriver<traversal::NatDiscovery>> driver;
  std::optional<traversal::DiscoveryReport> result;
  bool fresh = false;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto p = std::make_shared<Probe>();
  p->host = names.require(r.at("host"), "host");
  p->server = names.require_server(r.at("server"), ServerKind::stun);
  if (auto l = r.get("lifetime")) p->lifetime = l->boolean();
  for (const char* key : {"lifetime_max", "lifetime_precision", "lifetime_fresh"}) {
    if (r.has(key) && !p->lifetime)
      r.at(key).fail(std::string("'") + key + "' goes with 'lifetime': true");
  }
  if (auto m = r.get("lifetime_max")) {
    p->lifetime_max = m->duration();
    if (p->lifetime_max < seconds(1) || p->lifetime_max > minutes(60))
      m->fail("expected 1s to 60m");
  }
  if (auto m = r.get("lifetime_precision")) {
    p->lifetime_precision = m->duration();
    if (p->lifetime_precision < milliseconds(100) || p->lifetime_precision > p->lifetime_max)
      m->fail("expected 100ms to lifetime_max");
  }
  if (auto f = r.get("lifetime_fresh")) p->lifetime_fresh = f->boolean();
  return p;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById&) {
  auto e = std::make_shared<ProbeCheck>();
  if (auto f = r.get("mapping")) {
    e->mapping = one_of(*f, {"none", "endpoint-independent", "address-dependent",
                             "address-and-port-dependent", "undetermined"});
  }
  if (auto f = r.get("filtering")) {
    e->filtering = one_of(*f, {"endpoint-independent", "address-dependent",
                               "address-and-port-dependent", "undetermined"});
  }
  if (auto f = r.get("hairpinning")) e->hairpinning = f->boolean();
  if (auto f = r.get("lifetime_s")) e->lifetime_s = parse_range(*f);
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Probe>(spec);
  auto run = std::make_unique<ProbeRun>();
  sim::Host& h = ctx.world.host(body.host);
  sim::UdpSocket* s = ctx.bind(h, 0);
  if (s == nullptr) return run;
  traversal::DiscoveryOptions o;
  o.local = Endpoint{*h.address(s->local().address.family()), s->local().port};  // IPv6 sites too
  o.server = ctx.world.server(body.server);
  std::vector<sim::UdpSocket*> sockets{s};
  if (body.lifetime) {
    sim::UdpSocket* second = ctx.bind(h, 0);
    if (second == nullptr) return run;
    o.lifetime_local = Endpoint{*h.address(second->local().address.family()), second->local().port};
    sockets.push_back(second);
    o.lifetime_max = body.lifetime_max;
    o.lifetime_precision = body.lifetime_precision;
    if (body.lifetime_fresh) {
      // One socket per trial of the binary search (and one to spare), as `natsim probe`.
      int trials = 2;
      for (Duration span = body.lifetime_max; span > body.lifetime_precision; span /= 2)
        ++trials;
      for (int i = 0; i < trials; ++i) {
        sim::UdpSocket* fresh = ctx.bind(h, 0);
        if (fresh == nullptr) return run;
        o.lifetime_fresh_locals.push_back(
            Endpoint{*h.address(fresh->local().address.family()), fresh->local().port});
        sockets.push_back(fresh);
      }
      run->fresh = true;
    }
  }
  run->machine = std::make_unique<traversal::NatDiscovery>(ctx.seed("discovery"), o);
  run->driver = std::make_unique<SimDriver<traversal::NatDiscovery>>(h, *run->machine, sockets);
  run->driver->on_event([ctx, r = run.get()](const traversal::DiscoveryReport& report) {
    r->result = report;
    ctx.finish();
    r->driver->close();  // frees the ports for later actions
  });
  run->machine->start(ctx.world.net.now());
  run->driver->pump();
  return run;
}

std::string line(const nlohmann::json& a) {
  const nlohmann::json& h = a["hairpinning"];
  std::string line = "mapping " + a["mapping"].get<std::string>() + ", filtering " +
                     a["filtering"].get<std::string>() + ", hairpinning " +
                     (h.is_null() ? "n/a" : (h.get<bool>() ? "yes" : "no")) + ", mapped " +
                     (a["mapped"].is_null() ? "-" : a["mapped"].get<std::string>());
  if (a.contains("binding_lifetime_s")) {
    line += ", lifetime " + nlohmann::json(a["binding_lifetime_s"]).dump() + " s";
  }
  return line;
}

}  // namespace

const ActionType& probe_action() {
  static const ActionType kType{
      .name = "probe",
      .summary = "RFC 5780 NAT behaviour discovery",
      .keys = {{"host", ""},
               {"server", "STUN"},
               {"lifetime", ""},
               {"lifetime_max", "default 10m"},
               {"lifetime_precision", "default 5s"},
               {"lifetime_fresh", "a new flow per trial"}},
      .expect_keys = {{"mapping", ""},
                      {"filtering", ""},
                      {"hairpinning", ""},
                      {"lifetime_s", "range"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
