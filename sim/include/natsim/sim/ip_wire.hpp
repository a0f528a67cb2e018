#pragma once
// Synthesises the IPv4/IPv6 and UDP/TCP headers of a simulated packet, and parses them
// back. The simulator never needs real headers; captures and their tests do.
#include <cstdint>
#include <optional>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/base/result.hpp"
#include "natsim/sim/packet.hpp"

namespace natsim::sim {

// RFC 1071: ones'-complement sum of 16-bit words, folded (not yet complemented).
[[nodiscard]] std::uint32_t checksum_add(std::uint32_t sum, ByteView bytes);
[[nodiscard]] std::uint16_t checksum_finish(std::uint32_t sum);

// Writes the packet as it would appear on the wire into `out`, which must hold
// p.wire_size() bytes; returns the number of bytes written.
std::size_t encode_ip_packet(const Packet& p, MutableByteView out);
// Writes only its IP and transport headers (checksums over the whole packet) into `out`,
// which must hold p.ip_header_size() + p.l4_header_size() bytes: what an ICMP error
// quotes, without copying the payload. Returns the number of bytes written.
std::size_t encode_ip_headers(const Packet& p, MutableByteView out);

enum class IpParseError : std::uint8_t {
  truncated,
  bad_version,
  bad_header_length,
  bad_total_length,
  bad_ip_checksum,
  unsupported_protocol,
  bad_l4_length,
  bad_l4_checksum,
  bad_icmp,  // an ICMP message too short, or whose quoted datagram does not parse
};

[[nodiscard]] const char* to_string(IpParseError e);
// Lets result<T, IpParseError>::value() throw (tests and tools, never the packet path).
[[noreturn]] void throw_exception_from_error(IpParseError e, const boost::source_location& loc);

struct ParsedIpPacket {
  Endpoint src;
  Endpoint dst;
  IpProto proto = IpProto::udp;
  std::uint8_t ttl = 0;
  TcpHeader tcp;
  IcmpHeader icmp;
  ByteView payload;  // points into the parsed buffer (ICMP: the quoted datagram)
};

// What an ICMP error quotes (RFC 792): the original datagram's addresses and ports, read
// from its IP header and the first 8 bytes after it (a UDP or TCP header's ports).
struct QuotedDatagram {
  Endpoint src;
  Endpoint dst;
  IpProto proto = IpProto::udp;
};
// Parses the quote of an ICMP error (ParsedIpPacket::payload, or an ICMP packet's
// payload): an IPv4 header (its checksum checked, the total length not: the rest was
// cut) and at least 8 bytes. Never reads outside `quoted`.
[[nodiscard]] boost::system::result<QuotedDatagram, IpParseError> parse_icmp_quote(ByteView quoted);

// Validates lengths and both checksums; never reads outside `bytes`.
[[nodiscard]] boost::system::result<ParsedIpPacket, IpParseError> parse_ip_packet(ByteView bytes);

}  // namespace natsim::sim
