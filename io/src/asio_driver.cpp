#include "natsim/io/asio_driver.hpp"

#include <boost/asio/error.hpp>

namespace natsim::io {

AsioDriverCore::AsioDriverCore(UdpSocketSet& sockets, std::function<void()> on_timer)
    : sockets_(sockets), on_timer_(std::move(on_timer)), timer_(sockets.context()) {}

AsioDriverCore::~AsioDriverCore() {
  alive_.reset();
  timer_.cancel();
}

void AsioDriverCore::arm(std::optional<TimePoint> deadline) {
  if (deadline == armed_) return;
  armed_ = deadline;
  ++generation_;
  timer_.cancel();
  if (!deadline) return;
  timer_.expires_at(clock_.to_steady(*deadline));
  timer_.async_wait([this, generation = generation_,
                     alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
    if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
    // A handler that completed just before a cancel() still runs with success.
    if (generation != generation_) return;
    armed_.reset();
    on_timer_();
  });
}

RunResult AsioDriverCore::run_until(const std::function<bool()>& done, Deadline deadline) {
  boost::asio::io_context& io = sockets_.context();
  while (!done()) {
    if (io.stopped()) return RunResult::stopped;
    if (deadline) {
      if (RealClock::Steady::now() >= *deadline) return RunResult::deadline;
      io.run_one_until(*deadline);
    } else {
      io.run_one();
    }
  }
  return RunResult::done;
}

}  // namespace natsim::io
