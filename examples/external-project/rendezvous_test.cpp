// Outside natsim's tree, against its installed package: two hosts behind NATs meet
// through a public rendezvous host and then talk directly (UDP hole punching), with
// every step pinned in simulated time; and a curated scenario from the installed share/.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "natsim/testing/matchers.hpp"
#include "natsim/testing/world_test.hpp"

namespace {

using namespace natsim;
using natsim::testing::Delivered;
using natsim::testing::Passed;

ByteView bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The rendezvous server tells each of two registered peers where the other came from.
class Rendezvous {
 public:
  explicit Rendezvous(sim::UdpSocket* s) : s_(s) {
    s_->on_receive([this](const sim::Datagram& d) {
      seen_[std::string(d.payload.begin(), d.payload.end())] = d.from;
      if (seen_.size() == 2) {
        const Endpoint a = seen_.begin()->second, b = seen_.rbegin()->second;
        (void)s_->send_to(a, bytes(b.to_string()));
        (void)s_->send_to(b, bytes(a.to_string()));
      }
    });
  }

 private:
  sim::UdpSocket* s_;
  std::map<std::string, Endpoint> seen_;
};

// A peer registers, learns the other's public endpoint and sends it one datagram.
struct Peer {
  Peer(sim::Host& host, const std::string& name, Endpoint server) : s(host.udp_bind(5000).value()) {
    s->on_receive([this, server](const sim::Datagram& d) {
      if (d.from == server) {
        const auto other = Endpoint::parse(std::string(d.payload.begin(), d.payload.end()));
        if (other) (void)s->send_to(*other, bytes("punch"));
      } else {
        direct_at = d.at;
      }
    });
    (void)s->send_to(server, bytes(name));
  }
  sim::UdpSocket* s;
  TimePoint direct_at = kTimeNever;
};

class HolePunching : public natsim::testing::WorldTest {};

TEST_F(HolePunching, ConeNatsMeetDirectly) {
  sim::LinkParams core;
  core.latency = milliseconds(10);
  scenarios::World& w = build(scenarios::WorldBuilder(42)
                                  .core_link(core)
                                  .public_host("rendezvous", "198.51.100.50")
                                  .site("home", "full-cone", {"alice"})
                                  .site("office", "port-restricted-cone", {"bob"}));
  sim::UdpSocket* server = w.server_host("rendezvous").udp_bind(3478).value();
  Rendezvous rendezvous(server);
  const Endpoint at_server{*IpAddress::parse("198.51.100.50"), 3478};
  Peer alice(w.host("alice"), "alice", at_server);
  Peer bob(w.host("bob"), "bob", at_server);

  ASSERT_TRUE(run_until(
      [&] { return alice.direct_at != kTimeNever && bob.direct_at != kTimeNever; }, seconds(2)));
  // Registration: 20 ms to the server (10 ms uplink, 10 ms server link); the answers
  // arrive at 40 ms; the punches cross the two uplinks in 20 ms. Bob's port-restricted
  // NAT lets alice's punch in because bob's own punch to her left first.
  EXPECT_EQ(alice.direct_at, at(milliseconds(60)));
  EXPECT_EQ(bob.direct_at, at(milliseconds(60)));
  EXPECT_THAT(server, Delivered(2));
  EXPECT_THAT(alice.s, Delivered(2));  // the answer and bob's punch
}

TEST_F(HolePunching, InstalledQuickstartScenarioPasses) {
  const scenarios::RunResult r =
      run_file(std::string(NATSIM_SCENARIOS) + "/library/quickstart.json");
  EXPECT_THAT(r, Passed());
  EXPECT_THAT(natsim::testing::action(r, "alice-echo"), Delivered(20));
  EXPECT_EQ(r.simulated, minutes(11));  // as `natsim run` reports it for this file
}

}  // namespace
