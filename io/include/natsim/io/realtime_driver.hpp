#pragma once
// Runs a simulator in real time: virtual time follows std::chrono::steady_clock from the
// moment start() is called, events run when they fall due (a steady_timer armed for the
// next one, no polling), and inputs from outside (packets read from a TUN device) enter
// at the current virtual time through inject(). `natsim bridge` uses it; docs/bridge.md
// says what determinism real time costs.
//
// Single-threaded: the io_context runs on one thread, which alone touches the simulator.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "natsim/base/time.hpp"
#include "natsim/sim/simulator.hpp"

namespace natsim::io {

class RealtimeDriver {
 public:
  using Steady = std::chrono::steady_clock;

  RealtimeDriver(boost::asio::io_context& io, sim::Simulator& sim);
  RealtimeDriver(const RealtimeDriver&) = delete;
  RealtimeDriver& operator=(const RealtimeDriver&) = delete;
  ~RealtimeDriver();

  // Anchors the simulator's now() to this instant of the wall clock, runs what is due
  // and arms the timer for the next event.
  void start();
  // Cancels the timer; events left in the simulator stay there.
  void stop();

  // The virtual time of this instant: the simulator's time at start() plus the wall time
  // since. Before start(), the simulator's now().
  [[nodiscard]] TimePoint virtual_now() const;
  // The steady-clock instant at which virtual time `t` falls due.
  [[nodiscard]] Steady::time_point to_steady(TimePoint t) const;

  // Brings the simulator up to virtual_now(), calls `input()` (which may send packets and
  // schedule events at that time), runs what it made due, and re-arms the timer.
  template <class F>
  void inject(F&& input) {
    catch_up();
    input();
    catch_up();
    rearm();
  }

  // Runs every event due by virtual_now() (the simulator's now() becomes virtual_now()).
  void catch_up();
  // Arms the timer for the simulator's next event (or disarms it if there is none).
  void rearm();

  // Timer wake-ups, and the largest delay between an event's due time and the moment its
  // wake-up ran (scheduling latency of the host; what real time adds to a modelled delay).
  [[nodiscard]] std::uint64_t wakeups() const { return wakeups_; }
  [[nodiscard]] Duration max_lateness() const { return max_lateness_; }

 private:
  void on_timer(std::uint64_t generation);

  sim::Simulator& sim_;
  boost::asio::steady_timer timer_;
  bool running_ = false;
  Steady::time_point epoch_{};
  TimePoint base_{};  // the simulator's time at start()
  TimePoint armed_for_ = kTimeNever;
  std::uint64_t generation_ = 0;  // a wake-up from an earlier arming is ignored
  std::uint64_t wakeups_ = 0;
  Duration max_lateness_{0};
};

}  // namespace natsim::io
