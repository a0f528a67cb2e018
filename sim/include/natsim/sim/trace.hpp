#pragma once
// A running digest of everything that happens to packets and timers, and an optional
// JSON Lines log of the same. Two runs with equal digests did the same things at the
// same virtual times with the same bytes.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "natsim/base/time.hpp"
#include "natsim/sim/counters.hpp"
#include "natsim/sim/packet.hpp"

namespace natsim::sim {

enum class TraceKind : std::uint8_t { send, deliver, forward, drop, timer };

[[nodiscard]] constexpr std::string_view to_string(TraceKind k) {
  constexpr std::string_view kNames[] = {"send", "deliver", "forward", "drop", "timer"};
  return kNames[static_cast<std::size_t>(k)];
}

class Trace {
 public:
  Trace() = default;
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;
  ~Trace();

  [[nodiscard]] std::uint64_t digest() const { return digest_; }
  [[nodiscard]] std::uint64_t records() const { return records_; }

  // Starts writing JSON Lines to `path` (truncating it). Returns false if it cannot open.
  bool open_log(const char* path);
  // Writes JSON Lines to an already open stream that the caller keeps owning.
  void set_log(std::FILE* out);
  void close_log();
  [[nodiscard]] bool logging() const { return log_ != nullptr; }

  // `where` is the node or link name and `where_hash` its stable_hash; `reason` matters
  // only for drops. Deliveries, drops and timers enter the digest; sends and forwards
  // only the log (a packet's path is implied by where and when it ends).
  void packet(TimePoint t, TraceKind kind, std::string_view where, std::uint64_t where_hash,
              const Packet& p, DropReason reason = DropReason::kCount) {
    if (kind == TraceKind::deliver || kind == TraceKind::drop) {
      digest_packet(t, kind, where_hash, p, reason);
    }
    if (log_ != nullptr) log_packet(t, kind, where, p, reason);
  }
  void timer(TimePoint t, std::string_view where, std::uint64_t where_hash);

 private:
  void mix(std::uint64_t v) {
    digest_ ^= v + 0x9e3779b97f4a7c15ull + (digest_ << 6) + (digest_ >> 2);
    digest_ *= 0xff51afd7ed558ccdull;
    digest_ ^= digest_ >> 33;
  }
  void digest_packet(TimePoint t, TraceKind kind, std::uint64_t where_hash, const Packet& p,
                     DropReason reason);
  void log_packet(TimePoint t, TraceKind kind, std::string_view where, const Packet& p,
                  DropReason reason);

  std::uint64_t digest_ = 0x6e617473696d0001ull;  // "natsim" + version
  std::uint64_t records_ = 0;
  std::FILE* log_ = nullptr;
  bool owns_log_ = false;
};

}  // namespace natsim::sim
