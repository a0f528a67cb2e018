// Does the presence client's keepalive keep it reachable behind real-world NATs?
// The application (presence.hpp) runs unchanged on natsim virtual hosts through a
// ten-line Transport adapter; each NAT preset is one parameterised test, and ten
// simulated minutes take a few milliseconds.
#include <gtest/gtest.h>

#include "natsim/scenarios/world_builder.hpp"
#include "presence.hpp"

namespace {

using namespace natsim;

// presence::Transport over a natsim virtual UDP socket and the host's virtual timers.
class SimTransport : public presence::Transport {
 public:
  SimTransport(sim::Host& host, std::uint16_t port)
      : host_(host), socket_(host.udp_bind(port).value()) {}
  void send(const presence::Address& to, const std::string& m) override {
    const Endpoint e{*IpAddress::parse(to.host), to.port};
    (void)socket_->send_to(e, ByteView(reinterpret_cast<const std::uint8_t*>(m.data()), m.size()));
  }
  void on_receive(Receive handler) override {
    socket_->on_receive([handler](const sim::Datagram& d) {
      handler({d.from.address.to_string(), d.from.port},
              std::string(d.payload.begin(), d.payload.end()));
    });
  }
  void every(std::chrono::milliseconds period, std::function<void()> tick) override {
    ticks_.push_back(std::move(tick));
    schedule(period, ticks_.size() - 1);
  }

 private:
  void schedule(std::chrono::milliseconds period, std::size_t i) {
    (void)host_.schedule_in(period, [this, period, i] {
      ticks_[i]();
      schedule(period, i);
    });
  }
  sim::Host& host_;
  sim::UdpSocket* socket_;
  std::vector<std::function<void()>> ticks_;
};

struct Case {
  const char* preset;
  std::chrono::seconds keepalive;
  bool reachable;  // when rung after 10 min 45 s
};
// ctest names carry the printed parameter: print the values, not the struct's bytes
// (which hold a pointer and differ on every run).
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.preset << ", keepalive " << c.keepalive.count() << " s, "
      << (c.reachable ? "reachable" : "unreachable");
}

class Presence : public ::testing::TestWithParam<Case> {};

TEST_P(Presence, ClientStaysReachable) {
  const Case c = GetParam();
  auto world = scenarios::WorldBuilder(1)
                   .public_host("rendezvous", "198.51.100.20")
                   .site("home", c.preset, {"phone"})
                   .build();
  SimTransport server_transport(world->server_host("rendezvous"), 5000);
  presence::Server server(server_transport);
  SimTransport phone_transport(world->host("phone"), 6000);
  presence::Client phone(phone_transport, "phone", {"198.51.100.20", 5000}, c.keepalive);

  // Ring at 10 min 45 s: not on a keepalive boundary for any of the periods below.
  world->net.run_for(std::chrono::minutes(10) + std::chrono::seconds(45));
  ASSERT_TRUE(server.ring("phone"));
  world->net.run_for(std::chrono::seconds(1));
  EXPECT_EQ(phone.rings() == 1, c.reachable)
      << c.preset << " with a " << c.keepalive.count() << " s keepalive";
}

// Cone NATs keep mappings 5 minutes, the CGNAT and Linux masquerade 2 minutes, the
// strict enterprise NAT 30 seconds; a keepalive must beat the shortest timer it meets.
INSTANTIATE_TEST_SUITE_P(
    AcrossNats, Presence,
    ::testing::Values(Case{"full-cone", std::chrono::seconds(25), true},
                      Case{"port-restricted-cone", std::chrono::seconds(25), true},
                      Case{"symmetric", std::chrono::seconds(25), true},
                      Case{"cgnat", std::chrono::seconds(25), true},
                      Case{"enterprise-strict", std::chrono::seconds(25), true},
                      Case{"port-restricted-cone", std::chrono::seconds(240), true},
                      Case{"linux-masquerade", std::chrono::seconds(240), false},
                      Case{"enterprise-strict", std::chrono::seconds(60), false}),
    [](const auto& test) {
      std::string name =
          std::string(test.param.preset) + "_" + std::to_string(test.param.keepalive.count()) + "s";
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

}  // namespace
