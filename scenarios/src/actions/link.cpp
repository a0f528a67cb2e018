// link: changes a link at run time: up or down, and/or any link parameters (applied over
// its current ones).
#include "../action_type.hpp"
#include "natsim/scenarios/loader.hpp"

namespace natsim::scenarios::detail {

namespace {

struct LinkChange final : ActionSpec {
  std::string target;  // "<site>.uplink", "<site>.lan" or "<server>.link"
  std::optional<bool> up;
  nlohmann::json changes;  // link parameters, validated at load, applied over the link's
};

std::shared_ptr<const ActionSpec> parse(const Reader& r, const Names& names) {
  auto l = std::make_shared<LinkChange>();
  l->target = r.at("target").string();
  const auto dot = l->target.rfind('.');
  const std::string owner = l->target.substr(0, dot);
  const std::string which = dot == std::string::npos ? "" : l->target.substr(dot + 1);
  auto it = names.kinds.find(owner);
  const bool ok =
      it != names.kinds.end() && ((it->second == "site" && (which == "uplink" || which == "lan")) ||
                                  (it->second == "server" && which == "link"));
  if (!ok) {
    r.at("target").fail("unknown link '" + l->target +
                        "', expected \"<site>.uplink\", \"<site>.lan\" or \"<server>.link\"");
  }
  l->changes = nlohmann::json::object();
  for (const auto& [key, value] : r.json().items()) {
    if (key == "at" || key == "id" || key == "action" || key == "target") continue;
    if (key == "up") {
      l->up = r.at("up").boolean();
      continue;
    }
    l->changes[key] = value;
  }
  (void)parse_link_params(l->changes, r.pointer());  // validates the values now
  return l;
}

std::unique_ptr<ActionRun> start(const ActionSpec& spec, const ActionContext& ctx) {
  const auto& body = as<LinkChange>(spec);
  World& w = ctx.world;
  const auto dot = body.target.rfind('.');
  const std::string owner = body.target.substr(0, dot);
  const std::string which = body.target.substr(dot + 1);
  sim::Link* link = which == "link"     ? w.servers.at(owner).link
                    : which == "uplink" ? w.sites.at(owner).uplink
                                        : w.sites.at(owner).lan;
  if (!body.changes.empty()) {
    link->set_params(parse_link_params(body.changes, ctx.out.action->pointer, link->params()));
  }
  if (body.up) link->set_up(*body.up);
  ctx.finish();
  return std::make_unique<ActionRun>();
}

}  // namespace

const ActionType& link_action() {
  static const ActionType kType{
      .name = "link",
      .summary = "change or cut a link",
      .keys = {{"target", ""},
               {"up", ""},
               {"latency", ""},
               {"jitter", ""},
               {"reorder", ""},
               {"loss", ""},
               {"burst", ""},
               {"bandwidth", ""},
               {"queue_bytes", ""},
               {"mtu", ""},
               {"duplicate", ""}},
      .parse = parse,
      .start = start,
  };
  return kType;
}

}  // namespace natsim::scenarios::detail
