#include "natsim/io/random_seed.hpp"

#include <random>

namespace natsim::io {

std::uint64_t random_seed() {
  std::random_device device;
  // random_device yields 32-bit values: two draws fill the 64-bit seed.
  const std::uint64_t high = device();
  const std::uint64_t low = device();
  return (high << 32) ^ low;
}

}  // namespace natsim::io
