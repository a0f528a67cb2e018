#pragma once
// Seeds for protocol machines on real networks. Machines take a seed instead of reading
// randomness themselves (so simulations replay); on real sockets their STUN transaction
// IDs must not be predictable or repeat across runs, so io/ draws the seed from
// std::random_device (the OS entropy source on Linux). The seed only feeds the machine's
// xoshiro stream: transaction IDs are unique per run, not cryptographically secret.
#include <cstdint>

namespace natsim::io {

[[nodiscard]] std::uint64_t random_seed();

}  // namespace natsim::io
