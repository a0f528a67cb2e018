#include "natsim/nat_models/natpmp_server.hpp"

#include <algorithm>

namespace natsim::nat {

namespace natpmp = traversal::natpmp;

std::optional<std::size_t> NatPmpServer::answer(TimePoint now, std::uint32_t epoch,
                                                const Endpoint& remote, ByteView request,
                                                MutableByteView out) {
  ++counters_.requests;
  auto q = natpmp::parse_request(request);
  if (!q) {
    auto n = natpmp::emit_error(request, q.error(), epoch, out);
    if (!n) {
      ++counters_.dropped;
    } else {
      ++counters_
            .errors[static_cast<std::size_t>(q.error() == natpmp::RequestError::unsupported_version
                                                 ? natpmp::ResultCode::unsupported_version
                                                 : natpmp::ResultCode::unsupported_opcode)];
    }
    return n;
  }
  natpmp::Response r;
  r.opcode = q->opcode;
  r.epoch = epoch;
  auto fail = [&](natpmp::ResultCode c) {
    ++counters_.errors[static_cast<std::size_t>(c)];
    r.result = c;
    r.external_port = 0;
    r.lifetime = 0;
    return natpmp::emit_response(r, out);
  };
  // RFC 6886 §3.2: the external address; "network failure" before the gateway has one.
  if (q->opcode == natpmp::Opcode::external_address) {
    ++counters_.address_requests;
    if (!table_.translates() || table_.pool().empty())
      return fail(natpmp::ResultCode::network_failure);
    r.external_address = table_.pool().front();
    return natpmp::emit_response(r, out);
  }
  const IpProto proto = q->opcode == natpmp::Opcode::map_udp ? IpProto::udp : IpProto::tcp;
  // §3.3: the internal address is always the request's source address.
  const Endpoint internal{remote.address, q->internal_port};
  r.internal_port = q->internal_port;
  if (!table_.translates() || table_.pool().empty())
    return fail(natpmp::ResultCode::network_failure);
  if (q->lifetime == 0) {
    // §3.4: a lifetime of 0 deletes the mapping. Deleting all of a host's mappings
    // (internal port 0) is not modelled and refused.
    if (q->internal_port == 0) return fail(natpmp::ResultCode::not_authorized);
    if (table_.unmap(now, proto, internal, MappingOwner::natpmp)) ++counters_.deleted;
    return natpmp::emit_response(r, out);  // §3.4: external port 0, lifetime 0
  }
  if (q->internal_port == 0) return fail(natpmp::ResultCode::not_authorized);
  // §3.3: the server may grant a shorter (or longer) lifetime than asked.
  const std::uint32_t lifetime = std::clamp(q->lifetime, config_.min_lifetime,
                                            std::max(config_.min_lifetime, config_.max_lifetime));
  MapRequest m;
  m.proto = proto;
  m.internal = internal;
  m.suggested_port = config_.honour_suggested_port ? q->suggested_port : 0;
  m.lifetime = seconds(lifetime);
  m.owner = MappingOwner::natpmp;
  m.quota = config_.quota_per_host;
  auto mapped = table_.map(now, m);
  if (!mapped) {
    // §3.5: a mapping another protocol holds is refused; no port or quota is "out of
    // resources".
    return fail(mapped.error() == MapError::not_owner ? natpmp::ResultCode::not_authorized
                                                      : natpmp::ResultCode::out_of_resources);
  }
  ++counters_.mapped;
  r.external_port = mapped->external.port;
  r.lifetime = lifetime;
  return natpmp::emit_response(r, out);
}

}  // namespace natsim::nat
