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

  // `where` is the node or link name; `reason` matters only for drops.
  void packet(TimePoint t, TraceKind kind, std::string_view where, const Packet& p,
              DropReason reason = DropReason::kCount);
  void timer(TimePoint t, std::string_view where);

 private:
  void mix(std::uint64_t v) {
    digest_ ^= v + 0x9e3779b97f4a7c15ull + (digest_ << 6) + (digest_ >> 2);
    digest_ *= 0xff51afd7ed558ccdull;
    digest_ ^= digest_ >> 33;
  }
  void mix_bytes(ByteView bytes);
  void mix_string(std::string_view s);

  std::uint64_t digest_ = 0x6e617473696d0001ull;  // "natsim" + version
  std::uint64_t records_ = 0;
  std::FILE* log_ = nullptr;
  bool owns_log_ = false;
};

}  // namespace natsim::sim
