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
static_assert(StreamMachine<turn::TurnClient>);
static_assert(StreamMachine<turn::TurnServer>);

// handle_datagram must say whether the datagram was the machine's own.
struct SilentAboutDatagrams {
  void handle_datagram(TimePoint, Endpoint, Endpoint, ByteView) {}
  void handle_timeout(TimePoint) {}
  std::optional<Transmit> poll_transmit(MutableByteView) { return std::nullopt; }
  std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  std::optional<int> poll_event() { return std::nullopt; }
};
static_assert(!ProtocolMachine<SilentAboutDatagrams>);

// Events come out as an optional.
struct BareEvents {
  bool handle_datagram(TimePoint, Endpoint, Endpoint, ByteView) { return true; }
  void handle_timeout(TimePoint) {}
  std::optional<Transmit> poll_transmit(MutableByteView) { return std::nullopt; }
  std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  int poll_event() { return 0; }
};
static_assert(!ProtocolMachine<BareEvents>);

struct NotAMachine {
  void handle_timeout(TimePoint) {}
};
static_assert(!ProtocolMachine<NotAMachine>);

TEST(ProtocolMachine, EveryEngineHasTheShape) {
  SUCCEED();
}

}  // namespace
}  // namespace natsim::traversal
