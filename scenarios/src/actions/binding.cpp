// binding: one STUN Binding transaction (RFC 8489, with retransmissions) from a host.
#include "../action_type.hpp"
#include "natsim/traversal/stun_client.hpp"

namespace natsim::scenarios::detail {

namespace {

namespace stun = traversal::stun;

struct Binding final : ActionSpec {
  std::string host;
  std::string server;
  std::uint16_t port = 0;  // local port; 0 = ephemeral
};

struct BindingCheck final : ActionCheck {
  std::optional<std::string> outcome;
  std::optional<Range> rtt_ms;
  std::optional<std::string> mapped_changed_from;  // id of another binding action
};

std::string outcome_text(stun::BindingResult::Outcome o) {
  constexpr const char* kOutcomes[] = {"success", "error", "timeout"};
  return kOutcomes[static_cast<int>(o)];
}

class BindingRun final : public ActionRun {
 public:
  void report(nlohmann::json& a) const override {
    if (!result) return;
    a["outcome"] = outcome_text(result->outcome);
    a["mapped"] = endpoint_json(result->mapped);
    a["rtt_ms"] = ms(result->rtt);
    a["transmissions"] = result->transmissions;
  }

  void check(const ActionCheck& c, const OutcomesById& others, Checks& checks) const override {
    const auto& e = as<BindingCheck>(c);
    const auto& b = *result;
    const std::string got = outcome_text(b.outcome);
    if (e.outcome)
      checks.check(got == *e.outcome, "outcome: expected " + *e.outcome + ", got " + got);
    if (e.rtt_ms) {
      checks.check(
          b.outcome == stun::BindingResult::Outcome::success && e.rtt_ms->contains(ms(b.rtt)),
          "rtt_ms: expected " + range_text(*e.rtt_ms) + ", got " +
              nlohmann::json(ms(b.rtt)).dump());
    }
    if (e.mapped_changed_from) {
      // The loader made sure it names a binding action.
      const Outcome& other_outcome = *others.at(*e.mapped_changed_from);
      const auto* other = static_cast<const BindingRun*>(other_outcome.run.get());
      const std::optional<stun::BindingResult>* before = other ? &other->result : nullptr;
      const bool known = before != nullptr && before->has_value();
      const bool changed =
          known && (*before)->mapped && b.mapped && *(*before)->mapped != *b.mapped;
      checks.check(changed, "mapped address: expected a change from " + *e.mapped_changed_from +
                                "'s " +
                                (known ? endpoint_json((*before)->mapped).dump() : "nothing") +
                                ", got " + endpoint_json(b.mapped).dump());
    }
  }

  std::unique_ptr<stun::StunClient> machine;
  std::unique_ptr<SimDriver<stun::StunClient>> driver;
  std::optional<stun::BindingResult> result;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto b = std::make_shared<Binding>();
  b->host = names.require(r.at("host"), "host");
  b->server = names.require_server(r.at("server"), ServerKind::stun, /*or_turn=*/true);
  if (auto p = r.get("port")) b->port = static_cast<std::uint16_t>(p->integer(1, 65535));
  return b;
}

std::shared_ptr<const ActionCheck> parse_check(const Reader& r, const ActionsById& actions) {
  auto e = std::make_shared<BindingCheck>();
  if (auto f = r.get("outcome")) e->outcome = one_of(*f, {"success", "error", "timeout"});
  if (auto f = r.get("rtt_ms")) e->rtt_ms = parse_range(*f);
  if (auto f = r.get("mapped_changed_from")) {
    e->mapped_changed_from = f->string();
    auto other = actions.find(*e->mapped_changed_from);
    if (other == actions.end() || other->second->type != "binding") {
      f->fail("no binding action with id '" + *e->mapped_changed_from + "'");
    }
  }
  return e;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Binding>(spec);
  auto run = std::make_unique<BindingRun>();
  sim::Host& h = ctx.world.host(body.host);
  sim::UdpSocket* s = ctx.bind(h, body.port);
  if (s == nullptr) return run;
  run->machine = std::make_unique<stun::StunClient>(ctx.seed("stun"));
  run->driver = std::make_unique<SimDriver<stun::StunClient>>(h, *run->machine, std::vector{s});
  run->driver->on_event([ctx, r = run.get()](const stun::BindingResult& result) {
    r->result = result;
    ctx.finish();
    r->driver->close();
  });
  run->machine->send_binding(ctx.world.net.now(),
                             Endpoint{*h.address(s->local().address.family()), s->local().port},
                             ctx.world.server(body.server));
  run->driver->pump();
  return run;
}

std::string line(const nlohmann::json& a) {
  return a["outcome"].get<std::string>() + ", mapped " +
         (a["mapped"].is_null() ? "-" : a["mapped"].get<std::string>()) + ", " +
         std::to_string(a["transmissions"].get<int>()) + " transmission(s)";
}

}  // namespace

const ActionType& binding_action() {
  static const ActionType kType{
      .name = "binding",
      .summary = "one STUN Binding transaction",
      .keys = {{"host", ""}, {"server", "STUN/TURN"}, {"port", ""}},
      .expect_keys = {{"outcome", "success|error|timeout"},
                      {"rtt_ms", "range"},
                      {"mapped_changed_from", "binding id"}},
      .parse = parse,
      .parse_check = parse_check,
      .start = start,
      .line = line,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
