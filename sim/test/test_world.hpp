#pragma once
// Small topologies shared by the simulator tests.
#include <string>
#include <vector>

#include "natsim/sim/network.hpp"

namespace natsim::sim::testing {

inline IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}
inline Endpoint ep(const char* text) {
  return *Endpoint::parse(text);
}
inline ByteView bytes(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// Two hosts on one link: a = 10.0.0.1, b = 10.0.0.2.
struct Pair {
  explicit Pair(const LinkParams& params = {}, std::uint64_t seed = 1)
      : net(seed), a(net.add_host("a")), b(net.add_host("b")), link(connect(params)) {}

  Link& connect(const LinkParams& params) {
    auto c = net.connect(a, b, params);
    a.add_address(c.a_iface, "10.0.0.1/24");
    b.add_address(c.b_iface, "10.0.0.2/24");
    return c.link;
  }

  // Binds b:9 and records the arrival time and payload of every datagram.
  void listen() {
    sink = b.udp_bind(9).value();
    sink->on_receive([this](const Datagram& d) {
      arrivals.push_back(d.at);
      payloads.emplace_back(d.payload.begin(), d.payload.end());
    });
  }

  Network net;
  Host& a;
  Host& b;
  Link& link;
  UdpSocket* sink = nullptr;
  std::vector<TimePoint> arrivals;
  std::vector<std::string> payloads;
};

}  // namespace natsim::sim::testing
