#pragma once
// heartbeat::EventLoop over natsim's bring-your-own-stack facade (sim::VirtualStack): the
// whole port of an event-loop-style library to virtual time. Handles map to the node's
// virtual UDP sockets, timers to the facade's timers; nothing else changes.
#include <map>
#include <string>

#include "heartbeat.hpp"
#include "natsim/sim/stack.hpp"

class NatsimLoop : public heartbeat::EventLoop {
 public:
  explicit NatsimLoop(natsim::sim::Node& host) : stack_(host) {}
  ~NatsimLoop() override {
    for (auto& [id, s] : sockets_)
      s->close();
  }

  [[nodiscard]] std::uint64_t now_ms() const override {
    return static_cast<std::uint64_t>(natsim::to_ns(stack_.now()) / 1'000'000);
  }
  int udp_open(std::uint16_t port, ReadCb on_read) override {
    auto s = stack_.udp_bind(port);
    if (!s) return -1;
    (*s)->on_receive([cb = std::move(on_read)](const natsim::sim::Datagram& d) {
      cb(d.from.address.to_string(), d.from.port,
         std::string_view(reinterpret_cast<const char*>(d.payload.data()), d.payload.size()));
    });
    sockets_[next_] = *s;
    return next_++;
  }
  bool udp_send(int handle, const std::string& ip, std::uint16_t port,
                std::string_view data) override {
    auto it = sockets_.find(handle);
    auto addr = natsim::IpAddress::parse(ip);
    if (it == sockets_.end() || !addr) return false;
    return it->second
        ->send_to({*addr, port}, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()})
        .has_value();
  }
  int timer_start(std::uint64_t ms, bool repeat, TimerCb cb) override {
    const auto d = natsim::milliseconds(ms);
    const auto h = repeat ? stack_.every(d, std::move(cb)) : stack_.after(d, std::move(cb));
    timers_[next_] = h;
    return next_++;
  }
  void timer_stop(int timer) override {
    if (auto it = timers_.find(timer); it != timers_.end()) {
      stack_.cancel(it->second);
      timers_.erase(it);
    }
  }

 private:
  natsim::sim::VirtualStack stack_;
  std::map<int, natsim::sim::UdpSocket*> sockets_;
  std::map<int, natsim::sim::VirtualStack::TimerHandle> timers_;
  int next_ = 1;
};
