#pragma once
// Two connect strategies back to back in virtual time: an event loop that delivers queued
// datagrams and signalling messages in the order they were queued, runs timers, and
// drains a side after every input as the drivers' pump() does. What a side sends goes
// where route() says (the test's network); its events go to on_event(), which by default
// carries signalling to the other side after `signalling_delay`.
#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "natsim/traversal/connect.hpp"

namespace natsim::traversal::connect::testing {

class ConnectorLoop {
 public:
  struct Item {
    TimePoint at;
    std::uint64_t seq;
    int to;
    std::optional<Signal> signal;  // a signalling message, else a datagram
    Endpoint from, dest;
    std::vector<std::uint8_t> bytes;
  };

  ConnectorLoop() = default;
  ConnectorLoop(const ConnectorLoop&) = delete;
  ConnectorLoop& operator=(const ConnectorLoop&) = delete;
  virtual ~ConnectorLoop() = default;

  // Queues a datagram for side `to`, arriving `delay` from now.
  void deliver(Duration delay, int to, const Endpoint& from, const Endpoint& dest, ByteView bytes) {
    queue.push_back(
        {now + delay, seq++, to, std::nullopt, from, dest, {bytes.begin(), bytes.end()}});
  }
  void signal(Duration delay, int to, const Signal& s) {
    queue.push_back({now + delay, seq++, to, s, {}, {}, {}});
  }

  void pump(int i) {
    std::array<std::uint8_t, 65536> buf;
    (void)traversal::pump(
        *side[i], buf, [&](const Transmit& t, ByteView bytes) { route(i, t, bytes); },
        [&](const Event& e) { on_event(i, e); });
  }

  // Both sides start now (once).
  void start() {
    if (started) return;
    started = true;
    for (int i = 0; i < 2; ++i) {
      side[i]->start(now);
      pump(i);
    }
  }

  // Runs until `until`, starting both sides first if nothing did.
  void run_until(TimePoint until) {
    start();
    for (;;) {
      std::optional<TimePoint> next;
      auto consider = [&](std::optional<TimePoint> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      for (const Item& q : queue)
        consider(q.at);
      consider(side[0]->poll_timeout());
      consider(side[1]->poll_timeout());
      if (!next || *next > until) {
        now = until;
        return;
      }
      now = *next;
      auto due = queue.end();
      for (auto it = queue.begin(); it != queue.end(); ++it) {
        if (it->at <= now && (due == queue.end() || it->seq < due->seq)) due = it;
      }
      if (due != queue.end()) {
        const Item item = *due;
        queue.erase(due);
        if (item.signal) {
          side[item.to]->handle_signal(now, *item.signal);
        } else {
          (void)side[item.to]->handle_datagram(now, item.dest, item.from, item.bytes);
        }
        pump(item.to);
        continue;
      }
      for (int i = 0; i < 2; ++i) {
        if (auto t = side[i]->poll_timeout(); t && *t <= now) {
          side[i]->handle_timeout(now);
          pump(i);
        }
      }
    }
  }

  TimePoint now{};
  std::uint64_t seq = 0;
  bool started = false;
  Duration signalling_delay = milliseconds(25);
  std::vector<Item> queue;
  std::array<std::unique_ptr<Connector>, 2> side;

 protected:
  // Where side i's datagram goes: deliver() it, or drop it.
  virtual void route(int i, const Transmit& t, ByteView bytes) = 0;
  virtual void on_event(int i, const Event& e) {
    if (const auto* s = std::get_if<SendSignal>(&e)) signal(signalling_delay, 1 - i, s->signal);
  }
};

}  // namespace natsim::traversal::connect::testing
