#pragma once
// Runs a sans-I/O protocol machine (traversal::ProtocolMachine) on real sockets with
// Boost.Asio — the real-network twin of scenarios::SimDriver:
//
//   datagram on any socket of the set -> machine.handle_datagram(now, local, remote, bytes)
//   a TCP connection accepted         -> machine.handle_stream_opened(now, local, remote)
//                                        (machines that have it, e.g. for a setup timeout)
//   bytes on a TCP connection         -> machine.handle_stream(now, local, remote, bytes)
//   a TCP connection ended            -> machine.handle_stream_closed(now, local, remote)
//   steady_timer at poll_timeout()    -> machine.handle_timeout(now)
//   after every input (and after pump() following a command): traversal::pump() sends
//   each UDP Transmit from the socket bound to Transmit.local (exact match, else the same
//   port), writes each TCP one to its connection (closing it when asked), and hands each
//   event to the on_event callback.
//
// TCP is optional: pass a TcpStreamSet (listening or connected) for a StreamMachine.
// With open_on_send(), a TCP transmit with bytes for a connection the set does not have
// opens it from Transmit.local first (TcpStreamSet::open), as SimDriver does: for client
// machines that start their own connections (UPnP's HTTP). Off by default, so that a
// server's late answer to a client that has gone never dials out to it.
//
// `now` is a natsim::TimePoint on std::chrono::steady_clock whose epoch is the driver's
// construction. Give machines commands with driver.now(), then call driver.pump().
// `local` for a wildcard-bound socket is the wildcard address and the bound port (see
// udp_socket_set.hpp). Single-threaded: run the io_context on one thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "natsim/io/real_clock.hpp"
#include "natsim/io/tcp_stream_set.hpp"
#include "natsim/io/udp_socket_set.hpp"
#include "natsim/traversal/machine.hpp"

namespace natsim::io {

enum class RunResult : std::uint8_t {
  done,      // the predicate became true
  deadline,  // the wall-clock deadline passed first
  stopped,   // the io_context was stopped (io.stop(), e.g. from a signal) or ran out of work
};

// The non-template part of the driver: clock, timer and run loop.
class AsioDriverCore {
 public:
  using Deadline = std::optional<RealClock::Steady::time_point>;

  AsioDriverCore(UdpSocketSet& sockets, std::function<void()> on_timer);
  AsioDriverCore(const AsioDriverCore&) = delete;
  AsioDriverCore& operator=(const AsioDriverCore&) = delete;
  ~AsioDriverCore();

  [[nodiscard]] TimePoint now() const { return clock_.now(); }
  [[nodiscard]] const RealClock& clock() const { return clock_; }
  [[nodiscard]] UdpSocketSet& sockets() const { return sockets_; }

  // Arms the timer for `deadline` (nullopt: disarm). Re-arming to the same instant is free.
  void arm(std::optional<TimePoint> deadline);

  // Runs the io_context's handlers one at a time until `done()` holds, `deadline` passes
  // or the io_context stops. Returns at once with `stopped` if it already was stopped
  // (call io.restart() first to run again).
  RunResult run_until(const std::function<bool()>& done, Deadline deadline = std::nullopt);

 private:
  UdpSocketSet& sockets_;
  std::function<void()> on_timer_;
  RealClock clock_;
  boost::asio::steady_timer timer_;
  std::optional<TimePoint> armed_;
  std::uint64_t generation_ = 0;  // a timer handler from an earlier arm() is ignored
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

template <traversal::ProtocolMachine M>
class AsioDriver {
 public:
  using Event = std::decay_t<decltype(*std::declval<M&>().poll_event())>;
  using Deadline = AsioDriverCore::Deadline;

