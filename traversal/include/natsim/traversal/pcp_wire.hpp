#pragma once
// PCP messages (RFC 6887): the common request and response headers, the MAP, PEER and
// ANNOUNCE opcodes and the THIRD_PARTY, PREFER_FAILURE and FILTER options. parse_*
// validates everything once and returns plain values (or a precise error); emit_* write
// into a caller's buffer. Addresses travel as 128 bits, IPv4 as ::ffff:a.b.c.d (§5).
//
// Request header (§7.1):
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  Version = 2  |R|   Opcode    |         Reserved              |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                 Requested Lifetime (32 bits)                  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |            PCP Client's IP Address (128 bits)                 |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  :             (optional) Opcode-specific information            :
//  :             (optional) PCP Options                            :
//
// Response header (§7.2):
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  Version = 2  |R|   Opcode    |   Reserved    |  Result Code  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                      Lifetime (32 bits)                       |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                     Epoch Time (32 bits)                      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                      Reserved (96 bits)                       |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  :             (optional) Opcode-specific response data          :
//  :             (optional) Options                                :
//
// Option (§7.3), its data padded to a multiple of 4:
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  Option Code  |  Reserved     |       Option Length           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  :                       (optional) Data                         :
#include <array>
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "natsim/base/bytes.hpp"
#include "natsim/base/ip_address.hpp"

namespace natsim::traversal::pcp {

inline constexpr std::uint8_t kVersion = 2;         // §7.1
inline constexpr std::uint16_t kServerPort = 5351;  // §19.1
inline constexpr std::uint16_t kClientPort = 5350;  // §19.1: unsolicited ANNOUNCE goes here
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMaxMessageSize = 1100;  // §7: maximum UDP payload
inline constexpr std::size_t kMapDataSize = 36;       // §11.1
inline constexpr std::size_t kPeerDataSize = 56;      // §12.1
inline constexpr std::size_t kMaxFilters = 8;         // FILTER options one request may carry
inline constexpr std::uint8_t kResponseBit = 0x80;    // the R bit

enum class Opcode : std::uint8_t { announce = 0, map = 1, peer = 2 };

// §7.4.
enum class ResultCode : std::uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,
  excessive_remote_peers = 13,
};
[[nodiscard]] std::string_view to_string(ResultCode c);
// §7.4: NETWORK_FAILURE, NO_RESOURCES, USER_EX_QUOTA and CANNOT_PROVIDE_EXTERNAL are
// short-lifetime errors (retry soon); the others are long-lifetime errors.
[[nodiscard]] bool short_lifetime_error(ResultCode c);

// §7.3: codes 0-127 are mandatory to process, 128-255 optional.
enum class OptionCode : std::uint8_t { third_party = 1, prefer_failure = 2, filter = 3 };

using Nonce = std::array<std::uint8_t, 12>;

// 128-bit address fields (§5): IPv4 as IPv4-mapped IPv6.
[[nodiscard]] IpAddress::Bytes16 address_field(const IpAddress& a);
[[nodiscard]] IpAddress address_from_field(const std::uint8_t* p);

// FILTER (§13.3):
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Option Code=3 |  Reserved     |   Option Length=20            |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |    Reserved   | Prefix Length |      Remote Peer Port         |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               Remote Peer IP address (128 bits)               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Filter {
  std::uint8_t prefix_length = 0;  // over the 128-bit form (IPv4: 96 + prefix)
  std::uint16_t remote_port = 0;   // 0: any port
  IpAddress remote;
  bool operator==(const Filter&) const = default;
};

// The options this implementation knows. THIRD_PARTY (§13.1, code 1, length 16):
// the Internal IP Address (128 bits). PREFER_FAILURE (§13.2, code 2, length 0).
struct Options {
  std::optional<IpAddress> third_party;
  bool prefer_failure = false;
  std::array<Filter, kMaxFilters> filters{};
  std::uint8_t filter_count = 0;
  bool too_many_filters = false;  // more FILTER options than kMaxFilters
  bool operator==(const Options&) const = default;
};

// MAP (§11.1); in a response the port and address are the assigned ones:
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                 Mapping Nonce (96 bits)                       |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |   Protocol    |          Reserved (24 bits)                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |        Internal Port          |    Suggested External Port    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           Suggested External IP Address (128 bits)            |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// PEER (§12.1) is MAP's fields followed by:
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |       Remote Peer Port        |     Reserved (16 bits)        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |               Remote Peer IP Address (128 bits)               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct MappingData {
  Nonce nonce{};
  std::uint8_t protocol = 0;  // IANA protocol number; 0: all protocols
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  IpAddress external_address;     // unspecified (:: or ::ffff:0.0.0.0): no preference
  std::uint16_t remote_port = 0;  // PEER only
  IpAddress remote_address;       // PEER only
  bool operator==(const MappingData&) const = default;
};

struct Request {
  std::uint8_t version = kVersion;
  Opcode opcode = Opcode::announce;
  std::uint32_t lifetime = 0;
  IpAddress client_address;
  MappingData data;  // MAP and PEER
  Options options;
};

struct Response {
  std::uint8_t version = kVersion;
  Opcode opcode = Opcode::announce;
  ResultCode result = ResultCode::success;
  std::uint32_t lifetime = 0;
  std::uint32_t epoch = 0;
  MappingData data;  // MAP and PEER (absent from some error responses: all zero)
  Options options;
};

// Why a request cannot be answered with success; every error but `drop` is the result
// code the server answers with (§8.3).
enum class RequestError : std::uint8_t {
  drop,               // shorter than 2 octets or the R bit set: silently dropped
  unsupp_version,     // version other than 2 (version 0 is NAT-PMP, see §9)
  malformed_request,  // < 24 or > 1100 octets, not a multiple of 4, opcode data truncated
  unsupp_opcode,
  unsupp_option,     // an unknown mandatory-to-process option
  malformed_option,  // bad length, runs past the message, repeated, or not for this opcode
};
[[nodiscard]] ResultCode result_for(RequestError e);

enum class ResponseError : std::uint8_t {
  too_short,     // fewer than 24 octets, or opcode data truncated
  bad_length,    // > 1100 octets or not a multiple of 4
  not_response,  // R bit clear
  bad_version,   // not 2 (a NAT-PMP answer to a PCP request has version 0: see natpmp)
  bad_opcode,
  bad_option,
};

[[nodiscard]] std::size_t opcode_data_size(Opcode op);

[[nodiscard]] boost::system::result<Request, RequestError> parse_request(ByteView datagram);
[[nodiscard]] boost::system::result<Response, ResponseError> parse_response(ByteView datagram);

// Sizes and writers; each returns the bytes written, or nullopt when `out` is too small.
[[nodiscard]] std::size_t encoded_size(const Options& o);
[[nodiscard]] std::optional<std::size_t> emit_request(const Request& r, MutableByteView out);
[[nodiscard]] std::optional<std::size_t> emit_response(const Response& r, MutableByteView out);
// An error response to a request that may not have parsed (§8.3): the header with R set,
// the opcode, `result`, `lifetime` and `epoch`, and the request's opcode-specific data
// copied when the request holds all of it. At most kHeaderSize + kPeerDataSize bytes.
[[nodiscard]] std::optional<std::size_t> emit_error(ByteView request, ResultCode result,
                                                    std::uint32_t lifetime, std::uint32_t epoch,
                                                    MutableByteView out);

}  // namespace natsim::traversal::pcp
