#include "signalling.hpp"

#include <algorithm>

namespace natsim::scenarios::detail {

void SignallingChannel::send(sim::Node& to, int direction, std::function<void()> deliver) {
  ++messages_;
  Duration wait = params_.delay;
  // Bounded, so a loss of 1 cannot loop: after 1000 attempts the message gets through.
  for (int attempt = 0; attempt < 1000 && rng_.bernoulli(params_.loss); ++attempt) {
    ++lost_;
    wait += params_.resend;
  }
  TimePoint& last = last_[direction & 1];
  last = std::max(last, to.now() + wait);
  (void)to.schedule_at(last, std::move(deliver));
}

}  // namespace natsim::scenarios::detail
