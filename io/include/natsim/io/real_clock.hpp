#pragma once
// The real-time counterpart of the simulator's virtual clock: natsim::TimePoint values
// measured on std::chrono::steady_clock from an epoch (the moment the clock was made,
// i.e. when a driver started). Only io/ reads clocks.
#include <chrono>

#include "natsim/base/time.hpp"

namespace natsim::io {

class RealClock {
 public:
  using Steady = std::chrono::steady_clock;

  RealClock() : epoch_(Steady::now()) {}

  [[nodiscard]] TimePoint now() const {
    return TimePoint{std::chrono::duration_cast<Duration>(Steady::now() - epoch_)};
  }
  [[nodiscard]] Steady::time_point epoch() const { return epoch_; }

  // The steady-clock instant of `t`; instants past the clock's range (kTimeNever)
  // become Steady::time_point::max().
  [[nodiscard]] Steady::time_point to_steady(TimePoint t) const {
    const auto since = std::chrono::duration_cast<Steady::duration>(t.time_since_epoch());
    if (since > Steady::time_point::max() - epoch_) return Steady::time_point::max();
    return epoch_ + since;
  }

 private:
  Steady::time_point epoch_;
};

}  // namespace natsim::io
