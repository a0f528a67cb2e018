#include "natsim/sim/simulator.hpp"

#include "natsim/sim/memory_reuse.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace natsim::sim {

namespace {
// Set when this thread's Spare is destroyed (thread exit): a simulator destroyed after that,
// one held by a later thread_local say, frees its storage as usual.
thread_local bool t_spare_gone = false;
}  // namespace

struct Simulator::Spare {
  // Only modest vectors are kept, so one huge run does not pin its memory for the thread.
  static constexpr std::size_t kMaxEntries = 1024;
  Spare() { buckets.reserve(kBuckets); }  // never grows after: no allocation in ~Simulator
  Spare(const Spare&) = delete;
  Spare& operator=(const Spare&) = delete;
  ~Spare() { t_spare_gone = true; }
  std::vector<std::vector<Entry>> buckets;
  std::vector<std::uint32_t> free_slots;
  std::unique_ptr<Slot[]> chunk;  // every slot free, its function empty
};

Simulator::Spare* Simulator::spare() {
  if (t_spare_gone) return nullptr;
  thread_local Spare spare;
  return &spare;
}

Simulator::Simulator() {
  Spare* s = spare();
  if (s == nullptr) return;
  for (auto& bucket : buckets_) {
    if (s->buckets.empty()) break;
    bucket = std::move(s->buckets.back());
    s->buckets.pop_back();
  }
  free_slots_ = std::move(s->free_slots);
  if (s->chunk) chunks_.push_back(std::move(s->chunk));
}

Simulator::~Simulator() {
  Spare* s = spare();
  if (s == nullptr) return;
  for (auto& bucket : buckets_) {
    if (bucket.capacity() == 0 || bucket.capacity() > Spare::kMaxEntries) continue;
    if (s->buckets.size() == static_cast<std::size_t>(kBuckets)) break;
    bucket.clear();
    s->buckets.push_back(std::move(bucket));
  }
  if (free_slots_.capacity() <= Spare::kMaxEntries &&
      free_slots_.capacity() > s->free_slots.capacity()) {
    free_slots_.clear();
    s->free_slots = std::move(free_slots_);
  }
  if (kReuseWorldMemory && !chunks_.empty() && !s->chunk) {
    // Pending events are destroyed here, as they would be with their chunk.
    // Slots past slot_count_ were never handed out here, so they are free already.
    const std::uint32_t used = std::min(slot_count_, std::uint32_t{1} << kChunkBits);
    for (std::uint32_t i = 0; i < used; ++i) {
      Slot& slot = chunks_[0][i];
      slot.seq = 0;
      slot.fn.reset();
    }
    s->chunk = std::move(chunks_[0]);
  }
}

Result<TimerId> Simulator::schedule_at(TimePoint when, EventFn fn) {
  if (when < now_) return Errc::time_in_past;
  return post_at(when, std::move(fn));
}

Result<TimerId> Simulator::schedule_in(Duration delay, EventFn fn) {
  if (delay < Duration::zero()) return Errc::time_in_past;
  return post_at(now_ + delay, std::move(fn));
}

std::uint32_t Simulator::acquire_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  if ((slot_count_ >> kChunkBits) == chunks_.size()) {
    // Default-initialised, not value-initialised: each slot's constructor still sets
    // seq = 0 and an empty function, but the 56-byte closure buffers are not zeroed
    // (a memset of 18 KB per world, 5% of a short connect).
    chunks_.push_back(std::make_unique_for_overwrite<Slot[]>(std::size_t{1} << kChunkBits));
  }
  return slot_count_++;
}

TimerId Simulator::enqueue(TimePoint when, std::uint32_t slot) {
  assert(when >= now_);
  const std::uint64_t seq = next_seq_++;
  slot_at(slot).seq = seq;
  queue_push(Entry{to_ns(when), seq, slot});
  ++live_;
  return TimerId{slot, seq};
}

bool Simulator::is_pending(TimerId id) const {
  return id.valid() && id.slot < slot_count_ && slot_at(id.slot).seq == id.seq;
}

bool Simulator::cancel(TimerId id) {
  if (!is_pending(id)) return false;
  // The queue entry stays and is skipped when it comes out (lazy deletion).
  Slot& s = slot_at(id.slot);
  s.seq = 0;
  s.fn.reset();
  free_slots_.push_back(id.slot);
  --live_;
  return true;
}

void Simulator::queue_push(const Entry& e) {
  if (e.when < last_) rebase(e.when);
  const int b = bucket_of(e.when);
  buckets_[b].push_back(e);
  if (b < 64) occupied_ |= std::uint64_t{1} << b;
}

void Simulator::rebase(std::int64_t when) {
  // Only after next_event_time() looked ahead of now(), or the queue drained through
  // cancelled entries: re-bucket everything relative to the earlier time.
  std::vector<Entry> all(buckets_[0].begin() + static_cast<std::ptrdiff_t>(head_),
                         buckets_[0].end());
  for (int b = 1; b < kBuckets; ++b)
    all.insert(all.end(), buckets_[b].begin(), buckets_[b].end());
  for (auto& bucket : buckets_)
    bucket.clear();
  head_ = 0;
  occupied_ = 0;
  last_ = when;
  for (const Entry& e : all)
    queue_push(e);
}

bool Simulator::queue_settle(std::int64_t limit) {
  for (;;) {
    std::vector<Entry>& zero = buckets_[0];
    // Skip cancelled entries at the front of bucket 0.
    while (head_ < zero.size() && slot_at(zero[head_].slot).seq != zero[head_].seq)
      ++head_;
    if (head_ < zero.size()) return last_ <= limit;
    zero.clear();
    head_ = 0;
    occupied_ &= ~std::uint64_t{1};
    const std::uint64_t rest = occupied_;
    int b;
    if (rest != 0) {
      b = __builtin_ctzll(rest);
    } else if (!buckets_[64].empty()) {
      b = 64;
    } else {
      return false;
    }
    // Cancelled entries move along with the rest (checking them here would touch every
    // slot); they are skipped when they reach the front of bucket 0.
    std::vector<Entry>& from = buckets_[b];
    std::int64_t min = from.front().when;
    for (const Entry& e : from)
      min = e.when < min ? e.when : min;
    if (min > limit) return false;
    last_ = min;
    if (b < 64) occupied_ &= ~(std::uint64_t{1} << b);
    // Every entry lands in a lower bucket, in order, so equal times keep their order.
    for (const Entry& e : from)
      queue_push(e);
    from.clear();
  }
}

TimePoint Simulator::next_event_time() {
  if (!queue_settle(std::numeric_limits<std::int64_t>::max())) return kTimeNever;
  return TimePoint{Duration{last_}};
}

bool Simulator::run_next(std::int64_t limit) {
  if (!queue_settle(limit)) return false;
  const Entry top = buckets_[0][head_++];
  Slot& s = slot_at(top.slot);
  s.seq = 0;  // no longer pending: cancelling it from inside is a no-op
  --live_;
  now_ = TimePoint{Duration{top.when}};
  ++events_run_;
  s.fn();
  s.fn.reset();
  free_slots_.push_back(top.slot);  // reusable only once it has finished
  return true;
}

bool Simulator::step() {
  return run_next(std::numeric_limits<std::int64_t>::max());
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
  while (!stop_requested_ && run_next(to_ns(until))) {
  }
  if (!stop_requested_ && until > now_) now_ = until;
  return events_run_ - before;
}

}  // namespace natsim::sim
