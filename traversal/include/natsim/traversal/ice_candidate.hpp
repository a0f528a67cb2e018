#pragma once
// ICE candidates (RFC 8445 §5.1): types, priorities, foundations, and the priority of a
// candidate pair (§6.1.2.3). Plain values, exchanged through the application's signalling.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "natsim/base/endpoint.hpp"

namespace natsim::traversal::ice {

// `mapped`: a port-mapped candidate, the gateway's external address for a host socket got
// with PCP or NAT-PMP. RFC 8445 §5.1.1.2 counts such addresses as server-reflexive, and
// SDP carries them as `srflx`; natsim keeps them apart for priority, foundation and the
// reported path.
enum class CandidateType : std::uint8_t { host, srflx, prflx, relay, mapped };
[[nodiscard]] std::string_view to_string(CandidateType t);

// RFC 8445 §5.1.2.2: the recommended type preferences.
[[nodiscard]] constexpr std::uint32_t type_preference(CandidateType t) {
  switch (t) {
    case CandidateType::host:
      return 126;
    case CandidateType::prflx:
      return 110;
    case CandidateType::mapped:
      // Between prflx and srflx, as libnice ranks its NAT-assisted (UPnP) candidates: the
      // gateway forwards a mapping from any peer (RFC 6887 §11.1 leaves it unfiltered),
      // which a STUN-learnt address does not promise; a peer-reflexive address is proven.
      return 105;
    case CandidateType::srflx:
      return 100;
    case CandidateType::relay:
      return 0;
  }
  return 0;
}

// RFC 8445 §5.1.2.1: priority = 2^24 × type preference + 2^8 × local preference +
// (256 − component ID).
[[nodiscard]] constexpr std::uint32_t candidate_priority(std::uint32_t type_pref,
                                                         std::uint32_t local_pref,
                                                         std::uint32_t component) {
  return (type_pref << 24) + ((local_pref & 0xFFFF) << 8) + (256 - (component & 0xFF));
}
[[nodiscard]] constexpr std::uint32_t candidate_priority(CandidateType t, std::uint32_t local_pref,
                                                         std::uint32_t component = 1) {
  return candidate_priority(type_preference(t), local_pref, component);
}

// RFC 8445 §6.1.2.3: pair priority = 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0),
// G the controlling agent's candidate priority, D the controlled agent's.
[[nodiscard]] constexpr std::uint64_t pair_priority(std::uint32_t controlling,
                                                    std::uint32_t controlled) {
  const std::uint64_t lo = controlling < controlled ? controlling : controlled;
  const std::uint64_t hi = controlling < controlled ? controlled : controlling;
  return (lo << 32) + 2 * hi + (controlling > controlled ? 1 : 0);
}

// RFC 8445 §5.1.1.3: two candidates share a foundation when they have the same type, base
// IP address, STUN/TURN server IP address and transport. The foundation is a stable hash
// of those (8 hex digits), the same on every run and machine.
[[nodiscard]] std::string foundation(CandidateType type, const IpAddress& base,
                                     const std::optional<IpAddress>& server);

struct Candidate {
  CandidateType type = CandidateType::host;
  Endpoint address;  // the transport address
  Endpoint base;     // RFC 8445 §5.1.1: where it sends from (relay: the relayed address)
  std::uint32_t priority = 0;
  std::string foundation;
  std::uint16_t component = 1;
  std::optional<Endpoint> related;  // raddr/rport: the base of srflx, the mapped of relay

  friend bool operator==(const Candidate&, const Candidate&) = default;
};

// A candidate of `type` at `address` with the default local preference (65535).
[[nodiscard]] Candidate make_candidate(CandidateType type, const Endpoint& address,
                                       const Endpoint& base,
                                       const std::optional<IpAddress>& server = std::nullopt,
                                       std::uint32_t local_pref = 65535);

}  // namespace natsim::traversal::ice
