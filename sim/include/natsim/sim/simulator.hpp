#pragma once
// The discrete-event core: virtual time and a queue of callbacks. Events at the same
// time run in the order they were scheduled (a sequence number breaks ties), so a run
// is a pure function of its inputs.
#include <cstdint>
#include <memory>
#include <vector>

#include "natsim/base/result.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/inline_function.hpp"

namespace natsim::sim {

// Room for a link delivery (link, member, epoch, packet) or a node timer wrapping a
// TimerFn, without a heap allocation.
using EventFn = InlineFunction<void(), 56>;

// Identifies one scheduled event. The sequence number doubles as a generation, so a
// handle to an event that already ran or was cancelled never touches a reused slot.
struct TimerId {
  std::uint32_t slot = UINT32_MAX;
  std::uint64_t seq = 0;
  [[nodiscard]] bool valid() const { return slot != UINT32_MAX; }
  friend bool operator==(const TimerId&, const TimerId&) = default;
};

class Simulator {
 public:
  Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;
  ~Simulator();

  [[nodiscard]] TimePoint now() const { return now_; }

  // Fails with Errc::time_in_past for a time before now().
  Result<TimerId> schedule_at(TimePoint when, EventFn fn);
  Result<TimerId> schedule_in(Duration delay, EventFn fn);
  // The hot-path form: the caller guarantees when >= now(). The callable is built in
  // its slot directly.
  template <class F>
  TimerId post_at(TimePoint when, F&& fn) {
    const std::uint32_t slot = acquire_slot();
    slot_at(slot).fn.emplace(std::forward<F>(fn));
    return enqueue(when, slot);
  }

  // True if the event was pending and is now cancelled.
  bool cancel(TimerId id);
  [[nodiscard]] bool is_pending(TimerId id) const;

  // Runs the next event; false when there is none.
  bool step();
  // Runs to idle (or until stop()); returns the number of events run.
  std::uint64_t run();
  // Runs every event at or before `until`, then sets now() to `until`.
  std::uint64_t run_until(TimePoint until);
  std::uint64_t run_for(Duration d) { return run_until(now_ + d); }
  // Makes the innermost run*/step loop return after the current event.
  void stop() { stop_requested_ = true; }

  [[nodiscard]] std::size_t pending() const { return live_; }
  [[nodiscard]] std::uint64_t events_run() const { return events_run_; }
  // When the next live event is due, or kTimeNever.
  [[nodiscard]] TimePoint next_event_time();

 private:
  struct Entry {
    std::int64_t when;
    std::uint64_t seq;
    std::uint32_t slot;
  };
  struct Slot {
    std::uint64_t seq = 0;  // 0 = free
    EventFn fn;
  };
  // Slots live in fixed chunks so an event runs in place: scheduling more events
  // while it runs never moves it.
  static constexpr std::uint32_t kChunkBits = 8;
  [[nodiscard]] Slot& slot_at(std::uint32_t i) const {
    return chunks_[i >> kChunkBits][i & ((1u << kChunkBits) - 1)];
  }
  std::uint32_t acquire_slot();
  // The queue's storage of simulators that finished on this thread, for the next one: a
  // fresh world per connect would otherwise allocate its buckets and slots anew.
  struct Spare;
  static Spare* spare();  // nullptr once the thread's spare is gone (thread exit)
  TimerId enqueue(TimePoint when, std::uint32_t slot);

  // A radix heap: event times never precede the last one taken out, so entries are
  // bucketed by the highest bit in which their time differs from it. Pushing is an
  // append; each entry moves down a bucket at most once per bit. Entries with equal
  // times stay in insertion (sequence) order.
  static constexpr int kBuckets = 65;
  void queue_push(const Entry& e);
  void rebase(std::int64_t when);
  // Makes bucket 0 hold the earliest entries if that time is <= limit; false if the
  // queue is empty or its earliest entry is later than limit.
  bool queue_settle(std::int64_t limit);
  [[nodiscard]] int bucket_of(std::int64_t when) const {
    const auto diff = static_cast<std::uint64_t>(when ^ last_);
    return diff == 0 ? 0 : 64 - __builtin_clzll(diff);
  }
  // Runs the earliest live event if it is due by `limit`.
  bool run_next(std::int64_t limit);

  TimePoint now_ = kTimeZero;
  std::uint64_t next_seq_ = 1;
  std::uint64_t events_run_ = 0;
  std::size_t live_ = 0;
  bool stop_requested_ = false;
  std::int64_t last_ = 0;       // time of the last entry taken out
  std::uint64_t occupied_ = 0;  // bit b set: buckets_[b] non-empty (b < 64)
  std::size_t head_ = 0;        // read position in buckets_[0]
  std::vector<Entry> buckets_[kBuckets];
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace natsim::sim
