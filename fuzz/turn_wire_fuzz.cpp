// TURN framing: ChannelData parsing and the TCP stream framer, fed arbitrary bytes in
// arbitrary chunks.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "natsim/traversal/turn_wire.hpp"

using namespace natsim;
using namespace natsim::traversal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView bytes(data, size);
  if (auto c = turn::parse_channel_data(bytes)) {
    if (c->data.data() + c->data.size() > data + size) std::abort();
  }
  turn::StreamFramer framer;
  const std::size_t chunk = size == 0 ? 1 : (data[0] % 13) + 1;
  for (std::size_t i = 0; i < size; i += chunk) {
    if (!framer.push(bytes.subspan(i, std::min(chunk, size - i)))) break;
    while (auto frame = framer.next()) {
      if (frame->size() > turn::StreamFramer::max_frame) std::abort();
    }
  }
  return 0;
}
