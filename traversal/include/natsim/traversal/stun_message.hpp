#pragma once
// STUN messages (RFC 8489 §5, §14): a checked view for parsing and a writer that
// builds a message in a caller's buffer.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0 0|     STUN Message Type     |         Message Length        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                         Magic Cookie                          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                     Transaction ID (96 bits)                  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Type                          | Length                        |  each attribute,
//  +-------------------------------+-------------------------------+  value padded to
//  | Value (variable)                                          ....   a multiple of 4
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/traversal/stun_constants.hpp"

namespace natsim::traversal::stun {

enum class ParseError : std::uint8_t {
  too_short,          // fewer than 20 bytes
  not_stun,           // top two bits set (ChannelData, RTP, ...)
  bad_length,         // length field not a multiple of 4 or not the datagram's size
  bad_attribute,      // an attribute runs past the message
  after_fingerprint,  // something follows FINGERPRINT
};
[[nodiscard]] std::string_view to_string(ParseError e);

enum class IntegrityResult : std::uint8_t { absent, ok, mismatch };

struct Attribute {
  std::uint16_t type;
  ByteView value;
  std::size_t offset;  // of the attribute header within the message
};

struct ErrorCodeValue {
  std::uint16_t code;
  std::string_view reason;
};

// RFC 8489 §18.5.1.1 / §14.11: one entry of PASSWORD-ALGORITHMS (or PASSWORD-ALGORITHM).
struct PasswordAlgorithmEntry {
  std::uint16_t algorithm;
  ByteView parameters;
};

// Bytes an attribute with a `value_length`-byte value takes: header and padding (§14).
[[nodiscard]] constexpr std::size_t attribute_size(std::size_t value_length) {
  return 4 + ((value_length + 3) & ~std::size_t{3});
}
inline constexpr std::size_t kIntegritySize = attribute_size(20);        // MESSAGE-INTEGRITY
inline constexpr std::size_t kIntegritySha256Size = attribute_size(32);  // ...-SHA256
inline constexpr std::size_t kFingerprintSize = attribute_size(4);

// A view: it points into the bytes it was parsed from, which must outlive it.
class Message {
 public:
  // Validates header, length and attribute framing; never reads past `datagram`.
  // A message without the magic cookie is accepted as RFC 3489 ("classic") STUN.
  [[nodiscard]] static boost::system::result<Message, ParseError> parse(ByteView datagram);
  // Cheap pre-check for demultiplexing (RFC 8489 §6.3, RFC 7983): looks like STUN.
  [[nodiscard]] static bool looks_like_stun(ByteView datagram);

  [[nodiscard]] std::uint16_t method() const { return method_; }
  [[nodiscard]] Class cls() const { return class_; }
  [[nodiscard]] const TransactionId& transaction_id() const { return tid_; }
  [[nodiscard]] bool classic() const { return cookie_ != kMagicCookie; }  // RFC 3489 peer
  // The 32 bits after the length: the magic cookie, or for RFC 3489 the first part of
  // its 128-bit transaction ID (echo it back in responses).
  [[nodiscard]] std::uint32_t cookie() const { return cookie_; }
  [[nodiscard]] ByteView bytes() const { return bytes_; }

  [[nodiscard]] std::vector<Attribute> attributes() const;
  [[nodiscard]] std::optional<Attribute> find(std::uint16_t type) const;
  [[nodiscard]] bool has(std::uint16_t type) const { return find(type).has_value(); }

