#include "natsim/nat_models/nat_behavior_json.hpp"

#include <functional>
#include <map>

namespace natsim::nat {

namespace {

using nlohmann::json;

std::string names_of_presets() {
  std::string out;
  for (const Preset& p : presets())
    out += (out.empty() ? "" : ", ") + std::string(p.name);
  return out;
}

const std::string& as_string(const json& v, const std::string& at, const char* expected) {
  if (!v.is_string()) throw InputError(at, std::string("expected ") + expected);
  return v.get_ref<const std::string&>();
}

template <class E>
E as_enum(const json& v, const std::string& at, std::optional<E> (*parse)(std::string_view),
          const char* choices) {
  const std::string& text = as_string(v, at, choices);
  auto value = parse(text);
  if (!value) throw InputError(at, "unknown value '" + text + "', expected " + choices);
  return *value;
}

bool as_bool(const json& v, const std::string& at) {
  if (!v.is_boolean()) throw InputError(at, "expected true or false");
  return v.get<bool>();
}

std::uint32_t as_uint(const json& v, const std::string& at, std::uint32_t max) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max) {
    throw InputError(at, "expected an integer from 0 to " + std::to_string(max));
  }
  return v.get<std::uint32_t>();
}

Duration as_duration(const json& v, const std::string& at) {
  const std::string& text = as_string(v, at, "a duration such as \"30s\" or \"5m\"");
  auto d = parse_duration(text);
  if (!d)
    throw InputError(at, "bad duration '" + text + "', expected e.g. \"250ms\", \"30s\", \"5m\"");
  return *d;
}

constexpr const char* kMappingChoices =
    "endpoint-independent, address-dependent or address-and-port-dependent";
constexpr const char* kPortChoices = "preserve, sequential or random";
constexpr const char* kPoolingChoices = "paired or arbitrary";
constexpr const char* kTranslationChoices = "translate, firewall or open";
constexpr const char* kUnsolicitedSynChoices = "drop or reset";
constexpr const char* kCollisionChoices = "next-free or random";

std::optional<UnsolicitedSyn> parse_unsolicited_syn(std::string_view t) {
  if (t == "drop") return UnsolicitedSyn::drop;
  if (t == "reset") return UnsolicitedSyn::reset;
  return std::nullopt;
}

}  // namespace

