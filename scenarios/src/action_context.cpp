#include "action_type.hpp"

namespace natsim::scenarios::detail {

std::uint64_t ActionContext::seed(std::string_view stream) const {
  // The world's own derivation (Network::rng_for), under a name no node or link can have.
  return world.net.rng_for("action/" + out.action->id + "/" + std::string(stream))();
}

sim::UdpSocket* ActionContext::bind(sim::Host& h, std::uint16_t port) const {
  auto s = h.udp_bind(port);
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
