#include "list.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "natsim/nat_models/nat_behavior_json.hpp"

namespace natsim::tools {

namespace {

std::string short_name(nat::Mapping m) {
  constexpr const char* kNames[] = {"EIM", "ADM", "APDM"};
  return kNames[static_cast<int>(m)];
}
std::string short_name(nat::Filtering f) {
  constexpr const char* kNames[] = {"EIF", "ADF", "APDF"};
  return kNames[static_cast<int>(f)];
}

}  // namespace

int list_presets(bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const nat::Preset& p : nat::presets()) {
      out.push_back({{"name", p.name},
                     {"description", p.description},
                     {"behavior", nat::behavior_to_json(p.behavior)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%-22s %-5s %-5s %-11s %-8s %-8s %s\n", "preset", "map", "filt", "ports", "hairpin",
              "udp", "description");
  for (const nat::Preset& p : nat::presets()) {
    const nat::NatBehavior& b = p.behavior;
    const bool translates = b.ipv4 == nat::Translation::translate;
    std::printf("%-22.*s %-5s %-5s %-11.*s %-8s %-8s %.*s\n", static_cast<int>(p.name.size()),
                p.name.data(), translates ? short_name(b.mapping).c_str() : "-",
                b.ipv4 == nat::Translation::open ? "-" : short_name(b.filtering).c_str(),
                static_cast<int>(to_string(b.port_assignment).size()),
                translates ? to_string(b.port_assignment).data() : "-",
                translates ? (b.hairpinning ? "yes" : "no") : "-",
                format_duration(b.udp_timeout).c_str(), static_cast<int>(p.description.size()),
                p.description.data());
  }
  return 0;
}

}  // namespace natsim::tools
