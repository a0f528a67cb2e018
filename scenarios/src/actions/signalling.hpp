#pragma once
// The signalling channel of a connect action: offer, answer and trickled candidates
// between two peers, as a reliable, ordered server connection would carry them over a
// lossy path. Each message takes `delay` one way; an attempt lost (probability `loss`,
// from the action's own seed) is sent again `resend` later, and a message never
// overtakes the one before it in the same direction (head-of-line blocking, as on TCP
// or a WebSocket).
#include <cstdint>
#include <functional>

#include "natsim/base/random.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/node.hpp"

namespace natsim::scenarios::detail {

struct SignallingParams {
  Duration delay = milliseconds(25);  // one way
  double loss = 0;                    // per attempt
  Duration resend = seconds(1);       // after a lost attempt
};

class SignallingChannel {
 public:
  SignallingChannel(SignallingParams params, std::uint64_t seed)
      : params_(params), rng_(Rng::for_component(seed, "signalling")) {}

  // Runs `deliver` on `to` (the receiving side's node) when the message arrives there;
  // `direction` is 0 or 1, each in order.
  void send(sim::Node& to, int direction, std::function<void()> deliver);

  [[nodiscard]] std::uint64_t messages() const { return messages_; }
  [[nodiscard]] std::uint64_t lost() const { return lost_; }

 private:
  SignallingParams params_;
  Rng rng_;
  TimePoint last_[2]{};
  std::uint64_t messages_ = 0;
  std::uint64_t lost_ = 0;
};

}  // namespace natsim::scenarios::detail
