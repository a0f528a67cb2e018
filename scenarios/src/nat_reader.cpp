#include "nat_reader.hpp"

#include "natsim/nat_models/nat_behavior_json.hpp"

namespace natsim::scenarios::detail {

nat::NatBehavior parse_nat(const Reader& r) {
  // "nat": "symmetric" is shorthand for {"preset": "symmetric"}.
  if (r.json().is_string()) {
    auto p = nat::preset(r.string());
    if (!p) {
      std::string names;
      for (const auto& preset : nat::presets())
        names += (names.empty() ? "" : ", ") + std::string(preset.name);
      r.fail("unknown preset '" + r.string() + "', expected one of " + names);
    }
    return *p;
  }
  return nat::behavior_from_json(r.json(), r.pointer());
}

namespace {

// Lifetimes are durations in whole seconds, as the protocols carry them.
std::uint32_t lifetime_seconds(const Reader& r) {
  const Duration d = r.duration();
  if (d < seconds(1) || d > seconds(0xffffffffLL) || d % seconds(1) != Duration::zero())
    r.fail("expected whole seconds from 1s");
  return static_cast<std::uint32_t>(d / seconds(1));
}

}  // namespace

std::optional<nat::PortMappingConfig> parse_port_mapping(const Reader& r) {
  if (r.json().is_boolean()) {
    if (!r.boolean()) return std::nullopt;
    return nat::PortMappingConfig{};
  }
  r.only({"pcp", "natpmp", "min_lifetime", "max_lifetime", "quota_per_host", "allow_third_party",
          "honour_suggested_port", "on_reboot"});
  nat::PortMappingConfig c;
  if (auto f = r.get("pcp")) c.pcp = f->boolean();
  if (auto f = r.get("natpmp")) c.natpmp = f->boolean();
  if (auto f = r.get("min_lifetime")) c.min_lifetime = lifetime_seconds(*f);
  if (auto f = r.get("max_lifetime")) c.max_lifetime = lifetime_seconds(*f);
  if (c.max_lifetime < c.min_lifetime) r.fail("max_lifetime is shorter than min_lifetime");
  if (auto f = r.get("quota_per_host"))
    c.quota_per_host = static_cast<std::uint32_t>(f->integer(0, 65535));
  if (auto f = r.get("allow_third_party")) c.allow_third_party = f->boolean();
  if (auto f = r.get("honour_suggested_port")) c.honour_suggested_port = f->boolean();
  if (auto f = r.get("on_reboot")) {
    auto mode = nat::parse_reboot_mappings(f->string());
    if (!mode) f->fail("expected forget, persist or forget_silently");
    c.on_reboot = *mode;
  }
  return c;
}

}  // namespace natsim::scenarios::detail
