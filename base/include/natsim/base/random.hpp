#pragma once
// Seeded randomness. Every component draws from its own stream, derived from the
// scenario seed and the component's stable name, so adding a host or a link does not
// change the random choices of any other.
#include <cstdint>
#include <string_view>

namespace natsim {

[[nodiscard]] constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// FNV-1a: stable across platforms and compilers (std::hash is not).
[[nodiscard]] constexpr std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// xoshiro256** (Blackman & Vigna): fast, small state, good statistical quality.
class Rng {
 public:
  using result_type = std::uint64_t;

  explicit constexpr Rng(std::uint64_t seed = 0) {
    std::uint64_t sm = seed;
    for (auto& word : s_)
      word = splitmix64(sm);
  }
  // The stream for `component` under `seed`.
  [[nodiscard]] static constexpr Rng for_component(std::uint64_t seed, std::string_view component) {
    std::uint64_t mix = seed ^ stable_hash(component);
    return Rng(splitmix64(mix));
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return UINT64_MAX; }

  constexpr result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 bits of precision.
  [[nodiscard]] constexpr double uniform() {
    return static_cast<double>((*this)() >> 11) * 0x1.0p-53;
  }
  // True with probability p; draws nothing when p is 0 or 1, so a lossless link
  // consumes no randomness.
  [[nodiscard]] constexpr bool bernoulli(double p) {
    if (p <= 0.0) return false;
    if (p >= 1.0) return true;
    return uniform() < p;
  }
  // Uniform integer in [0, bound) (Lemire's multiply-shift; bias below 2^-64 * bound).
  [[nodiscard]] constexpr std::uint64_t below(std::uint64_t bound) {
    __extension__ using U128 = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<U128>((*this)()) * bound) >> 64);
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace natsim
