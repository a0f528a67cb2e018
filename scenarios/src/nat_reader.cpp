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

// "upnp": true, or an object of UpnpConfig's keys (the service is on unless "enabled"
// says otherwise).
nat::UpnpConfig parse_upnp(const Reader& r) {
  nat::UpnpConfig c;
  if (r.json().is_boolean()) {
    c.enabled = r.boolean();
    return c;
  }
  r.only({"enabled", "http_port", "secure_mode", "max_age", "notify_interval", "max_body",
          "idle_timeout", "max_connections", "ppp", "v1_only", "only_permanent_leases",
          "ignores_lease", "conflict_on_any_port_in_use", "refuse_control", "control_url_host",
          "same_port_only", "external_port_wildcard_only", "remote_host", "answer_within_mx"});
  c.enabled = true;
  auto flag = [&](const char* key, bool& out) {
    if (auto f = r.get(key)) out = f->boolean();
  };
  auto whole_seconds = [&](const char* key, std::uint32_t& out) {
    if (auto f = r.get(key)) out = lifetime_seconds(*f);
  };
  flag("enabled", c.enabled);
  if (auto f = r.get("http_port")) c.http_port = static_cast<std::uint16_t>(f->integer(1, 65535));
  flag("secure_mode", c.secure_mode);
  whole_seconds("max_age", c.max_age);
  whole_seconds("notify_interval", c.notify_interval);
  whole_seconds("idle_timeout", c.idle_timeout);
  if (auto f = r.get("max_body")) c.max_body = static_cast<std::uint32_t>(f->integer(256, 1 << 20));
  if (auto f = r.get("max_connections"))
    c.max_connections = static_cast<std::uint32_t>(f->integer(1, 1024));
  flag("ppp", c.ppp);
  flag("answer_within_mx", c.answer_within_mx);
  flag("v1_only", c.v1_only);
  flag("only_permanent_leases", c.only_permanent_leases);
  flag("ignores_lease", c.ignores_lease);
  flag("conflict_on_any_port_in_use", c.conflict_on_any_port_in_use);
  flag("refuse_control", c.refuse_control);
  flag("same_port_only", c.same_port_only);
  flag("external_port_wildcard_only", c.external_port_wildcard_only);
  if (auto f = r.get("control_url_host")) {
    c.control_url_host = f->string();
    // It goes into a URL: a host name or address, nothing that would end it.
    if (c.control_url_host.find_first_of("/?#@ \r\n\"<>") != std::string::npos ||
        c.control_url_host.size() > 253)
      f->fail("expected a host name or address");
  }
  if (auto f = r.get("remote_host")) {
    const std::string& v = f->string();
    if (v == "any") {
      c.remote_host = nat::RemoteHostSupport::any;
    } else if (v == "wildcard_only") {
      c.remote_host = nat::RemoteHostSupport::wildcard_only;
    } else if (v == "specific_only") {
      c.remote_host = nat::RemoteHostSupport::specific_only;
    } else {
      f->fail("expected any, wildcard_only or specific_only");
    }
  }
  if (c.notify_interval * 2 > c.max_age)
    r.fail("notify_interval must be at most half of max_age (UDA 1.1 §1.2.2)");
  return c;
}

}  // namespace

std::optional<nat::PortMappingConfig> parse_port_mapping(const Reader& r) {
  if (r.json().is_boolean()) {
    if (!r.boolean()) return std::nullopt;
    return nat::PortMappingConfig{};
  }
  r.only({"pcp", "natpmp", "min_lifetime", "max_lifetime", "quota_per_host", "allow_third_party",
          "honour_suggested_port", "on_reboot", "upnp"});
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
  if (auto f = r.get("upnp")) c.upnp = parse_upnp(*f);
  return c;
}

}  // namespace natsim::scenarios::detail
