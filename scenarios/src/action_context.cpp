#include "action_type.hpp"

namespace natsim::scenarios::detail {

std::uint64_t ActionContext::seed(std::string_view stream) const {
  // The world's own derivation (Network::rng_for), under a name no node or link can have.
  return world.net.rng_for("action/" + out.action->id + "/" + std::string(stream))();
}

sim::UdpSocket* ActionContext::bind(sim::Host& h, std::uint16_t port) const {
  // A host of an IPv6 site has no IPv4 address: its sockets are IPv6 ones.
  const IpFamily family = h.address() ? IpFamily::v4 : IpFamily::v6;
  auto s = family == IpFamily::v4 ? h.udp_bind(port)
                                  : h.udp_bind(Endpoint{*IpAddress::parse("::"), port});
  if (!s) {
    out.error = "cannot bind UDP port " + std::to_string(port) + " on " + h.name() + ": " +
                s.error().message();
    finish();
    return nullptr;
  }
  return *s;
}

void ActionContext::finish() const {
  out.finished = true;
  out.ended = world.net.now();
}

}  // namespace natsim::scenarios::detail