NatBehavior behavior_from_json(const json& profile, const std::string& pointer) {
  if (!profile.is_object()) throw InputError(pointer, "expected an object (a NAT profile)");
  NatBehavior b = *preset("port-restricted-cone");
  if (auto it = profile.find("preset"); it != profile.end()) {
    const std::string at = pointer + "/preset";
    const std::string& name = as_string(*it, at, "a preset name");
    auto p = preset(name);
    if (!p)
      throw InputError(at, "unknown preset '" + name + "', expected one of " + names_of_presets());
    b = *p;
  }
  using Setter = std::function<void(const json&, const std::string&)>;
  const std::map<std::string, Setter> knobs = {
      {"preset", [](const json&, const std::string&) {}},
      {"mapping",
       [&](const json& v, const std::string& at) {
         b.mapping = as_enum(v, at, parse_mapping, kMappingChoices);
       }},
      {"filtering",
       [&](const json& v, const std::string& at) {
         b.filtering = as_enum(v, at, parse_filtering, kMappingChoices);
       }},
      {"port_assignment",
       [&](const json& v, const std::string& at) {
         b.port_assignment = as_enum(v, at, parse_port_assignment, kPortChoices);
       }},
      {"port_range",
       [&](const json& v, const std::string& at) {
         if (!v.is_array() || v.size() != 2) throw InputError(at, "expected [first, last]");
         const auto first = as_uint(v[0], at + "/0", 65535);
         const auto last = as_uint(v[1], at + "/1", 65535);
         if (first == 0 || first > last)
           throw InputError(at, "expected 1 <= first <= last <= 65535");
         b.port_first = static_cast<std::uint16_t>(first);
         b.port_last = static_cast<std::uint16_t>(last);
       }},
      {"preserve_parity",
       [&](const json& v, const std::string& at) { b.preserve_parity = as_bool(v, at); }},
      {"pooling",
       [&](const json& v, const std::string& at) {
         b.pooling = as_enum(v, at, parse_pooling, kPoolingChoices);
       }},
      {"udp_timeout",
       [&](const json& v, const std::string& at) { b.udp_timeout = as_duration(v, at); }},
      {"tcp_established_timeout",
       [&](const json& v, const std::string& at) {
         b.tcp_established_timeout = as_duration(v, at);
       }},
      {"tcp_transitory_timeout",
       [&](const json& v, const std::string& at) {
         b.tcp_transitory_timeout = as_duration(v, at);
       }},
      {"tcp_unsolicited_syn",
       [&](const json& v, const std::string& at) {
         b.tcp_unsolicited_syn = as_enum(v, at, parse_unsolicited_syn, kUnsolicitedSynChoices);
       }},
      {"inbound_refresh",
       [&](const json& v, const std::string& at) { b.inbound_refresh = as_bool(v, at); }},
      {"hairpinning",
       [&](const json& v, const std::string& at) { b.hairpinning = as_bool(v, at); }},
      {"hairpin_translate_source",
       [&](const json& v, const std::string& at) { b.hairpin_translate_source = as_bool(v, at); }},
      {"max_mappings_per_host",
       [&](const json& v, const std::string& at) {
         b.max_mappings_per_host = as_uint(v, at, UINT32_MAX);
       }},
      {"max_mappings",
       [&](const json& v, const std::string& at) { b.max_mappings = as_uint(v, at, UINT32_MAX); }},
      {"port_block_size",
       [&](const json& v, const std::string& at) {
         b.port_block_size = static_cast<std::uint16_t>(as_uint(v, at, 65535));
       }},
      {"conntrack", [&](const json& v, const std::string& at) { b.conntrack = as_bool(v, at); }},
      {"udp_timeout_stream",
       [&](const json& v, const std::string& at) { b.udp_timeout_stream = as_duration(v, at); }},
      {"port_classes",
       [&](const json& v, const std::string& at) { b.port_classes = as_bool(v, at); }},
      {"port_collision",
       [&](const json& v, const std::string& at) {
         b.port_collision = as_enum(v, at, parse_port_collision, kCollisionChoices);
       }},
      {"wan_drop_new",
       [&](const json& v, const std::string& at) { b.wan_drop_new = as_bool(v, at); }},
      {"icmp_unreachable",
       [&](const json& v, const std::string& at) { b.icmp_unreachable = as_bool(v, at); }},
      {"ipv4",
       [&](const json& v, const std::string& at) {
         b.ipv4 = as_enum(v, at, parse_translation, kTranslationChoices);
       }},
      {"ipv6",
       [&](const json& v, const std::string& at) {
         b.ipv6 = as_enum(v, at, parse_translation, kTranslationChoices);
       }},
  };
  for (const auto& [key, value] : profile.items()) {
    const std::string at = pointer + "/" + pointer_token(key);
    auto knob = knobs.find(key);
    if (knob == knobs.end()) {
      std::string known;
      for (const auto& [name, setter] : knobs)
        known += (known.empty() ? "" : ", ") + name;
      throw InputError(at, "unknown key '" + key + "', expected one of " + known);
    }
    knob->second(value, at);
  }
  if (b.port_block_size != 0 && b.port_block_size > b.port_last - b.port_first + 1) {
    throw InputError(pointer + "/port_block_size", "larger than the port range");
  }
  return b;
}

json behavior_to_json(const NatBehavior& b) {
  return json{
      {"mapping", to_string(b.mapping)},
      {"filtering", to_string(b.filtering)},
      {"port_assignment", to_string(b.port_assignment)},
      {"port_range", {b.port_first, b.port_last}},
      {"preserve_parity", b.preserve_parity},
      {"pooling", to_string(b.pooling)},
      {"udp_timeout", format_duration(b.udp_timeout)},
      {"tcp_established_timeout", format_duration(b.tcp_established_timeout)},
      {"tcp_transitory_timeout", format_duration(b.tcp_transitory_timeout)},
      {"tcp_unsolicited_syn", b.tcp_unsolicited_syn == UnsolicitedSyn::reset ? "reset" : "drop"},
      {"inbound_refresh", b.inbound_refresh},
      {"hairpinning", b.hairpinning},
      {"hairpin_translate_source", b.hairpin_translate_source},
      {"max_mappings_per_host", b.max_mappings_per_host},
      {"max_mappings", b.max_mappings},
      {"port_block_size", b.port_block_size},
      {"ipv4", to_string(b.ipv4)},
      {"ipv6", to_string(b.ipv6)},
      {"conntrack", b.conntrack},
      {"udp_timeout_stream", format_duration(b.udp_timeout_stream)},
      {"port_classes", b.port_classes},
      {"port_collision", to_string(b.port_collision)},
      {"wan_drop_new", b.wan_drop_new},
      {"icmp_unreachable", b.icmp_unreachable},
  };
}

}  // namespace natsim::nat
