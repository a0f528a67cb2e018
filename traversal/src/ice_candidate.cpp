#include "natsim/traversal/ice_candidate.hpp"

#include <cstdio>

#include "natsim/base/random.hpp"

namespace natsim::traversal::ice {

std::string_view to_string(CandidateType t) {
  switch (t) {
    case CandidateType::host:
      return "host";
    case CandidateType::srflx:
      return "srflx";
    case CandidateType::prflx:
      return "prflx";
    case CandidateType::relay:
      return "relay";
    case CandidateType::mapped:
      return "mapped";
  }
  return "?";
}

std::string foundation(CandidateType type, const IpAddress& base,
                       const std::optional<IpAddress>& server) {
  std::string key(to_string(type));
  key += '/';
  key += base.to_string();
  key += '/';
  key += server ? server->to_string() : "-";
  key += "/udp";
  char out[9];
  std::snprintf(out, sizeof out, "%08x", static_cast<unsigned>(stable_hash(key) & 0xFFFFFFFFu));
  return out;
}

Candidate make_candidate(CandidateType type, const Endpoint& address, const Endpoint& base,
                         const std::optional<IpAddress>& server, std::uint32_t local_pref) {
  Candidate c;
  c.type = type;
  c.address = address;
  c.base = base;
  c.priority = candidate_priority(type, local_pref, 1);
  c.foundation = foundation(type, base.address, server);
  return c;
}

}  // namespace natsim::traversal::ice
