// Two ICE agents on the simulator behind NAT presets, with a STUN and a TURN server on the
// virtual internet: a direct path where hole punching works, the relay where it cannot,
// with the simulated setup times pinned.
//
// Links: every site's uplink 10 ms, every server's link 5 ms (one way), so peer to peer
// is 20 ms one way and a peer to a server 15 ms. Signalling is instantaneous: each agent
// gets the other's description the moment the later of the two finished gathering.
#include <gtest/gtest.h>

#include <memory>

#include "natsim/scenarios/world.hpp"
#include "natsim/traversal/ice_agent.hpp"

namespace natsim::scenarios {
namespace {

namespace ice = traversal::ice;

const IpAddress kStun = *IpAddress::parse("198.51.100.10");
const IpAddress kTurn = *IpAddress::parse("198.51.100.20");

std::unique_ptr<World> make_world(const char* nat_a, const char* nat_b, std::uint64_t seed = 1) {
  Scenario s;
  s.name = "ice";
  sim::LinkParams server_link;
  server_link.latency = milliseconds(5);
  ServerSpec stun;
  stun.name = "stun";
  stun.kind = ServerKind::stun;
  stun.address = kStun;
  stun.link = server_link;
  ServerSpec turn;
  turn.name = "turn";
  turn.kind = ServerKind::turn;
  turn.address = kTurn;
  turn.users = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
  turn.link = server_link;
  s.servers = {stun, turn};
  sim::LinkParams uplink;
  uplink.latency = milliseconds(10);
  SiteSpec a;
  a.name = "home";
  a.nat = *nat::preset(nat_a);
  a.hosts = {"alice"};
  a.uplink = uplink;
  SiteSpec b = a;
  b.name = "office";
  b.nat = *nat::preset(nat_b);
  b.hosts = {"bob"};
  s.sites = {a, b};
  return std::make_unique<World>(s, seed);
}

struct Peer {
  Peer(World& w, const std::string& host, const std::string& user, bool controlling, bool with_turn,
       std::uint64_t seed)
      : node(w.host(host)), socket(node.udp_bind(5000).value()) {
    ice::AgentConfig c;
    c.controlling = controlling;
    const Endpoint local{*node.address(), 5000};
    c.host = {local};
    c.stun_server = Endpoint{kStun, 3478};
    if (with_turn) {
      traversal::turn::ClientConfig t;
      t.local = local;
      t.server = Endpoint{kTurn, 3478};
      t.username = user;
      t.password = user + "-secret";
      c.turn = t;
    }
    agent = std::make_unique<ice::Agent>(seed, c);
    driver = std::make_unique<SimDriver<ice::Agent>>(node, *agent, std::vector{socket});
    driver->on_event([this](const ice::Event& e) {
      const TimePoint now = node.now();
      if (const auto* g = std::get_if<ice::GatheringDone>(&e)) {
        gathered = now;
        candidates = g->candidates;
        if (on_gathered) on_gathered();
      } else if (const auto* s = std::get_if<ice::Selected>(&e)) {
        if (!selected) selected = now;
        path = s->path;
        selected_pair = *s;
      } else if (const auto* f = std::get_if<ice::Failed>(&e)) {
        failed = f->reason;
      } else if (const auto* d = std::get_if<ice::Data>(&e)) {
        received.emplace_back(now, std::string(d->bytes.begin(), d->bytes.end()));
      }
    });
  }
  void give_remote(const Peer& other) {
    agent->set_remote(node.now(), other.agent->ufrag(), other.agent->pwd(), other.candidates, true);
    driver->pump();
  }

