#include "natsim/traversal/turn_wire.hpp"

#include <cstring>

#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::turn {

using wire::get16;
using wire::put16;

boost::system::result<ChannelData, ChannelDataError> parse_channel_data(ByteView d,
                                                                        ChannelRange range) {
  if (d.size() < kChannelHeaderSize) return ChannelDataError::too_short;
  const std::uint16_t channel = get16(d.data());
  // RFC 8656 §12.6: a channel number in the reserved range is discarded.
  if (!valid_channel(channel, range)) return ChannelDataError::bad_channel;
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

namespace {
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string nonce_cookie(std::uint32_t features) {
  // RFC 8489 §9.2: the 24 bits as 3 bytes, most significant first, in base64 (RFC 4648).
  std::string out(kNonceCookiePrefix);
  for (int shift = 18; shift >= 0; shift -= 6)
    out += kBase64[(features >> shift) & 0x3f];
  return out;
}

std::optional<std::uint32_t> nonce_security_features(std::string_view nonce) {
  if (nonce.size() < kNonceCookieSize || !nonce.starts_with(kNonceCookiePrefix))
    return std::nullopt;
  std::uint32_t features = 0;
  for (const char c : nonce.substr(kNonceCookiePrefix.size(), 4)) {
    const auto digit = kBase64.find(c);
    if (digit == std::string_view::npos) return std::nullopt;
    features = (features << 6) | static_cast<std::uint32_t>(digit);
  }
  return features;
}

bool nonce_announces_password_algorithms(std::string_view nonce) {
  const auto features = nonce_security_features(nonce);
  return features &&
         (*features & (kFeaturePasswordAlgorithms | kFeaturePasswordAlgorithmsMsb)) != 0;
}

}  // namespace natsim::traversal::turn