  // `sockets`, `machine` and `streams` must outlive the driver. The driver takes over the
  // sets' receive (and closed) callbacks.
  AsioDriver(UdpSocketSet& sockets, M& machine, TcpStreamSet* streams = nullptr)
      : core_(sockets,
              [this] {
                machine_.handle_timeout(core_.now());
                pump();
              }),
        machine_(machine),
        streams_(streams),
        buffer_(65536) {
    sockets.on_receive([this](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
      // Machines may answer whether the datagram was theirs; the driver has no other taker.
      (void)machine_.handle_datagram(core_.now(), local, remote, bytes);
      pump();
    });
    if constexpr (traversal::StreamMachine<M>) {
      if (streams_ == nullptr) return;
      streams_->on_receive([this](const Endpoint& local, const Endpoint& remote, ByteView bytes) {
        machine_.handle_stream(core_.now(), local, remote, bytes);
        pump();
      });
      streams_->on_closed([this](const Endpoint& local, const Endpoint& remote) {
        machine_.handle_stream_closed(core_.now(), local, remote);
        pump();
      });
      if constexpr (requires(M & m, TimePoint t, const Endpoint& e) {
                      m.handle_stream_opened(t, e, e);
                    }) {
        streams_->on_opened([this](const Endpoint& local, const Endpoint& remote) {
          machine_.handle_stream_opened(core_.now(), local, remote);
          pump();
        });
      }
    }
  }
  AsioDriver(const AsioDriver&) = delete;
  AsioDriver& operator=(const AsioDriver&) = delete;
  ~AsioDriver() {
    core_.sockets().on_receive(nullptr);
    if (streams_ != nullptr) {
      streams_->on_receive(nullptr);
      streams_->on_closed(nullptr);
      streams_->on_opened(nullptr);
    }
  }

  void on_event(std::function<void(const Event&)> handler) { on_event_ = std::move(handler); }
  void open_on_send(bool on = true) { open_on_send_ = on; }

  [[nodiscard]] TimePoint now() const { return core_.now(); }
  [[nodiscard]] const RealClock& clock() const { return core_.clock(); }
  [[nodiscard]] UdpSocketSet& sockets() const { return core_.sockets(); }
  [[nodiscard]] std::uint64_t events() const { return events_; }
  // Transmits that found no socket or connection, or that the kernel refused.
  [[nodiscard]] std::uint64_t send_failures() const { return send_failures_; }

  // Drains transmits and events and re-arms the timer. Call after giving the machine a
  // command (start, send_binding, ...); inputs call it themselves.
  void pump() {
    const auto deadline = traversal::pump(
        machine_, MutableByteView(buffer_),
        [this](const traversal::Transmit& t, ByteView bytes) {
          if (t.transport == traversal::Transport::udp) {
            if (!core_.sockets().send(t.local, t.remote, bytes)) ++send_failures_;
            return;
          }
          if (streams_ == nullptr) {
            ++send_failures_;
            return;
          }
          if (open_on_send_ && t.size > 0 && !streams_->has(t.local, t.remote)) {
            streams_->open(t.local, t.remote);
          }
          if (t.size > 0 && !streams_->send(t.local, t.remote, bytes)) ++send_failures_;
          if (t.close) streams_->close(t.local, t.remote);
        },
        [this](const Event& e) {
          ++events_;
          last_event_ = e;
          if (on_event_) on_event_(e);
        });
    core_.arm(deadline);
  }

  RunResult run_until(const std::function<bool()>& done, Deadline deadline = std::nullopt) {
    return core_.run_until(done, deadline);
  }
  RunResult run_for(const std::function<bool()>& done, RealClock::Steady::duration limit) {
    return core_.run_until(done, RealClock::Steady::now() + limit);
  }
  // Runs until the machine emits its next event and returns it; nullopt when the
  // deadline passed or the io_context stopped first.
  std::optional<Event> run_until_event(Deadline deadline = std::nullopt) {
    const std::uint64_t before = events_;
    if (core_.run_until([&] { return events_ != before; }, deadline) != RunResult::done) {
      return std::nullopt;
    }
    return last_event_;
  }

 private:
  AsioDriverCore core_;
  M& machine_;
  TcpStreamSet* streams_;
  std::vector<std::uint8_t> buffer_;
  std::function<void(const Event&)> on_event_;
  std::optional<Event> last_event_;
  std::uint64_t events_ = 0;
  std::uint64_t send_failures_ = 0;
  bool open_on_send_ = false;
};

}  // namespace natsim::io
