// Compile-time check: every protocol engine has the sans-I/O machine shape that both
// drivers (scenarios::SimDriver and io::AsioDriver) rely on.
#include <gtest/gtest.h>

#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/nat_discovery.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_server.hpp"
#include "natsim/traversal/turn_client.hpp"
#include "natsim/traversal/turn_server.hpp"

namespace natsim::traversal {
namespace {

static_assert(ProtocolMachine<stun::StunClient>);
static_assert(ProtocolMachine<stun::StunServer>);
static_assert(ProtocolMachine<NatDiscovery>);
static_assert(ProtocolMachine<turn::TurnClient>);
static_assert(ProtocolMachine<turn::TurnServer>);

struct NotAMachine {
  void handle_timeout(TimePoint) {}
};
static_assert(!ProtocolMachine<NotAMachine>);

TEST(ProtocolMachine, EveryEngineHasTheShape) {
  SUCCEED();
}

}  // namespace
}  // namespace natsim::traversal