  sim::Host& node;
  sim::UdpSocket* socket;
  std::unique_ptr<ice::Agent> agent;
  std::unique_ptr<SimDriver<ice::Agent>> driver;
  std::function<void()> on_gathered;
  std::optional<TimePoint> gathered, selected;
  std::optional<ice::PathType> path;
  std::optional<ice::Selected> selected_pair;
  std::vector<ice::Candidate> candidates;
  std::optional<std::string> failed;
  std::vector<std::pair<TimePoint, std::string>> received;
};

// Gathers on both, exchanges descriptions once both are done, runs `span` of virtual time.
void connect(World& w, Peer& a, Peer& b, Duration span) {
  auto exchange = [&] {
    if (!a.gathered || !b.gathered) return;
    a.give_remote(b);
    b.give_remote(a);
  };
  a.on_gathered = exchange;
  b.on_gathered = exchange;
  a.agent->gather(w.net.now());
  a.driver->pump();
  b.agent->gather(w.net.now());
  b.driver->pump();
  w.net.run_for(span);
}

int count(const std::vector<ice::Candidate>& cs, ice::CandidateType t) {
  int n = 0;
  for (const auto& c : cs)
    n += c.type == t ? 1 : 0;
  return n;
}

TEST(IceSim, FullConeAndSymmetricConnectDirectly) {
  auto w = make_world("full-cone", "symmetric");
  Peer a(*w, "alice", "alice", true, false, 11);
  Peer b(*w, "bob", "bob", false, false, 12);
  connect(*w, a, b, seconds(5));
  ASSERT_TRUE(a.gathered && b.gathered);
  // Gathering: one Binding to the STUN server, 30 ms round trip.
  EXPECT_EQ(*a.gathered, at(milliseconds(30)));
  EXPECT_EQ(*b.gathered, at(milliseconds(30)));
  EXPECT_EQ(count(a.candidates, ice::CandidateType::srflx), 1);
  EXPECT_EQ(count(b.candidates, ice::CandidateType::srflx), 1);
  ASSERT_TRUE(a.selected && b.selected) << a.failed.value_or("") << b.failed.value_or("");
  EXPECT_FALSE(a.failed);
  // bob's symmetric NAT gives a new mapping towards alice: peer-reflexive on both sides.
  EXPECT_EQ(a.path, ice::PathType::prflx);
  EXPECT_EQ(b.path, ice::PathType::prflx);
  EXPECT_EQ(a.selected_pair->remote.type, ice::CandidateType::prflx);
  EXPECT_EQ(b.selected_pair->local.type, ice::CandidateType::prflx);
  // Descriptions exchanged at 30 ms. bob's check to alice's srflx (second Ta slot, 80 ms)
  // gets through alice's full cone at 100; alice's triggered check back (paced to 130)
  // passes the mapping bob's check opened and succeeds at 170. The host-host pairs (to
  // private addresses) are still retransmitting, so regular nomination waits
  // nomination_wait (500 ms) after the first valid pair: USE-CANDIDATE leaves at 670,
  // bob selects at 690, alice at 710.
  EXPECT_EQ(*a.selected, at(milliseconds(710)));
  EXPECT_EQ(*b.selected, at(milliseconds(690)));
  // Data over the selected pair.
  const std::string hello = "hello";
  EXPECT_TRUE(a.agent->send(
      w->net.now(), ByteView(reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size())));
  a.driver->pump();
  w->net.run_for(seconds(1));
  ASSERT_EQ(b.received.size(), 1u);
  EXPECT_EQ(b.received[0].second, "hello");
  EXPECT_EQ(b.driver->unclaimed(), 0u);
}

TEST(IceSim, SymmetricAndSymmetricConnectThroughTheRelay) {
  auto w = make_world("symmetric", "symmetric");
  Peer a(*w, "alice", "alice", true, true, 21);
  Peer b(*w, "bob", "bob", false, true, 22);
  connect(*w, a, b, seconds(10));
  ASSERT_TRUE(a.gathered && b.gathered);
  EXPECT_EQ(count(a.candidates, ice::CandidateType::relay), 1);
  EXPECT_EQ(count(b.candidates, ice::CandidateType::relay), 1);
  // Gathering waits for the Allocate: 401 challenge, then the authenticated request.
  EXPECT_EQ(*a.gathered, at(milliseconds(60)));
  ASSERT_TRUE(a.selected && b.selected) << a.failed.value_or("") << b.failed.value_or("");
  EXPECT_EQ(a.path, ice::PathType::relay);
  EXPECT_EQ(b.path, ice::PathType::relay);
  // Regular nomination again waits 500 ms behind the direct pairs that cannot succeed.
  EXPECT_EQ(*a.selected, at(milliseconds(830)));
  EXPECT_EQ(*b.selected, at(milliseconds(800)));
  // alice's host socket reaches bob's relayed address through her NAT (bob's TURN
  // permission is for her NAT's address, whatever the port): a peer-reflexive local
  // candidate paired with bob's relayed one.
  EXPECT_EQ(a.selected_pair->local.type, ice::CandidateType::prflx);
  EXPECT_EQ(a.selected_pair->remote.type, ice::CandidateType::relay);
  const std::string hello = "through the relay";
  EXPECT_TRUE(b.agent->send(
      w->net.now(), ByteView(reinterpret_cast<const std::uint8_t*>(hello.data()), hello.size())));
  b.driver->pump();
  w->net.run_for(seconds(1));
  ASSERT_EQ(a.received.size(), 1u);
  EXPECT_EQ(a.received[0].second, hello);
}

TEST(IceSim, SymmetricPairWithoutRelayFailsWithAReason) {
  auto w = make_world("symmetric", "symmetric");
  Peer a(*w, "alice", "alice", true, false, 31);
  Peer b(*w, "bob", "bob", false, false, 32);
  connect(*w, a, b, seconds(60));
  EXPECT_FALSE(a.selected);
  ASSERT_TRUE(a.failed);
  EXPECT_EQ(*a.failed, "all 2 candidate pairs failed");
}

}  // namespace
}  // namespace natsim::scenarios
