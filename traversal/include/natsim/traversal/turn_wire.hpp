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
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/bytes.hpp"

namespace natsim::traversal::turn {

// RFC 8656 §12: channel numbers 0x4000 through 0x4FFF (0x5000-0xFFFF reserved, §12.6).
// RFC 5766 §11 allowed 0x4000 through 0x7FFF, and older clients (coturn's uclient) still
// pick numbers up there; a server may accept that range on request.
inline constexpr std::uint16_t kChannelMin = 0x4000;
inline constexpr std::uint16_t kChannelMax = 0x4FFF;
inline constexpr std::uint16_t kChannelMaxRfc5766 = 0x7FFF;
enum class ChannelRange : std::uint8_t { rfc8656, rfc5766 };
[[nodiscard]] constexpr std::uint16_t channel_max(ChannelRange range) {
  return range == ChannelRange::rfc5766 ? kChannelMaxRfc5766 : kChannelMax;
}
[[nodiscard]] constexpr bool valid_channel(std::uint16_t c,
                                           ChannelRange range = ChannelRange::rfc8656) {
  return c >= kChannelMin && c <= channel_max(range);
}
inline constexpr std::size_t kChannelHeaderSize = 4;
inline constexpr std::uint8_t kTransportUdp = 17;  // REQUESTED-TRANSPORT protocol number

enum class ChannelDataError : std::uint8_t { too_short, bad_channel, bad_length };

struct ChannelData {
  std::uint16_t channel = 0;
  ByteView data;
};

// Parses one ChannelData message occupying a whole datagram (UDP: padding optional);
// channel numbers outside `range` are bad_channel.
[[nodiscard]] boost::system::result<ChannelData, ChannelDataError> parse_channel_data(
    ByteView datagram, ChannelRange range = ChannelRange::rfc8656);
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

// The nonce cookie (RFC 8489 §9.2): a server that implements RFC 8489 starts every NONCE
// with "obMatJos2" and 4 base64 characters of its 24-bit STUN Security Features set, so
// that a client can tell when an attacker stripped a feature from a challenge (bid-down,
// §9.2.1). Bits as numbered by §18.1 after verified erratum 6290: bit 0 is the least
// significant bit of the set.
inline constexpr std::string_view kNonceCookiePrefix = "obMatJos2";
inline constexpr std::size_t kNonceCookieSize = 13;
inline constexpr std::uint32_t kFeaturePasswordAlgorithms = 0x000001;  // bit 0
inline constexpr std::uint32_t kFeatureUsernameAnonymity = 0x000002;   // bit 1
// The RFC's text before the erratum put bit 0 at the most significant end ("gAAA"); some
// servers send that.
inline constexpr std::uint32_t kFeaturePasswordAlgorithmsMsb = 0x800000;

// The 13-character cookie for a feature set.
[[nodiscard]] std::string nonce_cookie(std::uint32_t features);
// The feature set of a nonce that starts with the cookie; nullopt when it does not (an
// RFC 5389 server) or the 4 characters are not base64.
[[nodiscard]] std::optional<std::uint32_t> nonce_security_features(std::string_view nonce);
// Whether the nonce announces "Password algorithms" (either bit numbering).
[[nodiscard]] bool nonce_announces_password_algorithms(std::string_view nonce);

}  // namespace natsim::traversal::turn
