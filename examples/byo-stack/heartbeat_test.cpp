// The heartbeat library (heartbeat.hpp), unchanged, on natsim virtual hosts through the
// NatsimLoop adapter (natsim_loop.hpp): alice, behind a NAT, watches a public peer; her
// gateway goes down for ten seconds. The test pins when the library declares the peer
// alive, dead and alive again, in virtual time.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "heartbeat.hpp"
#include "natsim/testing/world_test.hpp"
#include "natsim_loop.hpp"

namespace {

using namespace natsim;

sim::LinkParams latency(Duration d) {
  sim::LinkParams p;
  p.latency = d;
  return p;
}

class Heartbeat : public natsim::testing::WorldTest {};

TEST_F(Heartbeat, DetectsAnOutageBehindTheNat) {
  scenarios::World& w = build(scenarios::WorldBuilder(1)
                                  .core_link(latency(milliseconds(10)))
                                  .public_host("peer", "198.51.100.40")
                                  .site("home", "port-restricted-cone", {"alice"}));
  NatsimLoop peer_loop(w.server_host("peer"));
  NatsimLoop alice_loop(w.host("alice"));
  heartbeat::Peer peer(peer_loop, {.port = 7000}, [](bool, std::uint64_t) {});
  std::vector<std::pair<bool, std::uint64_t>> changes;
  heartbeat::Peer alice(
      alice_loop, {.interval_ms = 1000, .misses = 3},
      [&](bool alive, std::uint64_t at_ms) { changes.emplace_back(alive, at_ms); });
  ASSERT_TRUE(peer.opened() && alice.opened());
  alice.watch("198.51.100.40", 7000);

  // The gateway is down from 10.5 s to 20.5 s (it keeps its mappings).
  run_for(milliseconds(10'500));
  w.gateway("home").set_up(false);
  run_for(seconds(10));
  w.gateway("home").set_up(true);
  run_for(seconds(10));

  // Alive at the first PONG: uplink and peer link, 10 ms each, both ways. The last PONG
  // before the outage answers the 10 s ping; the ticks at 11, 12, 13 s count three silent
  // intervals and the one at 14 s declares the peer dead. The 21 s ping is the first to
  // pass the restored gateway.
  const std::vector<std::pair<bool, std::uint64_t>> want{
      {true, 40}, {false, 14'000}, {true, 21'040}};
  EXPECT_EQ(changes, want);
  EXPECT_TRUE(alice.alive());
}

}  // namespace
