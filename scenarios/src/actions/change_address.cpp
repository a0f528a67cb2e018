// change_address: the ISP renumbers the site's gateway (mappings lost).
#include "../action_type.hpp"

namespace natsim::scenarios::detail {

namespace {

struct ChangeAddress final : ActionSpec {
  std::string site;
  InterfaceAddress address;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto c = std::make_shared<ChangeAddress>();
  c->site = names.require(r.at("site"), "site");
  c->address = r.at("address").interface_address();
  return c;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<ChangeAddress>(spec);
  const SiteNode& site = ctx.world.sites.at(body.site);
  site.readdress(body.address);
  site.gateway->change_wan_address(body.address);
  ctx.finish();
  return std::make_unique<ActionRun>();
}

}  // namespace

const ActionType& change_address_action() {
  static const ActionType kType{
      .name = "change_address",
      .summary = "the ISP renumbers the gateway",
      .keys = {{"site", ""}, {"address", ""}},
      .parse = parse,
      .start = start,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
