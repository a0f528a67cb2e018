#include "natsim/sim/ip_wire.hpp"

#include <cassert>
#include <cstring>
#include <stdexcept>
#include <string>

namespace natsim::sim {

namespace {

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{get16(p)} << 16) | get16(p + 2);
}

// RFC 768 / RFC 8200 §8.1: the pseudo-header covered by the UDP and TCP checksums.
std::uint32_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, IpProto proto,
                                std::size_t l4_length) {
  std::uint32_t sum = checksum_add(0, ByteView(src.bytes().data(), src.size()));
  sum = checksum_add(sum, ByteView(dst.bytes().data(), dst.size()));
  return sum + static_cast<std::uint32_t>(proto) + static_cast<std::uint32_t>(l4_length >> 16) +
         static_cast<std::uint32_t>(l4_length & 0xffff);
}

Endpoint endpoint_from(IpFamily family, const std::uint8_t* address, std::uint16_t port) {
  if (family == IpFamily::v4) return Endpoint{IpAddress::v4(get32(address)), port};
  IpAddress::Bytes16 b{};
  std::memcpy(b.data(), address, 16);
  return Endpoint{IpAddress::v6(b), port};
}

}  // namespace

const char* to_string(IpParseError e) {
  switch (e) {
    case IpParseError::truncated:
      return "truncated";
    case IpParseError::bad_version:
      return "bad IP version";
    case IpParseError::bad_header_length:
      return "bad header length";
    case IpParseError::bad_total_length:
      return "bad total length";
    case IpParseError::bad_ip_checksum:
      return "bad IP checksum";
    case IpParseError::unsupported_protocol:
      return "unsupported protocol";
    case IpParseError::bad_l4_length:
      return "bad UDP/TCP length";
    case IpParseError::bad_l4_checksum:
      return "bad UDP/TCP/ICMP checksum";
    case IpParseError::bad_icmp:
      return "bad ICMP message";
  }
  return "?";
}

void throw_exception_from_error(IpParseError e, const boost::source_location& loc) {
  throw std::runtime_error(std::string("IP packet: ") + to_string(e) + " at " + loc.to_string());
}

std::uint32_t checksum_add(std::uint32_t sum, ByteView bytes) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2)
    sum += static_cast<std::uint32_t>((bytes[i] << 8) | bytes[i + 1]);
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
  while (sum > 0xffff)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

std::uint16_t checksum_finish(std::uint32_t sum) {
  while (sum > 0xffff)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

namespace {

// The IP and transport headers of `p` into `out` (p.ip_header_size() + p.l4_header_size()
// bytes), the transport checksum summed over `payload_sum` (the payload's ones'-complement
// sum) so the payload itself need not be next to the headers.
std::size_t encode_headers(const Packet& p, std::uint8_t* out) {
  const std::size_t total = p.wire_size();
  const std::size_t ip_len = p.ip_header_size();
  const std::size_t l4_len = total - ip_len;
  std::uint8_t* ip = out;
  std::uint8_t* l4 = ip + ip_len;
  if (p.src.address.is_v4()) {
    // RFC 791 §3.1: version 4, IHL 5, DF set, no options.
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, static_cast<std::uint16_t>(total));
    put16(ip + 4, static_cast<std::uint16_t>(p.id));
    put16(ip + 6, 0x4000);
    ip[8] = p.ttl;
    ip[9] = static_cast<std::uint8_t>(p.proto);
    put16(ip + 10, 0);
    std::memcpy(ip + 12, p.src.address.bytes().data(), 4);
    std::memcpy(ip + 16, p.dst.address.bytes().data(), 4);
    put16(ip + 10, checksum_finish(checksum_add(0, ByteView(ip, kIpv4HeaderSize))));
  } else {
    // RFC 8200 §3: version 6, no traffic class or flow label.
    put32(ip, 0x60000000u);
    put16(ip + 4, static_cast<std::uint16_t>(l4_len));
    ip[6] = static_cast<std::uint8_t>(p.proto);
    ip[7] = p.ttl;
    std::memcpy(ip + 8, p.src.address.bytes().data(), 16);
    std::memcpy(ip + 24, p.dst.address.bytes().data(), 16);
  }
  std::size_t checksum_at;
  std::uint32_t sum;
  if (p.proto == IpProto::icmp) {
    // RFC 792: type, code, checksum, 4 unused bytes; the checksum covers the ICMP message
    // only (no pseudo-header).
    l4[0] = p.icmp.type;
    l4[1] = p.icmp.code;
    put32(l4 + 4, 0);
    checksum_at = 2;
    sum = 0;
  } else if (p.proto == IpProto::udp) {
    put16(l4, p.src.port);
    put16(l4 + 2, p.dst.port);
    put16(l4 + 4, static_cast<std::uint16_t>(l4_len));
    checksum_at = 6;
    sum = pseudo_header_sum(p.src.address, p.dst.address, p.proto, l4_len);
  } else {
    // RFC 9293 §3.1: data offset in 32-bit words; the only option written is MSS (§3.2).
    put16(l4, p.src.port);
    put16(l4 + 2, p.dst.port);
    put32(l4 + 4, p.tcp.seq);
    put32(l4 + 8, p.tcp.ack);
    l4[12] = static_cast<std::uint8_t>((p.l4_header_size() / 4) << 4);
    l4[13] = p.tcp.flags;
    put16(l4 + 14, p.tcp.window);
    put16(l4 + 18, 0);
    if (p.tcp.mss != 0) {
      l4[20] = 2;
      l4[21] = kTcpMssOptionSize;
      put16(l4 + 22, p.tcp.mss);
    }
    checksum_at = 16;
    sum = pseudo_header_sum(p.src.address, p.dst.address, p.proto, l4_len);
  }
  put16(l4 + checksum_at, 0);
  // Headers are of even length, so the payload's sum adds on as it is.
  sum = checksum_add(sum, ByteView(l4, p.l4_header_size()));
  sum = checksum_add(sum, p.payload());
  std::uint16_t checksum = checksum_finish(sum);
  // RFC 768: a computed UDP checksum of zero is sent as all ones.
  if (p.proto == IpProto::udp && checksum == 0) checksum = 0xffff;
  put16(l4 + checksum_at, checksum);
  return ip_len + p.l4_header_size();
}

}  // namespace

