#include "list.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "natsim/nat_models/nat_behavior_json.hpp"
#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/scenarios/action_catalog.hpp"
#include "natsim/sim/counters.hpp"

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

int list_actions(bool json) {
  if (json) {
    std::printf("%s\n", scenarios::action_catalog_json().dump(2).c_str());
    return 0;
  }
  for (const scenarios::ActionInfo& a : scenarios::action_catalog()) {
    std::string keys;
    for (const scenarios::ActionKeyInfo& k : a.keys) {
      keys += (keys.empty() ? "" : ", ") + k.name;
      if (!k.note.empty()) keys += " (" + k.note + ")";
    }
    std::printf("%-15s %-55s %s\n", a.name.c_str(), keys.c_str(), a.summary.c_str());
  }
  return 0;
}

int list_metrics() {
  std::printf("any node or link (or \"network\"):\n  sent delivered forwarded dropped\n");
  for (std::size_t r = 0; r < sim::kDropReasonCount; ++r) {
    const auto name = sim::to_string(static_cast<sim::DropReason>(r));
    std::printf("  drops.%.*s\n", static_cast<int>(name.size()), name.data());
  }
  std::printf(
      "gateways (sites):\n  nat.outbound nat.inbound nat.hairpinned nat.mappings "
      "nat.mappings_created nat.mappings_expired\n");
  for (std::size_t r = 0; r < nat::kNatDropCount; ++r) {
    const auto name = nat::to_string(static_cast<nat::NatDrop>(r));
    std::printf("  nat.drops.%.*s\n", static_cast<int>(name.size()), name.data());
  }
  std::printf(
      "TURN servers:\n  turn.allocations turn.relayed_to_peer turn.relayed_to_client "
      "turn.bytes_to_peer turn.bytes_to_client turn.auth_failures turn.dropped_no_permission\n");
  std::printf("gateways with port_mapping:\n  nat.mappings_mapped nat.mappings_unmapped\n");
  for (const auto& [name, value] : nat::port_mapping_metrics({}, {}, true))
    std::printf("  %s\n", name.c_str());
  return 0;
}

}  // namespace natsim::tools
