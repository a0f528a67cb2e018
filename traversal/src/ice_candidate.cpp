#include "natsim/traversal/ice_candidate.hpp"

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

namespace {
// The address as inet_ntop writes it; IPv4 in place, since every candidate's foundation
// formats one or two and inet_ntop (through sprintf) cost more than the rest of it.
void append_address(std::string& out, const IpAddress& a) {
  if (!a.is_v4()) {
    out += a.to_string();
    return;
  }
  const std::uint32_t v = a.v4_value();
  for (int shift = 24; shift >= 0; shift -= 8) {
    const unsigned octet = (v >> shift) & 0xFFu;
    if (octet >= 100) out += static_cast<char>('0' + octet / 100);
    if (octet >= 10) out += static_cast<char>('0' + octet / 10 % 10);
    out += static_cast<char>('0' + octet % 10);
    if (shift != 0) out += '.';
  }
}
}  // namespace

std::string foundation(CandidateType type, const IpAddress& base,
                       const std::optional<IpAddress>& server) {
  std::string key(to_string(type));
  key += '/';
  append_address(key, base);
  key += '/';
  if (server) {
    append_address(key, *server);
  } else {
    key += '-';
  }
  key += "/udp";
  // Eight lowercase hex digits of the key's hash, as "%08x" would print them.
  const auto h = static_cast<std::uint32_t>(stable_hash(key) & 0xFFFFFFFFu);
  std::string out(8, '0');
  for (int i = 7, shift = 0; i >= 0; --i, shift += 4)
    out[static_cast<std::size_t>(i)] = "0123456789abcdef"[(h >> shift) & 0xFu];
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
