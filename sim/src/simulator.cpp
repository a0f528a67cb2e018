#include "natsim/sim/simulator.hpp"

#include <cassert>
#include <utility>

namespace natsim::sim {

namespace {
constexpr std::size_t kArity = 4;  // a 4-ary heap halves the depth and stays cache friendly
}

Result<TimerId> Simulator::schedule_at(TimePoint when, EventFn fn) {
  if (when < now_) return Errc::time_in_past;
  return post_at(when, std::move(fn));
}

Result<TimerId> Simulator::schedule_in(Duration delay, EventFn fn) {
  if (delay < Duration::zero()) return Errc::time_in_past;
  return post_at(now_ + delay, std::move(fn));
}

TimerId Simulator::post_at(TimePoint when, EventFn fn) {
  assert(when >= now_);
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  const std::uint64_t seq = next_seq_++;
  slots_[slot].seq = seq;
  slots_[slot].fn = std::move(fn);
  heap_push(Entry{to_ns(when), seq, slot});
  ++live_;
  return TimerId{slot, seq};
}

bool Simulator::is_pending(TimerId id) const {
  return id.valid() && id.slot < slots_.size() && slots_[id.slot].seq == id.seq;
}

bool Simulator::cancel(TimerId id) {
  if (!is_pending(id)) return false;
  // The heap entry stays and is discarded when it reaches the top (lazy deletion).
  Slot& s = slots_[id.slot];
  s.seq = 0;
  s.fn.reset();
  free_slots_.push_back(id.slot);
  --live_;
  return true;
}

void Simulator::heap_push(Entry e) {
  std::size_t i = heap_.size();
  heap_.push_back(e);
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!later(heap_[parent], e)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void Simulator::heap_pop() {
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == 0) return;
  std::size_t i = 0;
  for (;;) {
    const std::size_t first = i * kArity + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = first + kArity < n ? first + kArity : n;
    for (std::size_t c = first + 1; c < end; ++c) {
      if (later(heap_[best], heap_[c])) best = c;
    }
    if (!later(last, heap_[best])) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = last;
}

void Simulator::drop_stale_top() {
  while (!heap_.empty() && slots_[heap_.front().slot].seq != heap_.front().seq) heap_pop();
}

TimePoint Simulator::next_event_time() {
  drop_stale_top();
  return heap_.empty() ? kTimeNever : TimePoint{Duration{heap_.front().when}};
}

bool Simulator::run_top() {
  const Entry top = heap_.front();
  heap_pop();
  Slot& s = slots_[top.slot];
  EventFn fn = std::move(s.fn);
  s.seq = 0;
  free_slots_.push_back(top.slot);
  --live_;
  now_ = TimePoint{Duration{top.when}};
  ++events_run_;
  fn();
  return true;
}

bool Simulator::step() {
  drop_stale_top();
  if (heap_.empty()) return false;
  return run_top();
}

std::uint64_t Simulator::run() {
  stop_requested_ = false;
  const std::uint64_t before = events_run_;
  while (!stop_requested_ && step()) {
  }
  return events_run_ - before;
}

std::uint64_t Simulator::run_until(TimePoint until) {
  stop_requested_ = false;
  const std::uint64_t before = events_run_;
  while (!stop_requested_) {
    drop_stale_top();
    if (heap_.empty() || heap_.front().when > to_ns(until)) break;
    run_top();
  }
  if (!stop_requested_ && until > now_) now_ = until;
  return events_run_ - before;
}

}  // namespace natsim::sim
