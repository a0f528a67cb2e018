#pragma once
// Runs a sans-I/O protocol machine on virtual UDP sockets: datagrams in, virtual-time
// timers, transmits out through the socket bound to the transmit's local endpoint.
// The Asio driver in io/ does the same on real sockets. The simulator has no TCP yet:
// transmits for a TCP connection are counted as unroutable.
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "natsim/sim/node.hpp"
#include "natsim/traversal/machine.hpp"

namespace natsim::scenarios {

template <traversal::ProtocolMachine M>
class SimDriver {
 public:
  using Event = std::decay_t<decltype(*std::declval<M&>().poll_event())>;

  SimDriver(sim::Node& node, M& machine, std::vector<sim::UdpSocket*> sockets)
      : node_(node), machine_(machine), sockets_(std::move(sockets)) {
    for (sim::UdpSocket* s : sockets_) {
      s->on_receive([this](const sim::Datagram& d) {
        if (!machine_.handle_datagram(d.at, d.to, d.from, d.payload)) ++unclaimed_;
        pump();
      });
    }
  }
  SimDriver(const SimDriver&) = delete;
  SimDriver& operator=(const SimDriver&) = delete;
  ~SimDriver() {
    node_.cancel(timer_);
    for (sim::UdpSocket* s : sockets_)
      s->on_receive(nullptr);
  }

  void on_event(std::function<void(const Event&)> handler) { on_event_ = std::move(handler); }

  // Call after giving the machine a command (start, send, ...).
  void pump() {
    const auto deadline = traversal::pump(
        machine_, buffer_,
        [this](const traversal::Transmit& t, ByteView bytes) {
          sim::UdpSocket* s =
              t.transport == traversal::Transport::udp ? socket_for(t.local) : nullptr;
          if (s != nullptr) {
            (void)s->send_to(t.remote, bytes);
          } else {
            ++unroutable_;
          }
        },
        [this](const Event& e) {
          if (on_event_) on_event_(e);
        });
    reschedule(deadline);
  }

  // Stops driving: cancels the timer and closes the sockets (their ports are free at
  // once). Safe to call from the event handler.
  void close() {
    node_.cancel(timer_);
    armed_.reset();
    for (sim::UdpSocket* s : sockets_)
      s->close();
    sockets_.clear();
  }

  // Stops driving but leaves the sockets open (and their mappings alive) for the caller,
  // who installs its own receive handlers on them afterwards.
  void detach() {
    node_.cancel(timer_);
    armed_.reset();
    sockets_.clear();
  }

  [[nodiscard]] std::uint64_t unroutable() const { return unroutable_; }
  // Datagrams the machine said were not its own (not STUN, not its transaction, ...).
  [[nodiscard]] std::uint64_t unclaimed() const { return unclaimed_; }

 private:
  sim::UdpSocket* socket_for(const Endpoint& local) const {
    sim::UdpSocket* by_port = nullptr;
    for (sim::UdpSocket* s : sockets_) {
      if (s->local() == local) return s;
      if (s->local().port == local.port && s->local().address.is_unspecified() &&
          s->local().address.family() == local.address.family()) {
        by_port = s;
      }
    }
    return by_port;
  }

  void reschedule(std::optional<TimePoint> deadline) {
    if (sockets_.empty()) return;  // closed
    if (deadline == armed_) return;
    node_.cancel(timer_);
    armed_ = deadline;
    if (!deadline) return;
    const TimePoint at = *deadline < node_.now() ? node_.now() : *deadline;
    timer_ = node_
                 .schedule_at(at,
                              [this] {
                                armed_.reset();
                                machine_.handle_timeout(node_.now());
                                pump();
                              })
                 .value();
  }

  sim::Node& node_;
  M& machine_;
  std::vector<sim::UdpSocket*> sockets_;
  std::function<void(const Event&)> on_event_;
  std::array<std::uint8_t, 65536> buffer_{};
  sim::TimerId timer_;
  std::optional<TimePoint> armed_;
  std::uint64_t unroutable_ = 0;
  std::uint64_t unclaimed_ = 0;
};

}  // namespace natsim::scenarios
