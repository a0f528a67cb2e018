// natsim::testing on itself: the fixture builds worlds from a WorldBuilder and from
// scenario files, its matchers read sockets, reports and action outcomes, and a failure
// carries the pcap directory and the replay commands.
#include <gtest/gtest-spi.h>

#include <cstring>
#include <filesystem>

#include "natsim/base/input_error.hpp"
#include "natsim/testing/matchers.hpp"
#include "natsim/testing/world_test.hpp"

namespace {

using namespace natsim;

sim::LinkParams latency(Duration d) {
  sim::LinkParams p;
  p.latency = d;
  return p;
}
using natsim::testing::action;
using natsim::testing::Connected;
using natsim::testing::Delivered;
using natsim::testing::FilteringIs;
using natsim::testing::MappingIs;
using natsim::testing::Passed;
using natsim::testing::PathIs;
using natsim::testing::SetupWithin;
using traversal::FilteringBehavior;
using traversal::MappingBehavior;

const std::string kLibrary = std::string(NATSIM_SCENARIO_DIR) + "/library/";

// A socket on `host` that takes what arrives (a socket without a receive handler drops it).
sim::UdpSocket* listening(sim::Host& host, std::uint16_t port) {
  sim::UdpSocket* s = host.udp_bind(port).value();
  s->on_receive([](const sim::Datagram&) {});
  return s;
}

ByteView bytes(const char* s) {
  return {reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)};
}

class WorldTestHelpers : public natsim::testing::WorldTest {
 protected:
  // alice behind a symmetric NAT, a public host 10 ms (core) away that echoes on port 7.
  scenarios::World& echo_world() {
    scenarios::World& w = build(scenarios::WorldBuilder(7)
                                    .core_link(latency(milliseconds(10)))
                                    .public_host("echo", "198.51.100.20")
                                    .site("home", "symmetric", {"alice"}));
    echo_ = echo_on(w.server_host("echo"), 7);
    return w;
  }
  static Endpoint echo_on(sim::Host& host, std::uint16_t port) {
    sim::UdpSocket* s = host.udp_bind(port).value();
    s->on_receive([s](const sim::Datagram& d) { (void)s->send_to(d.from, d.payload); });
    return {*host.address(), port};
  }
  Endpoint echo_;
};

TEST_F(WorldTestHelpers, BuilderWorldRunsUntilTheEchoReturns) {
  scenarios::World& w = echo_world();
  sim::UdpSocket* s = listening(w.host("alice"), 5000);
  ASSERT_TRUE(s->send_to(echo_, bytes("hi")));
  ASSERT_TRUE(run_until([&] { return s->received() == 1; }, seconds(1)));
  EXPECT_THAT(s, Delivered(1));
  // Two core hops each way (site uplink and server link, 10 ms each): 40 ms round trip.
  EXPECT_EQ(now(), at(milliseconds(40)));
  EXPECT_TRUE(std::filesystem::exists(pcap_dir() + "/home.pcap"));
}

TEST_F(WorldTestHelpers, RunUntilStopsAtTheTimeout) {
  scenarios::World& w = echo_world();
  sim::UdpSocket* s = listening(w.host("alice"), 5000);
  EXPECT_FALSE(run_until([&] { return s->received() > 0; }, milliseconds(250)));
  EXPECT_EQ(now(), at(milliseconds(250)));
  EXPECT_THAT(*s, Delivered(0));
}

TEST_F(WorldTestHelpers, ScenarioFileRunMatchesItsOutcomes) {
  const scenarios::RunResult r = run_file(kLibrary + "quickstart.json");
  EXPECT_THAT(r, Passed());
  EXPECT_THAT(action(r, "alice-probe"), MappingIs(MappingBehavior::endpoint_independent));
  EXPECT_THAT(action(r, "bob-probe"), MappingIs(MappingBehavior::address_and_port_dependent));
  EXPECT_THAT(action(r, "bob-probe"), FilteringIs(FilteringBehavior::address_and_port_dependent));
  EXPECT_THAT(action(r, "alice-echo"), Delivered(20));
  EXPECT_TRUE(action(r, "no-such-action").is_null());
  EXPECT_NE(replay_command().find("natsim run " + kLibrary + "quickstart.json --seed 1"),
            std::string::npos);
}

TEST_F(WorldTestHelpers, ConnectOutcomeMatchers) {
  const scenarios::RunResult r = run_file(kLibrary + "connect-full-cone-symmetric.json");
  const nlohmann::json& c = action(r, "connect");
  EXPECT_THAT(c, Connected());
  EXPECT_THAT(c, ::testing::AnyOf(PathIs("srflx"), PathIs("prflx")));
  EXPECT_THAT(c, ::testing::Not(PathIs("relay")));
  // The file pins setup at 180 ms.
  EXPECT_THAT(c, SetupWithin(milliseconds(180)));
  EXPECT_THAT(c, ::testing::Not(SetupWithin(milliseconds(179))));
  EXPECT_THAT(c, Delivered(3));
}

TEST_F(WorldTestHelpers, LoadedScenarioTopologyTakesTheTestsOwnTraffic) {
  scenarios::World& w = load(kLibrary + "quickstart.json", 3);
  sim::UdpSocket* s = listening(w.host("alice"), 4000);
  ASSERT_TRUE(s->send_to(echo_on(w.server_host("echo"), 9), bytes("x")));
  ASSERT_TRUE(run_until([&] { return s->received() == 1; }, seconds(1)));
  // quickstart: alice's 15 ms uplink and the echo server's 10 ms link, twice: 50 ms, plus
  // the uplink's 20 Mbit/s serialising the 29-byte packet each way (11.6 us).
  EXPECT_EQ(now(), at(milliseconds(50) + nanoseconds(23'200)));
  EXPECT_NE(replay_command().find("--seed 3 --variant 0"), std::string::npos);
}

// What a user sees when an expectation fails: the matcher's explanation, then the pcap
// directory and the commands that replay the run.
TEST_F(WorldTestHelpers, FailureCarriesPcapDirAndReplayCommand) {
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    scenarios::World& w = echo_world();
    sim::UdpSocket* s = listening(w.host("alice"), 5000);
    ASSERT_TRUE(s->send_to(echo_, bytes("hi")));
    run_for(seconds(1));
    EXPECT_THAT(s, Delivered(2));
  }
  ASSERT_EQ(failures.size(), 1);
  const std::string m = failures.GetTestPartResult(0).message();
  EXPECT_NE(m.find("delivered 2"), std::string::npos) << m;
  EXPECT_NE(m.find("delivered 1"), std::string::npos) << m;
  EXPECT_NE(m.find("natsim: pcaps in " + pcap_dir()), std::string::npos) << m;
  EXPECT_NE(m.find("--gtest_filter='WorldTestHelpers.FailureCarriesPcapDirAndReplayCommand'"),
            std::string::npos)
      << m;
}

TEST_F(WorldTestHelpers, NonFatalFailureNamesThePcapDir) {
  EXPECT_NONFATAL_FAILURE(
      {
        scenarios::World& w = echo_world();
        EXPECT_THAT(listening(w.host("alice"), 6000), Delivered(1));
      },
      "natsim: pcaps in ");
}

TEST_F(WorldTestHelpers, BadScenarioFileIsAnInputError) {
  EXPECT_THROW(load(kLibrary + "no-such-file.json"), natsim::InputError);
}

}  // namespace
