// The connect strategy's port mapping: one UDP mapping of the host socket's port, asked
// of the gateway with PCP, NAT-PMP or UPnP IGD (PortMapper), offered as a `mapped`
// candidate.
#include "natsim/traversal/connect.hpp"

#include <algorithm>

namespace natsim::traversal::connect {

namespace {

constexpr std::uint8_t kUdp = 17;  // IANA protocol number

std::optional<MappingProtocol> only(PortMapping m) {
  if (m == PortMapping::pcp) return MappingProtocol::pcp;
  if (m == PortMapping::natpmp) return MappingProtocol::natpmp;
  if (m == PortMapping::upnp) return MappingProtocol::upnp;
  return std::nullopt;  // automatic: PCP, then NAT-PMP (RFC 6887 §9)
}

std::string_view protocol_name(MappingProtocol p) {
  return p == MappingProtocol::pcp ? "pcp" : p == MappingProtocol::natpmp ? "natpmp" : "upnp";
}

}  // namespace

void Connector::start_mapping(TimePoint now) {
  if (config_.port_mapping == PortMapping::off) return;
  if (config_.policy == Policy::relay_only) {
    result_.port_mapping = "not asked: relay_only offers relayed candidates only";
    return;
  }
  if (!config_.gateway || config_.host.empty() || !config_.host.front().address.is_v4()) {
    result_.port_mapping = "not asked: no gateway or no IPv4 host socket";
    return;
  }
  PortMapperConfig m;
  m.local = config_.host.front();  // the request leaves from the socket it maps
  m.gateway = *config_.gateway;
  std::uint64_t mix = seed_ ^ 0x6d6170u;
  m.seed = splitmix64(mix);
  if (!config_.port_mapping_protocols.empty()) {
    m.protocols = config_.port_mapping_protocols;
  } else if (auto o = only(config_.port_mapping)) {
    m.protocols = {*o};
  }
  m.parallel = config_.port_mapping_parallel;
  mapper_upnp_ =
      std::find(m.protocols.begin(), m.protocols.end(), MappingProtocol::upnp) != m.protocols.end();
  mapper_ = std::make_unique<PortMapper>(m);
  // RFC 6887 §11.1: the suggested external port is the internal one, as most clients ask.
  mapping_id_ = mapper_->add(now, kUdp, m.local.port, config_.port_mapping_lifetime, m.local.port);
  map_state_ = MapState::pending;
  map_deadline_ = now + config_.port_mapping_wait;
}

void Connector::drain_mapper(TimePoint now) {
  while (mapper_) {
    auto e = mapper_->poll_event();
    if (!e) break;
    on_mapper_event(now, *e);
  }
}

void Connector::on_mapper_event(TimePoint now, const PortMapperEvent& e) {
  using Kind = PortMapperEvent::Kind;
  if (e.id != mapping_id_ && e.kind != Kind::gateway_rebooted) return;
  switch (e.kind) {
    case Kind::mapped:
    case Kind::recreated:
      if (map_state_ == MapState::ready) return;  // re-created after a reboot: same address
      if (map_state_ != MapState::pending) {
        // Granted after the wait: nobody will use it, so it goes at once.
        mapper_->remove(now, mapping_id_);
        return;
      }
      if (e.double_nat) {
        // The gateway's own external address is private or shared (RFC 1918, RFC 6598):
        // a peer on the internet cannot reach it, so the candidate would only cost checks.
        give_up_mapping(now, "double NAT: the gateway mapped " + e.external.to_string() +
                                 ", behind another NAT; not offered");
        mapper_->remove(now, mapping_id_);
        return;
      }
      map_state_ = MapState::ready;
      result_.mapped = e.external;
      result_.port_mapping =
          "mapped " + e.external.to_string() + " (" + std::string(protocol_name(e.protocol)) + ")";
      {
        const Endpoint& host = config_.host.front();
        ice::Candidate c = ice::make_candidate(ice::CandidateType::mapped, e.external, host,
                                               config_.gateway->address);
        c.related = host;
        mapped_candidate_ = c;
      }
      if (agent_ && agent_waits_mapping_) offer_mapping(now);
      return;
    case Kind::refreshed:
      ++result_.mapping_refreshes;
      return;
    case Kind::failed:
      if (map_state_ == MapState::pending) {
        give_up_mapping(now, "the gateway refused (" + std::string(protocol_name(e.protocol)) +
                                 " result " + std::to_string(e.result) + ")");
      }
      mapper_.reset();
      return;
    case Kind::deleted:
      result_.mapping_deleted = true;
      mapper_.reset();
      return;
    case Kind::gateway_rebooted:
      return;  // the mapper re-creates the mapping itself
  }
}

void Connector::give_up_mapping(TimePoint now, std::string why) {
  map_state_ = MapState::given_up;
  result_.port_mapping = std::move(why);
  if (agent_ && agent_waits_mapping_) {
    agent_waits_mapping_ = false;
    agent_->external_source_done(now);
  }
}

void Connector::offer_mapping(TimePoint now) {
  if (!agent_ || !mapped_candidate_) return;
  agent_->add_local_candidate(now, *mapped_candidate_);
  if (agent_waits_mapping_) {
    agent_waits_mapping_ = false;
    agent_->external_source_done(now);
  }
}

}  // namespace natsim::traversal::connect
