#pragma once
// The bring-your-own-stack facade: what a user's networking code needs from an operating
// system -- UDP and TCP sockets and timers -- on one virtual host, in virtual time.
//
// The sockets are the node's own (UdpSocket in node.hpp, TcpSocket and TcpListener in
// tcp_socket.hpp): callbacks for what arrives, calls that return Result. They belong to the
// node, as an OS's sockets do: close them when done. What the facade adds is what a
// callback-based stack expects of its event loop: one-shot and periodic timers taking any
// callable, with handles that stay valid across re-arming, all cancelled when the facade is
// destroyed so that no timer calls into a destroyed stack.
//
// A sans-I/O machine (handle_datagram / handle_timeout / poll_*) needs none of this:
// scenarios::SimDriver runs it on virtual sockets. docs/library.md has both ways.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/ip_address.hpp"
#include "natsim/base/result.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/node.hpp"
#include "natsim/sim/tcp_socket.hpp"

namespace natsim::sim {

class VirtualStack {
 public:
  using Callback = std::function<void()>;
  using TimerHandle = std::uint64_t;  // 0 is never a timer

  explicit VirtualStack(Node& node) : node_(&node) {}
  VirtualStack(const VirtualStack&) = delete;
  VirtualStack& operator=(const VirtualStack&) = delete;
  ~VirtualStack() { cancel_all(); }

  [[nodiscard]] Node& node() const { return *node_; }
  [[nodiscard]] TimePoint now() const { return node_->now(); }
  // The host's first address of `family` (behind a NAT: its private address).
  [[nodiscard]] std::optional<IpAddress> address(IpFamily family = IpFamily::v4) const {
    return node_->address(family);
  }

  // --- sockets: the node's own, see node.hpp and tcp_socket.hpp for their calls
  Result<UdpSocket*> udp_bind(std::uint16_t port = 0) { return node_->udp_bind(port); }
  Result<UdpSocket*> udp_bind(const Endpoint& local) { return node_->udp_bind(local); }
  Result<TcpListener*> tcp_listen(std::uint16_t port, const TcpConfig& config = {}) {
    return node_->tcp_listen(port, config);
  }
  Result<TcpSocket*> tcp_connect(const Endpoint& remote, const TcpConfig& config = {},
                                 std::uint16_t local_port = 0) {
    return node_->tcp_connect(remote, config, local_port);
  }

  // --- timers, in virtual time
  // Calls `fn` once, `delay` from now.
  TimerHandle after(Duration delay, Callback fn) {
    return add(delay, Duration::zero(), std::move(fn));
  }
  // Calls `fn` every `period`, the first time one period from now. A period of zero would
  // never let time advance: it is taken as 1 ns.
  TimerHandle every(Duration period, Callback fn) {
    if (period <= Duration::zero()) period = Duration(1);
    return add(period, period, std::move(fn));
  }
  // True if the timer was pending; safe from inside its own callback.
  bool cancel(TimerHandle h) {
    auto it = timers_.find(h);
    if (it == timers_.end()) return false;
    node_->cancel(it->second.id);
    timers_.erase(it);
    return true;
  }
  void cancel_all() {
    for (auto& [h, t] : timers_)
      node_->cancel(t.id);
    timers_.clear();
  }
  [[nodiscard]] std::size_t pending_timers() const { return timers_.size(); }

 private:
  struct Timer {
    Callback fn;
    Duration period;  // zero: one-shot
    TimerId id;
  };
  TimerHandle add(Duration delay, Duration period, Callback fn) {
    const TimerHandle h = next_++;
    timers_.emplace(h, Timer{std::move(fn), period, {}});
    arm(h, delay);
    return h;
  }
  void arm(TimerHandle h, Duration delay) {
    // The event holds only (this, h): 16 bytes, inside TimerFn's inline storage.
    auto r = node_->schedule_in(delay, [this, h] { fire(h); });
    if (r) timers_.at(h).id = *r;
  }
  void fire(TimerHandle h) {
    auto it = timers_.find(h);
    if (it == timers_.end()) return;
    // The callback may cancel this timer or add others: run it from a local, then put
    // it back if the timer still exists and repeats.
    Callback fn = std::move(it->second.fn);
    const Duration period = it->second.period;
    if (period == Duration::zero()) {
      timers_.erase(it);
      fn();
      return;
    }
    arm(h, period);
    fn();
    if (auto again = timers_.find(h); again != timers_.end()) again->second.fn = std::move(fn);
  }

  Node* node_;
  std::map<TimerHandle, Timer> timers_;
  TimerHandle next_ = 1;
};

}  // namespace natsim::sim
