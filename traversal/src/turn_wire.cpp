#include "natsim/traversal/turn_wire.hpp"

#include <cstring>

#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::turn {

using wire::get16;
using wire::put16;

boost::system::result<ChannelData, ChannelDataError> parse_channel_data(ByteView d) {
  if (d.size() < kChannelHeaderSize) return ChannelDataError::too_short;
  const std::uint16_t channel = get16(d.data());
  if (!valid_channel(channel)) return ChannelDataError::bad_channel;
  const std::size_t length = get16(d.data() + 2);
  // RFC 8656 §12.5: over UDP the padding may be absent; never trust the length beyond
  // the datagram.
  if (length > d.size() - kChannelHeaderSize) return ChannelDataError::bad_length;
  return ChannelData{channel, d.subspan(kChannelHeaderSize, length)};
}

std::optional<std::size_t> write_channel_data(MutableByteView out, std::uint16_t channel,
                                              ByteView data, bool pad) {
  const std::size_t body = pad ? (data.size() + 3) & ~std::size_t{3} : data.size();
  if (data.size() > 0xffff || out.size() < kChannelHeaderSize + body) return std::nullopt;
  put16(out.data(), channel);
  put16(out.data() + 2, static_cast<std::uint16_t>(data.size()));
  if (!data.empty()) std::memcpy(out.data() + kChannelHeaderSize, data.data(), data.size());
  std::memset(out.data() + kChannelHeaderSize + data.size(), 0, body - data.size());
  return kChannelHeaderSize + body;
}

bool StreamFramer::push(ByteView bytes) {
  if (failed_) return false;
  // Drop consumed frames before growing: the buffer holds at most one partial frame
  // plus what was just pushed.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  // Validate the frame at the front as soon as its header is there.
  if (buffer_.size() - consumed_ >= 4) {
    const std::uint8_t first = buffer_[consumed_];
    const bool stun = (first & 0xC0) == 0;
    const bool channel = (first & 0xC0) == 0x40;
    if (!stun && !channel) failed_ = true;
  }
  return !failed_;
}

std::optional<ByteView> StreamFramer::next() {
  if (failed_) return std::nullopt;
  const std::size_t available = buffer_.size() - consumed_;
  if (available < 4) return std::nullopt;
  const std::uint8_t* p = buffer_.data() + consumed_;
  std::size_t frame;
  if ((p[0] & 0xC0) == 0) {
    frame = 20 + get16(p + 2);  // RFC 8489 §6.2.2: STUN over TCP is self-delimiting
  } else if ((p[0] & 0xC0) == 0x40) {
    frame = kChannelHeaderSize + ((get16(p + 2) + 3u) & ~3u);  // §12.5: padded over TCP
  } else {
    failed_ = true;
    return std::nullopt;
  }
  if (frame > max_frame) {
    failed_ = true;
    return std::nullopt;
  }
  if (available < frame) return std::nullopt;
  consumed_ += frame;
  return ByteView(p, frame);
}

}  // namespace natsim::traversal::turn
