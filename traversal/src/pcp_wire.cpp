#include "natsim/traversal/pcp_wire.hpp"

#include <algorithm>
#include <cstring>

#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::pcp {

using wire::get16;
using wire::get32;
using wire::put16;
using wire::put32;

namespace {

constexpr std::size_t kOptionHeaderSize = 4;
constexpr std::size_t kThirdPartyLength = 16;  // §13.1
constexpr std::size_t kFilterLength = 20;      // §13.3

bool is_v4_mapped(const std::uint8_t* p) {
  for (int i = 0; i < 10; ++i) {
    if (p[i] != 0) return false;
  }
  return p[10] == 0xff && p[11] == 0xff;
}

void put_address(std::uint8_t* p, const IpAddress& a) {
  const auto field = address_field(a);
  std::memcpy(p, field.data(), field.size());
}

void read_data(const std::uint8_t* p, Opcode op, MappingData& d) {
  std::memcpy(d.nonce.data(), p, d.nonce.size());
  d.protocol = p[12];
  d.internal_port = get16(p + 16);
  d.external_port = get16(p + 18);
  d.external_address = address_from_field(p + 20);
  if (op == Opcode::peer) {
    d.remote_port = get16(p + 36);
    d.remote_address = address_from_field(p + 40);
  }
}

void write_data(std::uint8_t* p, Opcode op, const MappingData& d) {
  std::memset(p, 0, opcode_data_size(op));
  if (op == Opcode::announce) return;
  std::memcpy(p, d.nonce.data(), d.nonce.size());
  p[12] = d.protocol;
  put16(p + 16, d.internal_port);
  put16(p + 18, d.external_port);
  put_address(p + 20, d.external_address);
  if (op == Opcode::peer) {
    put16(p + 36, d.remote_port);
    put_address(p + 40, d.remote_address);
  }
}

enum class OptionError : std::uint8_t { none, unsupported, malformed };

// §7.3 and §13: walks the options after the opcode data. Each known option has a fixed
// length and the opcodes it is defined for; one that breaks either, or appears twice
// where it may appear once, is malformed. Unknown options 0-127 are unsupported,
// 128-255 ignored.
OptionError read_options(ByteView d, std::size_t at, Opcode op, Options& o) {
  bool seen_third_party = false;
  while (at < d.size()) {
    if (d.size() - at < kOptionHeaderSize) return OptionError::malformed;
    const std::uint8_t code = d[at];
    const std::size_t length = get16(d.data() + at + 2);
    const std::size_t padded = (length + 3) & ~std::size_t{3};
    if (padded > d.size() - at - kOptionHeaderSize) return OptionError::malformed;
    const std::uint8_t* v = d.data() + at + kOptionHeaderSize;
    switch (code) {
      case static_cast<std::uint8_t>(OptionCode::third_party):
        if (op == Opcode::announce || length != kThirdPartyLength || seen_third_party)
          return OptionError::malformed;
        seen_third_party = true;
        o.third_party = address_from_field(v);
        break;
      case static_cast<std::uint8_t>(OptionCode::prefer_failure):
        if (op != Opcode::map || length != 0 || o.prefer_failure) return OptionError::malformed;
        o.prefer_failure = true;
        break;
      case static_cast<std::uint8_t>(OptionCode::filter): {
        if (op != Opcode::map || length != kFilterLength) return OptionError::malformed;
        Filter f;
        f.prefix_length = v[1];
        f.remote_port = get16(v + 2);
        f.remote = address_from_field(v + 4);
        // §13.3: a prefix longer than 128 bits, or shorter than the 96 bits of the
        // IPv4-mapped form for an IPv4 peer, is malformed.
        if (f.prefix_length > 128 || (f.remote.is_v4() && f.prefix_length < 96))
          return OptionError::malformed;
        if (o.filter_count == kMaxFilters) {
          o.too_many_filters = true;
        } else {
          o.filters[o.filter_count++] = f;
        }
        break;
      }
      default:
        if (code < 128) return OptionError::unsupported;
        break;  // optional to process: ignored
    }
    at += kOptionHeaderSize + padded;
  }
  return OptionError::none;
}

}  // namespace

