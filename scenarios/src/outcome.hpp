#pragma once
// What each timeline action produced, filled in as a run goes; shared by the actions,
// the expectations and the report.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "natsim/scenarios/runner.hpp"
#include "natsim/scenarios/world.hpp"
#include "natsim/traversal/nat_discovery.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/turn_client.hpp"

namespace natsim::scenarios::detail {

namespace stun = traversal::stun;

inline nlohmann::json endpoint_json(const std::optional<Endpoint>& e) {
  return e ? nlohmann::json(e->to_string()) : nlohmann::json(nullptr);
}

inline double ms(Duration d) {
  return static_cast<double>(d.count()) / 1e6;
}

// What each action produced, filled in as the run goes.
struct Outcome {
  const Action* action;
  bool finished = false;
  TimePoint started;
  TimePoint ended;
  std::optional<traversal::DiscoveryReport> probe;
  std::optional<stun::BindingResult> binding;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;  // counted by the echo server, read after the run
  std::uint64_t echoed = 0;
  std::string error;  // an action that could not run (e.g. a bind failure)
  // relay actions
  std::optional<std::string> relay_outcome;  // success | error | timeout
  std::optional<Endpoint> relayed;
  std::string relay_detail;  // the TURN error, when the allocation or permission failed
  std::uint64_t relayed_bytes = 0;
  Duration setup{0};
};

// One relay action's machines: the allocating host's TURN client and the peer's STUN
// client (which learns the peer's public address, then hands its socket back).
// Send actions tag their payloads with the action's index so echo servers count them.
inline constexpr std::uint32_t kTagMagic = 0x6e730000;

}  // namespace natsim::scenarios::detail
