#pragma once
// Starting timeline actions: each runs protocol machines on the world's hosts and
// records its outcome.
#include <memory>
#include <vector>

#include "outcome.hpp"

namespace natsim::scenarios::detail {

struct RelayRun {
  std::unique_ptr<traversal::turn::TurnClient> turn;
  std::unique_ptr<SimDriver<traversal::turn::TurnClient>> turn_driver;
  std::unique_ptr<stun::StunClient> stun;
  std::unique_ptr<SimDriver<stun::StunClient>> stun_driver;
  std::optional<Endpoint> peer_mapped;
  bool permission_requested = false;
};

// Owns the machines and drivers started by actions; they live until the run ends.
struct Actors {
  std::vector<std::unique_ptr<traversal::NatDiscovery>> probes;
  std::vector<std::unique_ptr<SimDriver<traversal::NatDiscovery>>> probe_drivers;
  std::vector<std::unique_ptr<stun::StunClient>> clients;
  std::vector<std::unique_ptr<SimDriver<stun::StunClient>>> client_drivers;
  std::vector<std::unique_ptr<RelayRun>> relays;
};

// Starts the action of `out` now; `index` is its position in the timeline.
void start_action(World& w, Actors& actors, Outcome& out, std::uint32_t index, std::uint64_t seed);

}  // namespace natsim::scenarios::detail