std::string_view to_string(ResultCode c) {
  constexpr std::string_view kNames[] = {
      "SUCCESS",          "UNSUPP_VERSION",        "NOT_AUTHORIZED",   "MALFORMED_REQUEST",
      "UNSUPP_OPCODE",    "UNSUPP_OPTION",         "MALFORMED_OPTION", "NETWORK_FAILURE",
      "NO_RESOURCES",     "UNSUPP_PROTOCOL",       "USER_EX_QUOTA",    "CANNOT_PROVIDE_EXTERNAL",
      "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS"};
  const auto i = static_cast<std::size_t>(c);
  return i < std::size(kNames) ? kNames[i] : std::string_view("UNKNOWN");
}

bool short_lifetime_error(ResultCode c) {
  return c == ResultCode::network_failure || c == ResultCode::no_resources ||
         c == ResultCode::user_ex_quota || c == ResultCode::cannot_provide_external;
}

ResultCode result_for(RequestError e) {
  switch (e) {
    case RequestError::unsupp_version:
      return ResultCode::unsupp_version;
    case RequestError::unsupp_opcode:
      return ResultCode::unsupp_opcode;
    case RequestError::unsupp_option:
      return ResultCode::unsupp_option;
    case RequestError::malformed_option:
      return ResultCode::malformed_option;
    case RequestError::drop:
    case RequestError::malformed_request:
      break;
  }
  return ResultCode::malformed_request;
}

IpAddress::Bytes16 address_field(const IpAddress& a) {
  if (a.is_v6()) return a.bytes();
  IpAddress::Bytes16 b{};
  b[10] = 0xff;
  b[11] = 0xff;
  std::memcpy(b.data() + 12, a.bytes().data(), 4);
  return b;
}

IpAddress address_from_field(const std::uint8_t* p) {
  if (is_v4_mapped(p)) return IpAddress::v4(get32(p + 12));
  IpAddress::Bytes16 b;
  std::memcpy(b.data(), p, b.size());
  return IpAddress::v6(b);
}

std::size_t opcode_data_size(Opcode op) {
  switch (op) {
    case Opcode::announce:
      return 0;
    case Opcode::map:
      return kMapDataSize;
    case Opcode::peer:
      return kPeerDataSize;
  }
  return 0;
}

boost::system::result<Request, RequestError> parse_request(ByteView d) {
  // §8.3: in this order.
  if (d.size() < 2 || (d[1] & kResponseBit) != 0) return RequestError::drop;
  if (d[0] != kVersion) return RequestError::unsupp_version;
  if (d.size() < kHeaderSize || d.size() > kMaxMessageSize || d.size() % 4 != 0)
    return RequestError::malformed_request;
  const std::uint8_t opcode = d[1] & 0x7f;
  if (opcode > static_cast<std::uint8_t>(Opcode::peer)) return RequestError::unsupp_opcode;
  Request r;
  r.version = d[0];
  r.opcode = static_cast<Opcode>(opcode);
  r.lifetime = get32(d.data() + 4);
  r.client_address = address_from_field(d.data() + 8);
  const std::size_t data_size = opcode_data_size(r.opcode);
  if (d.size() < kHeaderSize + data_size) return RequestError::malformed_request;
  if (data_size != 0) read_data(d.data() + kHeaderSize, r.opcode, r.data);
  switch (read_options(d, kHeaderSize + data_size, r.opcode, r.options)) {
    case OptionError::none:
      break;
    case OptionError::unsupported:
      return RequestError::unsupp_option;
    case OptionError::malformed:
      return RequestError::malformed_option;
  }
  return r;
}

boost::system::result<Response, ResponseError> parse_response(ByteView d) {
  if (d.size() < kHeaderSize) return ResponseError::too_short;
  if (d.size() > kMaxMessageSize || d.size() % 4 != 0) return ResponseError::bad_length;
  if ((d[1] & kResponseBit) == 0) return ResponseError::not_response;
  if (d[0] != kVersion) return ResponseError::bad_version;
  const std::uint8_t opcode = d[1] & 0x7f;
  if (opcode > static_cast<std::uint8_t>(Opcode::peer)) return ResponseError::bad_opcode;
  Response r;
  r.version = d[0];
  r.opcode = static_cast<Opcode>(opcode);
  r.result = static_cast<ResultCode>(d[3]);
  r.lifetime = get32(d.data() + 4);
  r.epoch = get32(d.data() + 8);
  const std::size_t data_size = opcode_data_size(r.opcode);
  // §8.3: an error response may carry only the header when the request was too broken
  // to copy its opcode data.
  if (d.size() == kHeaderSize && r.result != ResultCode::success) return r;
  if (d.size() < kHeaderSize + data_size) return ResponseError::too_short;
  if (data_size != 0) read_data(d.data() + kHeaderSize, r.opcode, r.data);
  if (read_options(d, kHeaderSize + data_size, r.opcode, r.options) != OptionError::none)
    return ResponseError::bad_option;
  return r;
}