  // Typed accessors: nullopt when absent or malformed.
  [[nodiscard]] std::optional<Endpoint> address(std::uint16_t type) const;      // MAPPED-style
  [[nodiscard]] std::optional<Endpoint> xor_address(std::uint16_t type) const;  // XOR-*-ADDRESS
  // XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server.
  [[nodiscard]] std::optional<Endpoint> mapped_address() const;
  [[nodiscard]] std::optional<ErrorCodeValue> error_code() const;
  [[nodiscard]] std::optional<std::uint32_t> u32(std::uint16_t type) const;
  [[nodiscard]] std::optional<std::uint64_t> u64(std::uint16_t type) const;
  [[nodiscard]] std::optional<std::string_view> text(std::uint16_t type) const;
  // CHANGE-REQUEST flags (RFC 5780 §7.2): {change IP, change port}.
  [[nodiscard]] std::optional<std::pair<bool, bool>> change_request() const;
  // RFC 5780 §7.5: RESPONSE-PORT (a port, then two bytes of padding).
  [[nodiscard]] std::optional<std::uint16_t> response_port() const;
  // RFC 8656 §18.7: EVEN-PORT; the value is its R bit (reserve the next port too).
  [[nodiscard]] std::optional<bool> even_port() const;
  // RFC 8656 §18.8: REQUESTED-ADDRESS-FAMILY (0x01 IPv4, 0x02 IPv6).
  [[nodiscard]] std::optional<std::uint8_t> requested_address_family() const;
  // RFC 8489 §14.11: the entries of PASSWORD-ALGORITHMS; nullopt when absent or when
  // an entry runs past the attribute.
  [[nodiscard]] std::optional<std::vector<PasswordAlgorithmEntry>> password_algorithms() const;
  // RFC 8489 §14.12: the algorithm number of PASSWORD-ALGORITHM.
  [[nodiscard]] std::optional<std::uint16_t> password_algorithm() const;
  [[nodiscard]] std::vector<std::uint16_t> unknown_attributes_value() const;
  // Comprehension-required attributes this implementation does not know (→ 420).
  [[nodiscard]] std::vector<std::uint16_t> unknown_required() const;

  // RFC 8489 §14.7.
  [[nodiscard]] bool fingerprint_ok() const;
  // RFC 8489 §14.5 / §14.6: checks MESSAGE-INTEGRITY-SHA256 if present, else
  // MESSAGE-INTEGRITY (HMAC-SHA1), with `key` (short-term: the password; long-term:
  // the derived key).
  [[nodiscard]] IntegrityResult check_integrity(ByteView key) const;

 private:
  ByteView bytes_;
  std::uint16_t method_ = 0;
  Class class_ = Class::request;
  TransactionId tid_{};
  std::uint32_t cookie_ = kMagicCookie;
};

// Builds a message into `out`. Every add_* is a no-op once the buffer is full; finish()
// then reports failure, so a caller checks once.
class Writer {
 public:
  // `cookie` other than the magic cookie writes an RFC 3489 message whose 128-bit
  // transaction ID is cookie + tid.
  Writer(MutableByteView out, std::uint16_t method, Class cls, const TransactionId& tid,
         std::uint32_t cookie = kMagicCookie);

  void add(std::uint16_t type, ByteView value);
  void add_text(std::uint16_t type, std::string_view value);
  void add_u32(std::uint16_t type, std::uint32_t value);
  void add_u64(std::uint16_t type, std::uint64_t value);
  void add_address(std::uint16_t type, const Endpoint& e);      // MAPPED-ADDRESS style
  void add_xor_address(std::uint16_t type, const Endpoint& e);  // XOR-*-ADDRESS style
  void add_error(std::uint16_t code, std::string_view reason = {});
  void add_unknown_attributes(const std::vector<std::uint16_t>& types);
  void add_change_request(bool change_ip, bool change_port);
  void add_response_port(std::uint16_t port);              // RFC 5780 §7.5
  void add_zeros(std::uint16_t type, std::size_t length);  // e.g. PADDING (RFC 5780 §7.6)
  void add_empty(std::uint16_t type) { add(type, {}); }
  // RFC 8489 §14.5, §14.6, §14.7: these must come last, in this order.
  void add_message_integrity(ByteView key);
  void add_message_integrity_sha256(ByteView key);
  void add_fingerprint();

  // RFC 8489 §14: padding is zero on sending. RFC 5769's vectors pad with spaces to show
  // that receivers ignore it; this reproduces them byte for byte.
  void set_padding_byte(std::uint8_t byte) { padding_ = byte; }

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  // The finished message, or nullopt if it did not fit.
  [[nodiscard]] std::optional<ByteView> finish() const;

 private:
  std::uint8_t* reserve(std::uint16_t type, std::size_t length);
  void set_length(std::size_t body);

  MutableByteView out_;
  std::size_t size_ = 0;
  bool ok_ = true;
  std::uint8_t padding_ = 0;
  TransactionId tid_;
};

// Encodes/decodes the 14-bit message type (RFC 8489 §5, Figure 3).
[[nodiscard]] constexpr std::uint16_t message_type(std::uint16_t method, Class cls) {
  const auto c = static_cast<std::uint16_t>(cls);
  return static_cast<std::uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) |
                                    ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
}

}  // namespace natsim::traversal::stun
