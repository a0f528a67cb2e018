#pragma once
// Byte views used by every wire codec.
#include <cstdint>
#include <span>

namespace natsim {

using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

}  // namespace natsim
