#pragma once
// A user's library, written without natsim in mind, in the style of event-loop C/C++
// libraries (libuv, libevent): it owns no thread and no socket, and asks an EventLoop it
// is given for UDP handles and timers, with callbacks. The protocol is a peer liveness
// heartbeat: each peer sends "PING <seq>" every `interval`, answers pings with
// "PONG <seq>", and declares the other dead after `misses` intervals without a PONG.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace heartbeat {

// What the library needs from its host program's event loop.
class EventLoop {
 public:
  using ReadCb =
      std::function<void(const std::string& ip, std::uint16_t port, std::string_view data)>;
  using TimerCb = std::function<void()>;
  virtual ~EventLoop() = default;
  [[nodiscard]] virtual std::uint64_t now_ms() const = 0;
  // Opens a UDP handle bound to `port` (0: any) and returns its id, or -1.
  virtual int udp_open(std::uint16_t port, ReadCb on_read) = 0;
  virtual bool udp_send(int handle, const std::string& ip, std::uint16_t port,
                        std::string_view data) = 0;
  // Starts a timer (repeating every `ms` if `repeat`) and returns its id.
  virtual int timer_start(std::uint64_t ms, bool repeat, TimerCb cb) = 0;
  virtual void timer_stop(int timer) = 0;
};

class Peer {
 public:
  struct Config {
    std::uint16_t port = 0;
    std::uint64_t interval_ms = 1000;
    int misses = 3;
  };
  using StateCb = std::function<void(bool alive, std::uint64_t at_ms)>;

  Peer(EventLoop& loop, Config config, StateCb on_state)
      : loop_(loop), config_(config), on_state_(std::move(on_state)) {
    handle_ =
        loop_.udp_open(config_.port, [this](const std::string& ip, std::uint16_t port,
                                            std::string_view data) { on_read(ip, port, data); });
  }
  ~Peer() {
    if (timer_ >= 0) loop_.timer_stop(timer_);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  // Starts pinging `ip`:`port`.
  void watch(std::string ip, std::uint16_t port) {
    ip_ = std::move(ip);
    port_ = port;
    ping();
    timer_ = loop_.timer_start(config_.interval_ms, true, [this] { tick(); });
  }
  [[nodiscard]] bool alive() const { return alive_; }
  [[nodiscard]] std::uint64_t pongs() const { return pongs_; }
  [[nodiscard]] bool opened() const { return handle_ >= 0; }

 private:
  void ping() { loop_.udp_send(handle_, ip_, port_, "PING " + std::to_string(++seq_)); }
  void tick() {
    if (++silent_ > config_.misses && alive_) {
      alive_ = false;
      on_state_(false, loop_.now_ms());
    }
    ping();
  }
  void on_read(const std::string& ip, std::uint16_t port, std::string_view data) {
    if (data.substr(0, 5) == "PING ") {
      loop_.udp_send(handle_, ip, port, "PONG " + std::string(data.substr(5)));
    } else if (data.substr(0, 5) == "PONG ") {
      ++pongs_;
      silent_ = 0;
      if (!alive_) {
        alive_ = true;
        on_state_(true, loop_.now_ms());
      }
    }
  }

  EventLoop& loop_;
  Config config_;
  StateCb on_state_;
  int handle_ = -1;
  int timer_ = -1;
  std::string ip_;
  std::uint16_t port_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t pongs_ = 0;
  int silent_ = 0;
  bool alive_ = false;
};

}  // namespace heartbeat