std::size_t encode_ip_headers(const Packet& p, MutableByteView out) {
  assert(out.size() >= p.ip_header_size() + p.l4_header_size());
  return encode_headers(p, out.data());
}

std::size_t encode_ip_packet(const Packet& p, MutableByteView out) {
  const std::size_t total = p.wire_size();
  assert(out.size() >= total);
  const std::size_t headers = encode_headers(p, out.data());
  if (p.payload_size() > 0) std::memcpy(out.data() + headers, p.payload().data(), p.payload_size());
  return total;
}

boost::system::result<ParsedIpPacket, IpParseError> parse_ip_packet(ByteView bytes) {
  if (bytes.empty()) return IpParseError::truncated;
  ParsedIpPacket out;
  const std::uint8_t version = bytes[0] >> 4;
  std::size_t header_len;
  std::size_t total_len;
  IpFamily family;
  std::uint8_t proto;
  if (version == 4) {
    if (bytes.size() < kIpv4HeaderSize) return IpParseError::truncated;
    header_len = static_cast<std::size_t>(bytes[0] & 0x0fu) * 4;
    if (header_len < kIpv4HeaderSize) return IpParseError::bad_header_length;
    if (bytes.size() < header_len) return IpParseError::truncated;
    total_len = get16(bytes.data() + 2);
    if (total_len < header_len || total_len > bytes.size()) return IpParseError::bad_total_length;
    if (checksum_finish(checksum_add(0, bytes.first(header_len))) != 0)
      return IpParseError::bad_ip_checksum;
    // RFC 791 §3.1: a fragment (MF set, or a non-zero offset) is not a whole datagram;
    // a non-first one holds no transport header. natsim does not reassemble.
    if ((get16(bytes.data() + 6) & 0x3fffu) != 0) return IpParseError::unsupported_protocol;
    family = IpFamily::v4;
    out.ttl = bytes[8];
    proto = bytes[9];
  } else if (version == 6) {
    if (bytes.size() < kIpv6HeaderSize) return IpParseError::truncated;
    header_len = kIpv6HeaderSize;
    total_len = header_len + get16(bytes.data() + 4);
    if (total_len > bytes.size()) return IpParseError::bad_total_length;
    family = IpFamily::v6;
    proto = bytes[6];
    out.ttl = bytes[7];
  } else {
    return IpParseError::bad_version;
  }
  const std::size_t address_len = family == IpFamily::v4 ? 4 : 16;
  const std::size_t src_at = family == IpFamily::v4 ? 12 : 8;
  const ByteView l4 = bytes.subspan(header_len, total_len - header_len);
  std::size_t l4_header;
  if (proto == static_cast<std::uint8_t>(IpProto::udp)) {
    if (l4.size() < kUdpHeaderSize) return IpParseError::truncated;
    if (get16(l4.data() + 4) != l4.size()) return IpParseError::bad_l4_length;
    out.proto = IpProto::udp;
    l4_header = kUdpHeaderSize;
  } else if (proto == static_cast<std::uint8_t>(IpProto::tcp)) {
    if (l4.size() < kTcpHeaderSize) return IpParseError::truncated;
    l4_header = static_cast<std::size_t>(l4[12] >> 4) * 4;
    if (l4_header < kTcpHeaderSize || l4_header > l4.size()) return IpParseError::bad_l4_length;
    out.proto = IpProto::tcp;
    out.tcp.seq = get32(l4.data() + 4);
    out.tcp.ack = get32(l4.data() + 8);
    out.tcp.flags = l4[13];
    out.tcp.window = get16(l4.data() + 14);
    // RFC 9293 §3.2: walk the options; a malformed list ends the walk (the segment is
    // still a segment), and only a well-formed MSS option is taken.
    for (std::size_t i = kTcpHeaderSize; i < l4_header;) {
      const std::uint8_t kind = l4[i];
      if (kind == 0) break;  // end of option list
      if (kind == 1) {       // no-operation
        ++i;
        continue;
      }
      if (i + 1 >= l4_header || l4[i + 1] < 2 || i + l4[i + 1] > l4_header) break;
      if (kind == 2 && l4[i + 1] == kTcpMssOptionSize) out.tcp.mss = get16(l4.data() + i + 2);
      i += l4[i + 1];
    }
  } else if (proto == static_cast<std::uint8_t>(IpProto::icmp) && family == IpFamily::v4) {
    // RFC 792: the checksum covers the whole ICMP message.
    if (l4.size() < kIcmpHeaderSize) return IpParseError::bad_icmp;
    if (checksum_finish(checksum_add(0, l4)) != 0) return IpParseError::bad_l4_checksum;
    out.proto = IpProto::icmp;
    out.icmp.type = l4[0];
    out.icmp.code = l4[1];
    out.src = endpoint_from(family, bytes.data() + src_at, 0);
    out.dst = endpoint_from(family, bytes.data() + src_at + address_len, 0);
    out.payload = l4.subspan(kIcmpHeaderSize);
    return out;
  } else {
    return IpParseError::unsupported_protocol;
  }
  out.src = endpoint_from(family, bytes.data() + src_at, get16(l4.data()));
  out.dst = endpoint_from(family, bytes.data() + src_at + address_len, get16(l4.data() + 2));
  const bool udp_checksum_absent =
      out.proto == IpProto::udp && family == IpFamily::v4 && get16(l4.data() + 6) == 0;
  if (!udp_checksum_absent) {
    const std::uint32_t sum =
        pseudo_header_sum(out.src.address, out.dst.address, out.proto, l4.size());
    if (checksum_finish(checksum_add(sum, l4)) != 0) return IpParseError::bad_l4_checksum;
  }
  out.payload = l4.subspan(l4_header);
  return out;
}

