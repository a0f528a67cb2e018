// set_nat: new NAT behaviour for the site's gateway (mappings dropped).
#include "../action_type.hpp"
#include "../nat_reader.hpp"

namespace natsim::scenarios::detail {

namespace {

struct SetNat final : ActionSpec {
  std::string site;
  nat::NatBehavior nat;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto s = std::make_shared<SetNat>();
  s->site = names.require(r.at("site"), "site");
  s->nat = parse_nat(r.at("nat"));
  return s;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<SetNat>(spec);
  ctx.world.gateway(body.site).set_behavior(body.nat);
  ctx.finish();
  return std::make_unique<ActionRun>();
}

}  // namespace

const ActionType& set_nat_action() {
  static const ActionType kType{
      .name = "set_nat",
      .summary = "new NAT behaviour",
      .keys = {{"site", ""}, {"nat", "preset or profile"}},
      .parse = parse,
      .start = start,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
