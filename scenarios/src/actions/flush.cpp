// flush: the site's gateway forgets its mappings; nothing else changes.
#include "../action_type.hpp"

namespace natsim::scenarios::detail {

namespace {

struct Flush final : ActionSpec {
  std::string site;
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto f = std::make_shared<Flush>();
  f->site = names.require(r.at("site"), "site");
  return f;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  ctx.world.gateway(as<Flush>(spec).site).flush_mappings();
  ctx.finish();
  return std::make_unique<ActionRun>();
}

}  // namespace

const ActionType& flush_action() {
  static const ActionType kType{
      .name = "flush",
      .summary = "drop every mapping",
      .keys = {{"site", ""}},
      .parse = parse,
      .start = start,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
