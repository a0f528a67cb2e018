#include "natsim/traversal/natpmp_wire.hpp"

#include <algorithm>
#include <cstring>

#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::natpmp {

using wire::get16;
using wire::get32;
using wire::put16;
using wire::put32;

std::string_view to_string(ResultCode c) {
  constexpr std::string_view kNames[] = {"success",          "unsupported version",
                                         "not authorized",   "network failure",
                                         "out of resources", "unsupported opcode"};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kNames) ? kNames[i] : std::string_view("unknown");
}

boost::system::result<Request, RequestError> parse_request(ByteView d) {
  // §3.5: in this order.
  if (d.size() < 2 || d[1] >= kResponseBit) return RequestError::drop;
  if (d[0] != kVersion) return RequestError::unsupported_version;
  if (d[1] > static_cast<std::uint8_t>(Opcode::map_tcp)) return RequestError::unsupported_opcode;
  Request r;
  r.opcode = static_cast<Opcode>(d[1]);
  if (r.opcode == Opcode::external_address) return r;
  if (d.size() < kMapRequestSize) return RequestError::too_short;
  r.internal_port = get16(d.data() + 4);
  r.suggested_port = get16(d.data() + 6);
  r.lifetime = get32(d.data() + 8);
  return r;
}

boost::system::result<Response, ResponseError> parse_response(ByteView d) {
  if (d.size() < kErrorHeaderSize) return ResponseError::too_short;
  if (d[0] != kVersion) return ResponseError::bad_version;
  if (d[1] < kResponseBit) return ResponseError::not_response;
  const std::uint8_t op = d[1] - kResponseBit;
  if (op > static_cast<std::uint8_t>(Opcode::map_tcp)) return ResponseError::bad_opcode;
  Response r;
  r.opcode = static_cast<Opcode>(op);
  r.result = static_cast<ResultCode>(get16(d.data() + 2));
  r.epoch = get32(d.data() + 4);
  // §3.5: an error may come as the bare header (e.g. unsupported version).
  if (r.result != ResultCode::success && d.size() < kMapResponseSize) return r;
  if (r.opcode == Opcode::external_address) {
    if (d.size() < kAddressResponseSize) return ResponseError::too_short;
    r.external_address = IpAddress::v4(get32(d.data() + 8));
    return r;
  }
  if (d.size() < kMapResponseSize) return ResponseError::too_short;
  r.internal_port = get16(d.data() + 8);
  r.external_port = get16(d.data() + 10);
  r.lifetime = get32(d.data() + 12);
  return r;
}

std::optional<std::size_t> emit_request(const Request& r, MutableByteView out) {
  const std::size_t size =
      r.opcode == Opcode::external_address ? kAddressRequestSize : kMapRequestSize;
  if (out.size() < size) return std::nullopt;
  std::uint8_t* p = out.data();
  p[0] = kVersion;
  p[1] = static_cast<std::uint8_t>(r.opcode);
  if (size == kAddressRequestSize) return size;
  put16(p + 2, 0);  // reserved
  put16(p + 4, r.internal_port);
  put16(p + 6, r.suggested_port);
  put32(p + 8, r.lifetime);
  return size;
}

std::optional<std::size_t> emit_response(const Response& r, MutableByteView out) {
  const std::size_t size =
      r.opcode == Opcode::external_address ? kAddressResponseSize : kMapResponseSize;
  if (out.size() < size) return std::nullopt;
  std::uint8_t* p = out.data();
  p[0] = kVersion;
  p[1] = static_cast<std::uint8_t>(kResponseBit | static_cast<std::uint8_t>(r.opcode));
  put16(p + 2, static_cast<std::uint16_t>(r.result));
  put32(p + 4, r.epoch);
  if (r.opcode == Opcode::external_address) {
    put32(p + 8, r.external_address.is_v4() ? r.external_address.v4_value() : 0);
    return size;
  }
  put16(p + 8, r.internal_port);
  put16(p + 10, r.external_port);
  put32(p + 12, r.lifetime);
  return size;
}

std::optional<std::size_t> emit_error(ByteView request, RequestError error, std::uint32_t epoch,
                                      MutableByteView out) {
  if (request.size() < 2) return std::nullopt;
  if (error == RequestError::unsupported_version) {
    // RFC 6887 §9: this is how a PCP client learns the server speaks only NAT-PMP.
    if (out.size() < kErrorHeaderSize) return std::nullopt;
    out[0] = kVersion;
    out[1] = static_cast<std::uint8_t>(kResponseBit | (request[1] & 0x7f));
    put16(out.data() + 2, static_cast<std::uint16_t>(ResultCode::unsupported_version));
    put32(out.data() + 4, epoch);
    return kErrorHeaderSize;
  }
  if (error != RequestError::unsupported_opcode) return std::nullopt;
  // §3.5: the entire request is returned with the top bit of OP set and result 5; a
  // request shorter than the result code's field is padded with zeros to carry it.
  const std::size_t size = std::min(std::max(request.size(), std::size_t{4}), kMaxEcho);
  if (out.size() < size) return std::nullopt;
  std::memset(out.data(), 0, size);
  std::memcpy(out.data(), request.data(), std::min(request.size(), size));
  out[1] = static_cast<std::uint8_t>(request[1] | kResponseBit);
  put16(out.data() + 2, static_cast<std::uint16_t>(ResultCode::unsupported_opcode));
  return size;
}

}  // namespace natsim::traversal::natpmp