std::size_t encoded_size(const Options& o) {
  std::size_t n = 0;
  if (o.third_party) n += kOptionHeaderSize + kThirdPartyLength;
  if (o.prefer_failure) n += kOptionHeaderSize;
  n += o.filter_count * (kOptionHeaderSize + kFilterLength);
  return n;
}

namespace {

std::size_t write_options(std::uint8_t* p, const Options& o) {
  std::uint8_t* start = p;
  auto header = [&p](OptionCode code, std::uint16_t length) {
    p[0] = static_cast<std::uint8_t>(code);
    p[1] = 0;
    put16(p + 2, length);
    p += kOptionHeaderSize;
  };
  if (o.third_party) {
    header(OptionCode::third_party, kThirdPartyLength);
    put_address(p, *o.third_party);
    p += kThirdPartyLength;
  }
  if (o.prefer_failure) header(OptionCode::prefer_failure, 0);
  for (std::size_t i = 0; i < o.filter_count; ++i) {
    const Filter& f = o.filters[i];
    header(OptionCode::filter, kFilterLength);
    p[0] = 0;
    p[1] = f.prefix_length;
    put16(p + 2, f.remote_port);
    put_address(p + 4, f.remote);
    p += kFilterLength;
  }
  return static_cast<std::size_t>(p - start);
}

}  // namespace

std::optional<std::size_t> emit_request(const Request& r, MutableByteView out) {
  const std::size_t data_size = opcode_data_size(r.opcode);
  const std::size_t size = kHeaderSize + data_size + encoded_size(r.options);
  if (out.size() < size || size > kMaxMessageSize) return std::nullopt;
  std::uint8_t* p = out.data();
  p[0] = r.version;
  p[1] = static_cast<std::uint8_t>(r.opcode);
  p[2] = p[3] = 0;
  put32(p + 4, r.lifetime);
  put_address(p + 8, r.client_address);
  write_data(p + kHeaderSize, r.opcode, r.data);
  (void)write_options(p + kHeaderSize + data_size, r.options);
  return size;
}

std::optional<std::size_t> emit_response(const Response& r, MutableByteView out) {
  const std::size_t data_size = opcode_data_size(r.opcode);
  const std::size_t size = kHeaderSize + data_size + encoded_size(r.options);
  if (out.size() < size || size > kMaxMessageSize) return std::nullopt;
  std::uint8_t* p = out.data();
  p[0] = r.version;
  p[1] = static_cast<std::uint8_t>(kResponseBit | static_cast<std::uint8_t>(r.opcode));
  p[2] = 0;
  p[3] = static_cast<std::uint8_t>(r.result);
  put32(p + 4, r.lifetime);
  put32(p + 8, r.epoch);
  std::memset(p + 12, 0, 12);
  write_data(p + kHeaderSize, r.opcode, r.data);
  (void)write_options(p + kHeaderSize + data_size, r.options);
  return size;
}

std::optional<std::size_t> emit_error(ByteView request, ResultCode result, std::uint32_t lifetime,
                                      std::uint32_t epoch, MutableByteView out) {
  if (out.size() < kHeaderSize || request.size() < 2) return std::nullopt;
  std::uint8_t* p = out.data();
  const std::uint8_t opcode = request[1] & 0x7f;
  // §9: an unsupported version is answered with the version this server speaks.
  p[0] = kVersion;
  p[1] = static_cast<std::uint8_t>(kResponseBit | opcode);
  p[2] = 0;
  p[3] = static_cast<std::uint8_t>(result);
  put32(p + 4, lifetime);
  put32(p + 8, epoch);
  std::memset(p + 12, 0, 12);
  std::size_t size = kHeaderSize;
  if (opcode <= static_cast<std::uint8_t>(Opcode::peer) && request[0] == kVersion) {
    const std::size_t data_size = opcode_data_size(static_cast<Opcode>(opcode));
    if (request.size() >= kHeaderSize + data_size && out.size() >= kHeaderSize + data_size) {
      std::memcpy(p + kHeaderSize, request.data() + kHeaderSize, data_size);
      size += data_size;
    }
  }
  return size;
}

}  // namespace natsim::traversal::pcp
