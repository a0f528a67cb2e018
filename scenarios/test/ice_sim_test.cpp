// Two ICE agents on the simulator behind NAT presets, with a STUN and a TURN server on the
// virtual internet: a direct path where hole punching works, the relay where it cannot,
// with the simulated setup times pinned.
//
// Links: every site's uplink 10 ms, every server's link 5 ms (one way), so peer to peer
// is 20 ms one way and a peer to a server 15 ms. Signalling is instantaneous: each agent
// gets the other's description the moment the later of the two finished gathering.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "natsim/scenarios/world.hpp"
#include "natsim/traversal/ice_agent.hpp"

namespace natsim::scenarios {
namespace {

namespace ice = traversal::ice;

const IpAddress kStun = *IpAddress::parse("198.51.100.10");
const IpAddress kTurn = *IpAddress::parse("198.51.100.20");

std::unique_ptr<World> make_world(const nat::NatBehavior& nat_a, const nat::NatBehavior& nat_b,
                                  std::uint64_t seed = 1) {
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
  a.nat = nat_a;
  a.hosts = {"alice"};
  a.uplink = uplink;
  SiteSpec b = a;
  b.name = "office";
  b.nat = nat_b;
  b.hosts = {"bob"};
  s.sites = {a, b};
  return std::make_unique<World>(s, seed);
}

std::unique_ptr<World> make_world(const char* nat_a, const char* nat_b, std::uint64_t seed = 1) {
  return make_world(*nat::preset(nat_a), *nat::preset(nat_b), seed);
}

struct Peer {
  Peer(World& w, const std::string& host, const std::string& user, bool controlling, bool with_turn,
       std::uint64_t seed, Endpoint stun_server = Endpoint{kStun, 3478},
       Endpoint turn_server = Endpoint{kTurn, 3478},
       const std::function<void(ice::AgentConfig&)>& tweak = {})
      : node(w.host(host)), socket(node.udp_bind(5000).value()) {
    ice::AgentConfig c;
    c.controlling = controlling;
    const Endpoint local{*node.address(), 5000};
    c.host = {local};
    c.stun_server = stun_server;
    if (with_turn) {
      traversal::turn::ClientConfig t;
      t.local = local;
      t.server = turn_server;
      t.username = user;
      t.password = user + "-secret";
      c.turn = t;
    }
    if (tweak) tweak(c);
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
  // Descriptions exchanged at 30 ms. Both hosts are behind NATs with different public
  // addresses, so the host-host pairs are unlikely and go last. alice's first check (30)
  // is to bob's srflx, which his symmetric NAT filters; bob's (30) is to alice's srflx,
  // through her full cone at 50: alice learns bob's new mapping as peer-reflexive and her
  // triggered check (next Ta slot, 80) passes the mapping bob's check opened, succeeding
  // at 120 (a 40 ms round trip). Nothing better is plausible (the host-host pair is
  // unlikely), so USE-CANDIDATE leaves at 120; bob, whose own check succeeded at 70,
  // selects at 140, alice at 160.
  EXPECT_EQ(*a.selected, at(milliseconds(160)));
  EXPECT_EQ(*b.selected, at(milliseconds(140)));
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
  // Descriptions exchanged at 60. alice checks bob's two server-reflexive addresses at 60
  // and 110 (his NAT filters both) and, from her host, his relayed address at 160: through
  // her NAT and bob's TURN permission for her NAT's address. bob answers through the relay
  // (30 ms each way) and the pair is valid at 220, a 60 ms round trip. The check to his
  // second srflx, out since 110, would hold nomination until 110 + 2 × 60 = 230, but the
  // valid pair is relayed (prefer_direct): every direct pair in progress holds it until its
  // first retransmission could have been answered (start + 500 ms RTO + 60 ms), the last
  // of them (a host pair, checked after the likelier ones) until 970; USE-CANDIDATE
  // reaches bob at 1000, when he selects; alice gets her answer at 1030.
  EXPECT_EQ(*a.selected, at(milliseconds(1030)));
  EXPECT_EQ(*b.selected, at(milliseconds(1000)));
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

// The same pair without prefer_direct: the relayed pair, valid at 220, is nominated once
// no direct check still in progress could be answered within two of its round trips, not
// after the direct checks' first retransmissions: alice selects 740 ms earlier (the
// price of prefer_direct where no direct path exists; docs/ice.md).
TEST(IceSim, WithoutPreferDirectTheRelayIsNominatedAfterTwoRoundTrips) {
  auto w = make_world("symmetric", "symmetric");
  auto off = [](ice::AgentConfig& c) { c.prefer_direct = false; };
  Peer a(*w, "alice", "alice", true, true, 21, Endpoint{kStun, 3478}, Endpoint{kTurn, 3478}, off);
  Peer b(*w, "bob", "bob", false, true, 22, Endpoint{kStun, 3478}, Endpoint{kTurn, 3478}, off);
  connect(*w, a, b, seconds(10));
  ASSERT_TRUE(a.selected && b.selected) << a.failed.value_or("") << b.failed.value_or("");
  EXPECT_EQ(a.path, ice::PathType::relay);
  EXPECT_EQ(*a.selected, at(milliseconds(290)));
  EXPECT_EQ(*b.selected, at(milliseconds(270)));
}

// Both NATs map per destination (APDM) but filter nothing (EIF). Every check leaves
// through a fresh mapping, which the other side learns as a peer-reflexive candidate and
// checks back through yet another fresh mapping of its own. Without a stop that cascade
// filled both checklists and the agents timed out; RFC 8445 §7.2.5.2.1 makes each such
// non-symmetric answer a failed pair, and the lineage of learnt candidates stops at the
// second generation, so the checklists stay small and the relay is selected.
TEST(IceSim, PerDestinationMappingWithOpenFilteringStopsThePeerReflexiveCascade) {
  nat::NatBehavior nat = *nat::preset("symmetric");
  nat.filtering = nat::Filtering::endpoint_independent;
  auto w = make_world(nat, nat);
  Peer a(*w, "alice", "alice", true, true, 51);
  Peer b(*w, "bob", "bob", false, true, 52);
  connect(*w, a, b, seconds(10));
  ASSERT_TRUE(a.selected && b.selected) << a.failed.value_or("") << b.failed.value_or("");
  EXPECT_FALSE(a.failed);
  EXPECT_FALSE(b.failed);
  EXPECT_EQ(a.path, ice::PathType::relay);
  EXPECT_EQ(*a.selected, at(milliseconds(380)));
  EXPECT_EQ(*b.selected, at(milliseconds(370)));
  // Before the stop the learnt candidates grew until both checklists held 100 pairs.
  EXPECT_EQ(a.agent->counters().prflx_remote, 3u);
  EXPECT_EQ(b.agent->counters().prflx_remote, 4u);
  EXPECT_EQ(a.agent->checklist().size(), 11u);
  EXPECT_EQ(b.agent->checklist().size(), 12u);
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

// The target of natsim's setup time: two peers 50 ms apart (round trip), each 20 ms from
// its STUN/TURN server, signalling 25 ms one way, no loss. In a tree of links a single
// server cannot be 10 ms from both peers when they are 25 ms apart, so each region has its
// own edge server (as anycast STUN/TURN services do): an ISP site without NAT holds the
// edge, with the peer's home NAT nested behind it.
//
//   alice --10 ms-- home NAT --0-- isp-west (open) --2.5 ms-- core --2.5 ms-- isp-east ...
//                                       |
//                                   edge-west (STUN + TURN), 10 ms from alice
struct EdgeWorld {
  explicit EdgeWorld(const char* nat_a, const char* nat_b) {
    Scenario s;
    s.name = "ice-edge";
    auto region = [](const char* isp, const char* edge, const char* home, const char* nat,
                     const char* host) {
      SiteSpec outer;
      outer.name = isp;
      outer.nat = *nat::preset("open");
      outer.hosts = {edge};
      outer.uplink.latency = microseconds(2500);
      SiteSpec inner;
      inner.name = home;
      inner.nat = *nat::preset(nat);
      inner.hosts = {host};
      inner.uplink.latency = milliseconds(10);
      outer.sites = {inner};
      return outer;
    };
    s.sites = {region("isp-west", "edge-west", "home", nat_a, "alice"),
               region("isp-east", "edge-east", "office", nat_b, "bob")};
    world = std::make_unique<World>(s, 1);
    west = add_edge("edge-west", "alice");
    east = add_edge("edge-east", "bob");
  }
  // A TURN server (which answers Binding requests too) on an edge host.
  Endpoint add_edge(const std::string& name, const std::string& user) {
    sim::Host& host = world->host(name);
    traversal::turn::ServerConfig config;
    config.listen = Endpoint{*host.address(), 3478};
    config.relay_address = *host.address();
    config.relay_port_count = 8;
    config.users = {{user, user + "-secret"}};
    turns.push_back(std::make_unique<traversal::turn::TurnServer>(7, config));
    std::vector<sim::UdpSocket*> sockets;
    for (const Endpoint& e : turns.back()->local_endpoints())
      sockets.push_back(host.udp_bind(e).value());
    drivers.push_back(
        std::make_unique<SimDriver<traversal::turn::TurnServer>>(host, *turns.back(), sockets));
    return config.listen;
  }

  std::unique_ptr<World> world;
  std::vector<std::unique_ptr<traversal::turn::TurnServer>> turns;
  std::vector<std::unique_ptr<SimDriver<traversal::turn::TurnServer>>> drivers;
  Endpoint west, east;
};

struct OfferAnswer {
  TimePoint answer_at;  // when alice (offerer, controlling) has bob's answer
  std::optional<TimePoint> a_selected, b_selected;
  std::optional<ice::PathType> path;
};

// alice gathers at 0 and sends her offer when gathering is done; bob starts gathering and
// checking when it arrives (25 ms later) and answers when his gathering is done; the
// answer reaches alice 25 ms later.
OfferAnswer offer_answer(const char* nat_a, const char* nat_b) {
  EdgeWorld e(nat_a, nat_b);
  World& w = *e.world;
  Peer a(w, "alice", "alice", true, true, 41, e.west, e.west);
  Peer b(w, "bob", "bob", false, true, 42, e.east, e.east);
  const Duration signalling = milliseconds(25);
  OfferAnswer r;
  a.on_gathered = [&] {
    (void)w.net.sim().schedule_in(signalling, [&] {
      b.agent->gather(w.net.now());
      b.give_remote(a);
    });
  };
  b.on_gathered = [&] {
    (void)w.net.sim().schedule_in(signalling, [&] {
      r.answer_at = w.net.now();
      a.give_remote(b);
    });
  };
  a.agent->gather(w.net.now());
  a.driver->pump();
  w.net.run_for(seconds(5));
  r.a_selected = a.selected;
  r.b_selected = b.selected;
  r.path = a.path;
  EXPECT_FALSE(a.failed) << *a.failed;
  EXPECT_FALSE(b.failed) << *b.failed;
  return r;
}

// Port-restricted cones (EIM, APDF: the usual home router), both ways. alice's offer
// leaves when her gathering is done at 40 (the Allocate's two round trips: 401, then the
// signed request), reaches bob at 65; bob is done at 105 and his answer reaches alice at
// T = 130.
// - bob checks from 65: first his host to alice's host (he does not know yet that he is
//   behind a NAT: his srflx comes at 85), then at 115 alice's srflx. That check reaches
//   alice's NAT at 140.
// - alice at T knows both hosts are behind different NATs: the host-host pair goes last.
//   Her first check, at 130, is to bob's srflx: it opens her NAT towards him and passes
//   his (his 115 check opened it towards her), reaching bob at 155.
// - So bob's 115 check passes her NAT at 140: alice answers (bob's pair is valid at 165)
//   and, her own check being In-Progress, queues a triggered check in its place.
// - alice's 130 check is answered at 180 = T + 1 RTT: the valid pair, and nothing better
//   is plausible (host-host is unlikely). USE-CANDIDATE leaves at once and reaches bob at
//   205 (T + 75), who selects; alice has the answer at 230 = T + 2 RTTs.
TEST(IceSim, NominationWithinTwoPeerRoundTripsOfTheAnswer) {
  const OfferAnswer r = offer_answer("port-restricted-cone", "port-restricted-cone");
  EXPECT_EQ(r.answer_at, at(milliseconds(130)));
  ASSERT_TRUE(r.a_selected && r.b_selected);
  EXPECT_EQ(r.path, ice::PathType::srflx);
  EXPECT_EQ(*r.a_selected, at(milliseconds(230)));
  EXPECT_EQ(*r.b_selected, at(milliseconds(205)));
  EXPECT_LE(*r.a_selected, r.answer_at + milliseconds(100));
  EXPECT_LE(*r.b_selected, r.answer_at + milliseconds(100));
}

// The same network with other NATs. Within T + 2 RTTs wherever alice's first check at T
// can succeed: bob's full cone lets it through (from her srflx, or from a new mapping of
// her symmetric NAT, which his answer makes a peer-reflexive candidate). Not where only
// bob's check can open the way and it comes after T: behind his symmetric NAT his srflx is
// useless to alice, and his first useful check (115, after his host-host one at 65, when
// he did not know yet he is behind a NAT) reaches her at 140; her triggered check waits
// for her next Ta slot, 180: 280 = T + 3 RTTs. Port-restricted × symmetric has no direct
// path: the relay, nominated once the direct checks' first retransmissions could have
// been answered (prefer_direct).
TEST(IceSim, SetupTimesAcrossNatPairs) {
  struct Case {
    const char* a;
    const char* b;
    int a_ms, b_ms;
    ice::PathType path;
  };
  const Case cases[] = {
      {"full-cone", "full-cone", 230, 205, ice::PathType::srflx},
      {"symmetric", "full-cone", 230, 215, ice::PathType::prflx},
      {"full-cone", "symmetric", 280, 255, ice::PathType::prflx},
      {"port-restricted-cone", "symmetric", 980, 955, ice::PathType::relay},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.a) + " x " + c.b);
    const OfferAnswer r = offer_answer(c.a, c.b);
    EXPECT_EQ(r.answer_at, at(milliseconds(130)));
    ASSERT_TRUE(r.a_selected && r.b_selected);
    EXPECT_EQ(*r.a_selected, at(milliseconds(c.a_ms)));
    EXPECT_EQ(*r.b_selected, at(milliseconds(c.b_ms)));
    EXPECT_EQ(r.path, c.path);
  }
}

}  // namespace
}  // namespace natsim::scenarios
