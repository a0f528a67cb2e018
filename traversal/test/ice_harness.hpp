#pragma once
// Two ICE agents back to back in virtual time: a loop that moves each transmit to the
// other agent after a fixed one-way delay (or drops it), runs timers, and drains both
// agents after every input, as the drivers' pump() does.
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "natsim/traversal/ice_agent.hpp"

namespace natsim::traversal::ice::testing {

struct Wire {
  struct InFlight {
    TimePoint at;
    std::uint64_t seq;
    Endpoint from, to;
    std::vector<std::uint8_t> bytes;
  };
  struct Side {
    Agent* agent = nullptr;
    std::vector<Endpoint> addresses;  // datagrams to these reach this agent
    std::vector<std::pair<TimePoint, Event>> events;
    std::function<void(Side&, const Event&)> on_event;
  };

  Duration delay = milliseconds(10);
  TimePoint now{};
  std::vector<InFlight> flight;
  std::uint64_t seq = 0;
  Side a, b;
  // Return false to drop a datagram (from, to) at its sending time.
  std::function<bool(const Endpoint&, const Endpoint&)> pass = [](const Endpoint&,
                                                                  const Endpoint&) { return true; };
  // Sees every datagram an agent sends (dropped or not), at its sending time.
  std::function<void(const Endpoint&, const Endpoint&, ByteView)> observe;
  std::uint64_t dropped = 0;
  std::uint64_t unclaimed = 0;

  void pump(Side& s) {
    std::array<std::uint8_t, 65536> buf;
    auto deadline = traversal::pump(
        *s.agent, buf,
        [&](const Transmit& t, ByteView bytes) {
          if (observe) observe(t.local, t.remote, bytes);
          if (!pass(t.local, t.remote)) {
            ++dropped;
            return;
          }
          flight.push_back({now + delay, seq++, t.local, t.remote, {bytes.begin(), bytes.end()}});
        },
        [&](const Event& e) {
          s.events.emplace_back(now, e);
          if (s.on_event) s.on_event(s, e);
        });
    (void)deadline;
  }
  void pump_both() {
    pump(a);
    pump(b);
  }
  Side* owner(const Endpoint& to) {
    for (Side* s : {&a, &b}) {
      for (const Endpoint& e : s->addresses)
        if (e == to) return s;
    }
    return nullptr;
  }
  // Runs until `until` (or until nothing is left to do).
  void run_until(TimePoint until) {
    for (;;) {
      std::optional<TimePoint> next;
      auto consider = [&](std::optional<TimePoint> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      for (const InFlight& f : flight)
        consider(f.at);
      consider(a.agent->poll_timeout());
      consider(b.agent->poll_timeout());
      if (!next || *next > until) {
        now = until;
        return;
      }
      now = std::max(now, *next);
      // Datagrams first, in the order sent; then timers.
      std::optional<std::size_t> first;
      for (std::size_t i = 0; i < flight.size(); ++i) {
        if (flight[i].at <= now && (!first || flight[i].seq < flight[*first].seq)) first = i;
      }
      if (first) {
        InFlight f = std::move(flight[*first]);
        flight.erase(flight.begin() + static_cast<std::ptrdiff_t>(*first));
        Side* s = owner(f.to);
        if (s == nullptr) {
          ++dropped;
          continue;
        }
        if (!s->agent->handle_datagram(now, f.to, f.from, f.bytes)) ++unclaimed;
        pump(*s);
        continue;
      }
      for (Side* s : {&a, &b}) {
        if (auto t = s->agent->poll_timeout(); t && *t <= now) {
          s->agent->handle_timeout(now);
          pump(*s);
        }
      }
    }
  }

  template <class E>
  static std::optional<std::pair<TimePoint, E>> first_event(const Side& s) {
    for (const auto& [t, e] : s.events) {
      if (const auto* x = std::get_if<E>(&e)) return std::pair{t, *x};
    }
    return std::nullopt;
  }
  template <class E>
  static std::size_t count(const Side& s) {
    std::size_t n = 0;
    for (const auto& [t, e] : s.events)
      n += std::holds_alternative<E>(e) ? 1 : 0;
    return n;
  }
};

// Both agents gathered (host candidates only) and told of each other at `now`.
inline void exchange(Wire& w, bool end_of_candidates = true) {
  w.a.agent->gather(w.now);
  w.b.agent->gather(w.now);
  w.a.agent->set_remote(w.now, w.b.agent->ufrag(), w.b.agent->pwd(), w.b.agent->local_candidates(),
                        end_of_candidates);
  w.b.agent->set_remote(w.now, w.a.agent->ufrag(), w.a.agent->pwd(), w.a.agent->local_candidates(),
                        end_of_candidates);
  w.pump_both();
}

}  // namespace natsim::traversal::ice::testing
