#include "natsim/nat_models/pcp_server.hpp"

#include <algorithm>
#include <cctype>

namespace natsim::nat {

namespace pcp = traversal::pcp;
using Result = pcp::ResultCode;

namespace {

// RFC 6887 §7.4: how long a client should wait before retrying after an error.
constexpr std::uint32_t kShortErrorLifetime = 30;
constexpr std::uint32_t kLongErrorLifetime = 30 * 60;

// RFC 6886 §3.2.1: ten announcements, 250 ms apart at first, the interval doubling; to
// the all-hosts group (RFC 6887 §14.1.3, RFC 6886 §3.2.1).
constexpr std::uint32_t kAnnouncements = 10;
constexpr Duration kFirstAnnounceInterval = milliseconds(250);
constexpr IpAddress kAllHosts = IpAddress::v4(224, 0, 0, 1);

std::uint32_t error_lifetime(Result r) {
  return pcp::short_lifetime_error(r) ? kShortErrorLifetime : kLongErrorLifetime;
}

// §13.3: the prefix length counts over the 128-bit field, IPv4 as ::ffff:a.b.c.d (§5); 0
// is "no address restriction".
RemoteFilter remote_filter(const pcp::Filter& f) {
  RemoteFilter out;
  out.address = f.remote;
  out.port = f.remote_port;
  if (f.prefix_length != 0)
    out.prefix_length =
        static_cast<std::uint8_t>(f.remote.is_v4() ? f.prefix_length - 96 : f.prefix_length);
  return out;
}

std::optional<IpProto> protocol(std::uint8_t number) {
  if (number == static_cast<std::uint8_t>(IpProto::udp)) return IpProto::udp;
  if (number == static_cast<std::uint8_t>(IpProto::tcp)) return IpProto::tcp;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RebootMappings r) {
  constexpr std::string_view kNames[] = {"forget", "persist", "forget_silently"};
  return kNames[static_cast<std::size_t>(r)];
}

std::optional<RebootMappings> parse_reboot_mappings(std::string_view text) {
  for (auto r : {RebootMappings::forget, RebootMappings::persist, RebootMappings::forget_silently})
    if (to_string(r) == text) return r;
  return std::nullopt;
}

PcpServer::PcpServer(NatTable& table, PortMappingConfig config, TimePoint now)
    : table_(table), config_(config), epoch_start_(now), natpmp_(table_, config_) {}

void PcpServer::reboot(TimePoint now) {
  epoch_start_ = now;
  nonces_.clear();
}

void PcpServer::announce(TimePoint now) {
  announce_at_ = now;
  announcements_left_ = kAnnouncements;
}

std::optional<TimePoint> PcpServer::poll_timeout() const {
  if (announcements_left_ == 0) return std::nullopt;
  return announce_at_;
}

void PcpServer::handle_timeout(TimePoint now) {
  if (announcements_left_ == 0 || announce_at_ > now) return;
  const Endpoint from{IpAddress::v4(0), pcp::kServerPort};
  const Endpoint to{kAllHosts, pcp::kClientPort};
  if (config_.pcp) {
    // RFC 6887 §14.1.3: an ANNOUNCE response, lifetime 0, with the new epoch.
    pcp::Response r;
    r.opcode = pcp::Opcode::announce;
    r.epoch = epoch(now);
    if (auto n = pcp::emit_response(r, buffer_)) send(from, to, *n);
  }
  if (config_.natpmp && table_.translates() && !table_.pool().empty()) {
    // RFC 6886 §3.2.1: the external address response, unsolicited.
    traversal::natpmp::Response r;
    r.epoch = epoch(now);
    r.external_address = table_.pool().front();
    if (auto n = traversal::natpmp::emit_response(r, buffer_)) send(from, to, *n);
  }
  ++counters_.announced;
  --announcements_left_;
  const std::uint32_t sent = kAnnouncements - announcements_left_;
  announce_at_ = now + kFirstAnnounceInterval * (1 << (sent - 1));
}

std::uint32_t PcpServer::epoch(TimePoint now) const {
  // RFC 6887 §8.5: seconds since the server's state began, wrapping at 2^32.
  return static_cast<std::uint32_t>((now - epoch_start_) / seconds(1));
}

void PcpServer::send(const Endpoint& local, const Endpoint& remote, std::size_t size) {
  out_.push(local, remote, ByteView(buffer_.data(), size));
}

bool PcpServer::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                ByteView bytes) {
  if (bytes.size() < 2) {  // RFC 6887 §8.3
    ++counters_.dropped;
    return true;
  }
  // RFC 6887 §9: version 0 is NAT-PMP on the same port.
  if (bytes[0] == traversal::natpmp::kVersion) {
    if (!config_.natpmp) {
      if ((bytes[1] & pcp::kResponseBit) != 0) {
        ++counters_.dropped;
        return true;
      }
      ++counters_.requests;
      send_error(now, local, remote, bytes, Result::unsupp_version);
      return true;
    }
    auto n = natpmp_.answer(now, epoch(now), remote, bytes, buffer_);
    if (n) send(local, remote, *n);
    return true;
  }
  if (!config_.pcp) {
    // A NAT-PMP-only gateway answers a PCP request with NAT-PMP's "unsupported version",
    // which is how the client learns to fall back (RFC 6887 §9, RFC 6886 §3.5).
    auto n = traversal::natpmp::emit_error(
        bytes, traversal::natpmp::RequestError::unsupported_version, epoch(now), buffer_);
    ++natpmp_.counters().requests;
    if (n && (bytes[1] & pcp::kResponseBit) == 0) {
      ++natpmp_.counters().errors[1];
      send(local, remote, *n);
    } else {
      ++natpmp_.counters().dropped;
    }
    return true;
  }
  answer_pcp(now, local, remote, bytes);
  return true;
}

void PcpServer::send_error(TimePoint now, const Endpoint& local, const Endpoint& remote,
                           ByteView request, Result result) {
  ++counters_.errors[static_cast<std::size_t>(result)];
  auto n = pcp::emit_error(request, result, error_lifetime(result), epoch(now), buffer_);
  if (n) send(local, remote, *n);
}

void PcpServer::answer_pcp(TimePoint now, const Endpoint& local, const Endpoint& remote,
                           ByteView bytes) {
  auto q = pcp::parse_request(bytes);
  if (!q && q.error() == pcp::RequestError::drop) {
    ++counters_.dropped;
    return;
  }
  ++counters_.requests;
  if (!q) return send_error(now, local, remote, bytes, pcp::result_for(q.error()));
  // §8.3: the client's address must be the source address (no NAT between them).
  if (q->client_address != remote.address)
    return send_error(now, local, remote, bytes, Result::address_mismatch);
  pcp::Response r;
  r.opcode = q->opcode;
  r.epoch = epoch(now);
  r.data = q->data;
  r.options = q->options;
  Result result = Result::success;
  switch (q->opcode) {
    case pcp::Opcode::announce:
      // §14.1: an ANNOUNCE request is answered with the epoch, lifetime 0.
      ++counters_.announces;
      r.data = {};
      break;
    case pcp::Opcode::map:
      result = map(now, remote, *q, r);
      break;
    case pcp::Opcode::peer:
      result = peer(now, remote, *q, r);
      break;
  }
  if (result != Result::success) return send_error(now, local, remote, bytes, result);
  auto n = pcp::emit_response(r, buffer_);
  if (!n) {
    ++counters_.dropped;
    return;
  }
  send(local, remote, *n);
}

PcpServer::Result PcpServer::map(TimePoint now, const Endpoint& remote, const pcp::Request& q,
                                 pcp::Response& r) {
  // §13.1: mapping for another host needs THIRD_PARTY, refused unless allowed.
  IpAddress internal_address = remote.address;
  if (q.options.third_party) {
    if (!config_.allow_third_party) return Result::not_authorized;
    internal_address = *q.options.third_party;
  }
  if (q.options.too_many_filters) return Result::excessive_remote_peers;  // §13.3
  const auto proto = protocol(q.data.protocol);
  if (!proto) return Result::unsupp_protocol;  // incl. 0, "all protocols" (§11.1)
  // §11.1: internal port 0 ("all ports") is not something the model grants.
  if (q.data.internal_port == 0) return Result::not_authorized;
  if (!table_.translates() || table_.pool().empty()) return Result::network_failure;
  const Endpoint internal{internal_address, q.data.internal_port};
  const NonceKey key{internal, *proto};
  // §11.3: only the holder of the mapping nonce may refresh or delete a mapping.
  const auto existing = table_.explicit_mapping(now, *proto, internal);
  auto nonce = nonces_.find(key);
  if (existing && existing->owner == MappingOwner::pcp && nonce != nonces_.end() &&
      nonce->second != q.data.nonce) {
    return Result::not_authorized;
  }
  if (existing && existing->owner != MappingOwner::pcp) return Result::not_authorized;
  if (q.lifetime == 0) {
    // §15: a lifetime of 0 deletes the mapping; the response carries lifetime 0.
    if (existing && table_.unmap(now, *proto, internal, MappingOwner::pcp)) ++counters_.deleted;
    nonces_.erase(key);
    if (existing) {
      r.data.external_port = existing->external.port;
      r.data.external_address = existing->external.address;
    }
    r.lifetime = 0;
    return Result::success;
  }
  // §11.3: a suggested external address the server does not have is a hint it cannot
  // follow: with PREFER_FAILURE that is CANNOT_PROVIDE_EXTERNAL.
  const IpAddress& suggested = q.data.external_address;
  const bool address_ok = suggested.is_unspecified() || table_.is_external(suggested);
  if (!address_ok && q.options.prefer_failure) return Result::cannot_provide_external;
  const std::uint32_t lifetime = std::clamp(q.lifetime, config_.min_lifetime,
                                            std::max(config_.min_lifetime, config_.max_lifetime));
  MapRequest m;
  m.proto = *proto;
  m.internal = internal;
  m.suggested_port = config_.honour_suggested_port ? q.data.external_port : 0;
  m.require_suggested = q.options.prefer_failure && q.data.external_port != 0;
  m.lifetime = seconds(lifetime);
  m.owner = MappingOwner::pcp;
  m.quota = config_.quota_per_host;
  // §13.3: the FILTER options become the mapping's list of admitted remote peers (none:
  // any peer, which clears a list an earlier request set).
  std::array<RemoteFilter, pcp::kMaxFilters> filters;
  for (std::size_t i = 0; i < q.options.filter_count; ++i)
    filters[i] = remote_filter(q.options.filters[i]);
  m.filters = std::span<const RemoteFilter>(filters.data(), q.options.filter_count);
  auto mapped = table_.map(now, m);
  if (!mapped) {
    switch (mapped.error()) {
      case MapError::quota:
        return Result::user_ex_quota;
      case MapError::unavailable:
        return Result::cannot_provide_external;
      case MapError::not_owner:
        return Result::not_authorized;
      case MapError::too_many_filters:
        return Result::excessive_remote_peers;
      case MapError::exhausted:
        break;
    }
    return Result::no_resources;
  }
  nonces_.insert_or_assign(key, q.data.nonce);
  ++counters_.mapped;
  r.lifetime = lifetime;
  r.data.external_port = mapped->external.port;
  r.data.external_address = mapped->external.address;
  return Result::success;
}

PcpServer::Result PcpServer::peer(TimePoint now, const Endpoint& remote, const pcp::Request& q,
                                  pcp::Response& r) {
  IpAddress internal_address = remote.address;
  if (q.options.third_party) {
    if (!config_.allow_third_party) return Result::not_authorized;
    internal_address = *q.options.third_party;
  }
  const auto proto = protocol(q.data.protocol);
  if (!proto) return Result::unsupp_protocol;
  if (q.data.internal_port == 0 || q.data.remote_port == 0 ||
      q.data.remote_address.family() != internal_address.family())
    return Result::malformed_request;
  if (!table_.translates() || table_.pool().empty()) return Result::network_failure;
  // §12.3: PEER creates (or finds) the mapping the first outbound packet to the peer
  // would, so the NAT's own mapping behaviour decides the external endpoint. Its
  // lifetime is the NAT's timer for the flow, which the response reports.
  const Endpoint internal{internal_address, q.data.internal_port};
  const Endpoint peer_endpoint{q.data.remote_address, q.data.remote_port};
  auto external = table_.outbound(now, *proto, internal, peer_endpoint, sim::tcp_flags::syn);
  if (!external) return Result::no_resources;
  ++counters_.peers;
  const TimePoint expires = table_.expiry(now, *proto, *external).value_or(now);
  r.lifetime = static_cast<std::uint32_t>(
      std::min<std::int64_t>((expires - now) / seconds(1), std::int64_t{q.lifetime}));
  r.data.external_port = external->port;
  r.data.external_address = external->address;
  return Result::success;
}

namespace {

// "NOT_AUTHORIZED", "not authorized" -> "not_authorized".
std::string metric_word(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    c = c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> port_mapping_metrics(const PcpCounters& p,
                                                                        const NatPmpCounters& n,
                                                                        bool all) {
  std::vector<std::pair<std::string, std::uint64_t>> out{
      {"pcp.requests", p.requests},   {"pcp.dropped", p.dropped},
      {"pcp.mapped", p.mapped},       {"pcp.deleted", p.deleted},
      {"pcp.peers", p.peers},         {"pcp.announces", p.announces},
      {"pcp.announced", p.announced}, {"natpmp.requests", n.requests},
      {"natpmp.dropped", n.dropped},  {"natpmp.address_requests", n.address_requests},
      {"natpmp.mapped", n.mapped},    {"natpmp.deleted", n.deleted},
  };
  for (std::size_t c = 1; c < p.errors.size(); ++c) {
    if (all || p.errors[c] != 0)
      out.emplace_back("pcp.errors." + metric_word(pcp::to_string(static_cast<Result>(c))),
                       p.errors[c]);
  }
  for (std::size_t c = 1; c < n.errors.size(); ++c) {
    if (all || n.errors[c] != 0) {
      out.emplace_back("natpmp.errors." + metric_word(traversal::natpmp::to_string(
                                              static_cast<traversal::natpmp::ResultCode>(c))),
                       n.errors[c]);
    }
  }
  return out;
}

}  // namespace natsim::nat