boost::system::result<QuotedDatagram, IpParseError> parse_icmp_quote(ByteView quoted) {
  // RFC 792: the original's IP header, then 64 bits of its data (the ports).
  if (quoted.size() < kIpv4HeaderSize) return IpParseError::bad_icmp;
  if ((quoted[0] >> 4) != 4) return IpParseError::bad_icmp;
  const std::size_t header_len = static_cast<std::size_t>(quoted[0] & 0x0fu) * 4;
  if (header_len < kIpv4HeaderSize || quoted.size() < header_len + kIcmpQuotedData)
    return IpParseError::bad_icmp;
  if (checksum_finish(checksum_add(0, quoted.first(header_len))) != 0)
    return IpParseError::bad_ip_checksum;
  const std::uint8_t proto = quoted[9];
  if (proto != static_cast<std::uint8_t>(IpProto::udp) &&
      proto != static_cast<std::uint8_t>(IpProto::tcp))
    return IpParseError::unsupported_protocol;
  QuotedDatagram q;
  q.proto = static_cast<IpProto>(proto);
  const std::uint8_t* l4 = quoted.data() + header_len;
  q.src = endpoint_from(IpFamily::v4, quoted.data() + 12, get16(l4));
  q.dst = endpoint_from(IpFamily::v4, quoted.data() + 16, get16(l4 + 2));
  return q;
}

}  // namespace natsim::sim
