#pragma once
// NAT-PMP messages (RFC 6886): the external address request and response, UDP and TCP
// mapping requests and responses, result codes and the seconds-since-start-of-epoch
// field. parse_* return plain values or a precise error and never read past the
// datagram; emit_* write into a caller's buffer.
//
// External address request (§3.2): version 0, opcode 0, nothing else.
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Vers = 0      | OP = 0        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// External address response (§3.2):
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Vers = 0      | OP = 128 + 0  | Result Code (net byte order)  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Seconds Since Start of Epoch (in network byte order)          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | External IPv4 Address (a.b.c.d)                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Mapping request (§3.3), OP 1 = UDP, 2 = TCP:
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Vers = 0      | OP = x        | Reserved                      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Internal Port                 | Suggested External Port       |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Requested Port Mapping Lifetime in Seconds                    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Mapping response (§3.3):
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Vers = 0      | OP = 128 + x  | Result Code                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Seconds Since Start of Epoch                                  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Internal Port                 | Mapped External Port          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  | Port Mapping Lifetime in Seconds                              |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "natsim/base/bytes.hpp"
#include "natsim/base/ip_address.hpp"

namespace natsim::traversal::natpmp {

inline constexpr std::uint8_t kVersion = 0;         // §3
inline constexpr std::uint16_t kServerPort = 5351;  // §3
inline constexpr std::uint16_t kClientPort = 5350;  // §3.2.1: address announcements
inline constexpr std::uint8_t kResponseBit = 0x80;  // §3: OP = 128 + request OP
inline constexpr std::size_t kAddressRequestSize = 2;
inline constexpr std::size_t kAddressResponseSize = 12;
inline constexpr std::size_t kMapRequestSize = 12;
inline constexpr std::size_t kMapResponseSize = 16;
inline constexpr std::size_t kErrorHeaderSize = 8;  // version, OP, result, epoch
// An unsupported request is echoed back (§3.5); a NAT-PMP server answers at most this.
inline constexpr std::size_t kMaxEcho = 1100;

enum class Opcode : std::uint8_t { external_address = 0, map_udp = 1, map_tcp = 2 };

// §3.5.
enum class ResultCode : std::uint16_t {
  success = 0,
  unsupported_version = 1,
  not_authorized = 2,    // "Not Authorized/Refused" (e.g. the box supports mapping, but the
                         // user has turned that feature off)
  network_failure = 3,   // e.g. the NAT box itself has not obtained a DHCP lease
  out_of_resources = 4,  // the NAT box cannot create any more mappings at this time
  unsupported_opcode = 5,
};
[[nodiscard]] std::string_view to_string(ResultCode c);

struct Request {
  Opcode opcode = Opcode::external_address;
  std::uint16_t internal_port = 0;   // mapping requests
  std::uint16_t suggested_port = 0;  // 0: no preference
  std::uint32_t lifetime = 0;        // 0 with suggested port 0: delete (§3.4)
  bool operator==(const Request&) const = default;
};

struct Response {
  Opcode opcode = Opcode::external_address;
  ResultCode result = ResultCode::success;
  std::uint32_t epoch = 0;     // seconds since the mapping table was initialised
  IpAddress external_address;  // address responses
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  std::uint32_t lifetime = 0;
  bool operator==(const Response&) const = default;
};

enum class RequestError : std::uint8_t {
  drop,                 // fewer than 2 bytes, or OP >= 128 (a response): ignored (§3.5)
  unsupported_version,  // version not 0 (a PCP request is version 2: RFC 6887 §9)
  unsupported_opcode,   // OP < 128 but not 0, 1 or 2
  too_short,            // a mapping request shorter than 12 bytes: dropped
};

enum class ResponseError : std::uint8_t {
  too_short,
  bad_version,   // not 0
  not_response,  // OP < 128
  bad_opcode,    // OP - 128 not 0, 1 or 2
};

[[nodiscard]] boost::system::result<Request, RequestError> parse_request(ByteView datagram);
[[nodiscard]] boost::system::result<Response, ResponseError> parse_response(ByteView datagram);

// Each returns the bytes written, or nullopt when `out` is too small.
[[nodiscard]] std::optional<std::size_t> emit_request(const Request& r, MutableByteView out);
[[nodiscard]] std::optional<std::size_t> emit_response(const Response& r, MutableByteView out);
// §3.5: the answer to a request that failed with `error`: an unsupported version gets
// the 8-byte header with result 1; an unsupported opcode gets the request back (at most
// kMaxEcho bytes) with the top bit of OP set and result 5. nullopt for drop/too_short.
[[nodiscard]] std::optional<std::size_t> emit_error(ByteView request, RequestError error,
                                                    std::uint32_t epoch, MutableByteView out);

}  // namespace natsim::traversal::natpmp
