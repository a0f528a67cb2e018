#pragma once
// TURN framing (RFC 8656): ChannelData messages, and splitting a TCP byte stream into
// STUN messages and ChannelData frames.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |         Channel Number        |            Length             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  /                       Application Data                        /
//  +-------------------------------+                               (RFC 8656 §12.4)
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <vector>

#include "natsim/base/bytes.hpp"

namespace natsim::traversal::turn {

// RFC 8656 §12: channel numbers 0x4000 through 0x4FFF.
inline constexpr std::uint16_t kChannelMin = 0x4000;
inline constexpr std::uint16_t kChannelMax = 0x4FFF;
[[nodiscard]] constexpr bool valid_channel(std::uint16_t c) {
  return c >= kChannelMin && c <= kChannelMax;
}
inline constexpr std::size_t kChannelHeaderSize = 4;
inline constexpr std::uint8_t kTransportUdp = 17;  // REQUESTED-TRANSPORT protocol number

enum class ChannelDataError : std::uint8_t { too_short, bad_channel, bad_length };

struct ChannelData {
  std::uint16_t channel = 0;
  ByteView data;
};

// Parses one ChannelData message occupying a whole datagram (UDP: padding optional).
[[nodiscard]] boost::system::result<ChannelData, ChannelDataError> parse_channel_data(
    ByteView datagram);
// Writes a ChannelData message into `out`; with `pad`, rounds up to a multiple of 4
// (required over TCP, RFC 8656 §12.5). Returns the size, or nullopt if it does not fit.
[[nodiscard]] std::optional<std::size_t> write_channel_data(MutableByteView out,
                                                            std::uint16_t channel, ByteView data,
                                                            bool pad);

// Splits a byte stream (TURN over TCP) into frames: STUN messages (20-byte header +
// length) and ChannelData (4-byte header + length, padded to 4).
class StreamFramer {
 public:
  // Appends received bytes. False (and the stream is unusable) when the bytes cannot be
  // the start of a STUN or ChannelData frame, or a frame is larger than `max_frame`.
  bool push(ByteView bytes);
  // The next complete frame, if any (valid until the next push or next()).
  [[nodiscard]] std::optional<ByteView> next();
  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - consumed_; }

  static constexpr std::size_t max_frame = 65535 + 20;

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t consumed_ = 0;
  bool failed_ = false;
};

}  // namespace natsim::traversal::turn
