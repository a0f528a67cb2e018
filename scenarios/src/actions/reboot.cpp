// reboot: the site's gateway loses every mapping, is down for `downtime`, and optionally
// comes back with a new WAN address.
#include "../action_type.hpp"

namespace natsim::scenarios::detail {

namespace {

struct Reboot final : ActionSpec {
  std::string site;
  Duration downtime{0};
  std::optional<InterfaceAddress> new_address;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto b = std::make_shared<Reboot>();
  b->site = names.require(r.at("site"), "site");
  if (auto d = r.get("downtime")) b->downtime = d->duration();
  if (auto n = r.get("new_address")) b->new_address = n->interface_address();
  return b;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<Reboot>(spec);
  const SiteNode& site = ctx.world.sites.at(body.site);
  if (body.new_address) site.readdress(*body.new_address);
  site.gateway->reboot(body.downtime, body.new_address);
  ctx.finish();
  return std::make_unique<ActionRun>();
}

}  // namespace

const ActionType& reboot_action() {
  static const ActionType kType{
      .name = "reboot",
      .summary = "gateway reboot: mappings lost",
      .keys = {{"site", ""}, {"downtime", ""}, {"new_address", ""}},
      .parse = parse,
      .start = start,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
