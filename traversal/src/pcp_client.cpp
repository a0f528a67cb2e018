#include "natsim/traversal/pcp_client.hpp"

#include "natsim/traversal/natpmp_wire.hpp"

namespace natsim::traversal {

namespace pcp_client {

std::optional<std::size_t> map_request(const IpAddress& client, const MappingAsk& a,
                                       MutableByteView out) {
  pcp::Request q;
  q.opcode = pcp::Opcode::map;
  q.lifetime = a.lifetime;
  q.client_address = client;
  q.data.nonce = a.nonce;
  q.data.protocol = a.protocol;
  q.data.internal_port = a.internal_port;
  q.data.external_port = a.suggested_port;
  // §11.1: no preference for the external address is the all-zeros address of the
  // client's family (::ffff:0.0.0.0 for IPv4).
  q.data.external_address = client.is_v4() ? IpAddress::v4(0) : IpAddress::v6({});
  q.options.third_party = a.third_party;
  return pcp::emit_request(q, out);
}

std::optional<MappingAnswer> read(ByteView d, const MappingAsk& a) {
  if (!d.empty() && d[0] == natpmp::kVersion) {
    // §9: a NAT-PMP-only gateway answers "unsupported version" in NAT-PMP's format.
    auto n = natpmp::parse_response(d);
    if (!n || n->result != natpmp::ResultCode::unsupported_version) return std::nullopt;
    MappingAnswer m;
    m.kind = MappingAnswer::Kind::unsupported_version;
    m.epoch = n->epoch;
    m.result = static_cast<std::uint16_t>(n->result);
    return m;
  }
  auto r = pcp::parse_response(d);
  if (!r) return std::nullopt;
  MappingAnswer m;
  m.epoch = r->epoch;
  m.lifetime = r->lifetime;
  m.result = static_cast<std::uint16_t>(r->result);
  if (r->result == pcp::ResultCode::unsupp_version) {
    m.kind = MappingAnswer::Kind::unsupported_version;
    return m;
  }
  // §11.4: a response belongs to the request with the same nonce, protocol and internal
  // port (an error response may carry no opcode data: then only by opcode).
  if (r->opcode != pcp::Opcode::map) return std::nullopt;
  const bool has_data = d.size() >= pcp::kHeaderSize + pcp::kMapDataSize;
  if (has_data && (r->data.nonce != a.nonce || r->data.protocol != a.protocol ||
                   r->data.internal_port != a.internal_port))
    return std::nullopt;
  if (r->result != pcp::ResultCode::success) {
    m.kind = MappingAnswer::Kind::failed;
    return m;
  }
  m.kind = MappingAnswer::Kind::mapped;
  m.external = Endpoint{r->data.external_address, r->data.external_port};
  return m;
}

}  // namespace pcp_client

namespace natpmp_client {

std::optional<std::size_t> address_request(MutableByteView out) {
  return natpmp::emit_request(natpmp::Request{}, out);
}

std::optional<std::size_t> map_request(const MappingAsk& a, MutableByteView out) {
  natpmp::Request q;
  q.opcode = a.protocol == 6 ? natpmp::Opcode::map_tcp : natpmp::Opcode::map_udp;
  q.internal_port = a.internal_port;
  q.suggested_port = a.suggested_port;
  q.lifetime = a.lifetime;
  return natpmp::emit_request(q, out);
}

std::optional<MappingAnswer> read(ByteView d, const MappingAsk* a) {
  auto r = natpmp::parse_response(d);
  if (!r) return std::nullopt;
  MappingAnswer m;
  m.epoch = r->epoch;
  m.result = static_cast<std::uint16_t>(r->result);
  if (r->result == natpmp::ResultCode::unsupported_version) {
    m.kind = MappingAnswer::Kind::unsupported_version;
    return m;
  }
  if (r->opcode == natpmp::Opcode::external_address) {
    if (r->result != natpmp::ResultCode::success) return std::nullopt;
    m.kind = MappingAnswer::Kind::address;
    m.external = Endpoint{r->external_address, 0};
    return m;
  }
  if (a == nullptr) return std::nullopt;
  const auto op = a->protocol == 6 ? natpmp::Opcode::map_tcp : natpmp::Opcode::map_udp;
  // RFC 6886 §3.3: the answer names the internal port it is for.
  if (r->opcode != op || r->internal_port != a->internal_port) return std::nullopt;
  m.kind = r->result == natpmp::ResultCode::success ? MappingAnswer::Kind::mapped
                                                    : MappingAnswer::Kind::failed;
  m.external = Endpoint{IpAddress::v4(0), r->external_port};
  m.lifetime = r->lifetime;
  return m;
}

}  // namespace natpmp_client

}  // namespace natsim::traversal
