#include "natsim/io/realtime_driver.hpp"

#include <boost/asio/error.hpp>

namespace natsim::io {

RealtimeDriver::RealtimeDriver(boost::asio::io_context& io, sim::Simulator& sim)
    : sim_(sim), timer_(io) {}

RealtimeDriver::~RealtimeDriver() {
  stop();
}

void RealtimeDriver::start() {
  epoch_ = Steady::now();
  base_ = sim_.now();
  running_ = true;
  armed_for_ = kTimeNever;
  catch_up();
  rearm();
}

void RealtimeDriver::stop() {
  running_ = false;
  ++generation_;
  armed_for_ = kTimeNever;
  timer_.cancel();
}

TimePoint RealtimeDriver::virtual_now() const {
  if (!running_) return sim_.now();
  const TimePoint t = base_ + std::chrono::duration_cast<Duration>(Steady::now() - epoch_);
  // The simulator's clock never goes back, whatever the wall clock's resolution.
  return t < sim_.now() ? sim_.now() : t;
}

RealtimeDriver::Steady::time_point RealtimeDriver::to_steady(TimePoint t) const {
  if (t == kTimeNever) return Steady::time_point::max();
  const Duration since = t - base_;
  if (since > std::chrono::duration_cast<Duration>(Steady::time_point::max() - epoch_))
    return Steady::time_point::max();
  return epoch_ + std::chrono::duration_cast<Steady::duration>(since);
}

void RealtimeDriver::catch_up() {
  if (!running_) return;
  sim_.run_until(virtual_now());
}

void RealtimeDriver::rearm() {
  if (!running_) return;
  const TimePoint next = sim_.next_event_time();
  if (next == armed_for_) return;  // already waiting for it
  armed_for_ = next;
  const std::uint64_t generation = ++generation_;
  if (next == kTimeNever) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(to_steady(next));
  timer_.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    on_timer(generation);
  });
}

void RealtimeDriver::on_timer(std::uint64_t generation) {
  if (generation != generation_ || !running_) return;
  ++wakeups_;
  const TimePoint due = armed_for_;
  armed_for_ = kTimeNever;
  const TimePoint now = virtual_now();
  if (due != kTimeNever && now > due && now - due > max_lateness_) max_lateness_ = now - due;
  catch_up();
  rearm();
}

}  // namespace natsim::io
