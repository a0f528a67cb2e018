// The gateway's PCP / NAT-PMP service behind a NAT table: a stream of datagrams from
// several hosts at advancing times, reboots that forget or keep (NVRAM) the mappings.
// Every answer must parse as PCP or NAT-PMP, the table's explicit mappings must respect
// the per-host quota, and a peer on the internet gets into an explicit mapping exactly
// when its FILTER list (RFC 6887 §13.3) is empty or admits it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "natsim/nat_models/pcp_server.hpp"
#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_wire.hpp"

using namespace natsim;
using namespace natsim::nat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  NatTable table(*preset("symmetric"), {*IpAddress::parse("203.0.113.2")}, true, sim::Rng(1));
  PortMappingConfig config;
  config.quota_per_host = 4;
  config.allow_third_party = (data[0] & 1) != 0;
  config.pcp = (data[0] & 2) == 0;
  config.natpmp = (data[0] & 4) == 0;
  PcpServer server(table, config, kTimeZero);
  const Endpoint local{*IpAddress::parse("10.0.0.1"), 5351};
  TimePoint now = kTimeZero;
  std::uint8_t out[2048];
  // Records: [host 0-3][seconds to advance][length][bytes...]
  std::size_t i = 1;
  while (i + 3 <= size) {
    const Endpoint remote{IpAddress::v4(0x0a000002u + (data[i] & 3)), 5350};
    now += std::chrono::seconds(data[i + 1]);
    const std::size_t length = std::min<std::size_t>(data[i + 2], size - i - 3);
    if ((data[i] & 0x80) != 0) {
      if ((data[i] & 0x40) != 0) {
        table.flush_keeping_explicit();  // RebootMappings::persist
      } else {
        server.reboot(now);
        server.announce(now);
      }
    }
    // Announcements that are due (RFC 6887 §14.1.3): every one must parse too.
    if (auto due = server.poll_timeout(); due && *due <= now) server.handle_timeout(now);
    (void)server.handle_datagram(now, local, remote, ByteView(data + i + 3, length));
    while (auto t = server.poll_transmit(out)) {
      const ByteView answer(out, t->size);
      if (answer.size() < 2) std::abort();
      if (answer[0] == traversal::natpmp::kVersion) {
        auto r = traversal::natpmp::parse_response(answer);
        // An unsupported opcode is echoed back (RFC 6886 §3.5): not a known response,
        // and as short as the request was.
        if (!r && (answer[1] & 0x7f) <= 2) std::abort();
      } else {
        auto r = traversal::pcp::parse_response(answer);
        if (!r && r.error() != traversal::pcp::ResponseError::bad_opcode) std::abort();
      }
    }
    const Endpoint peer{IpAddress::v4(0xc6336400u + data[i + 1]),
                        static_cast<std::uint16_t>(data[i + 2])};
    i += 3 + length;
    std::size_t explicit_mappings = 0;
    for (const MappingInfo& m : table.mappings(now)) {
      if (m.owner == MappingOwner::traffic) continue;
      ++explicit_mappings;
      const bool listed =
          m.filters.empty() || std::any_of(m.filters.begin(), m.filters.end(),
                                           [&](const RemoteFilter& f) { return f.admits(peer); });
      const bool in = static_cast<bool>(table.inbound(now, m.proto, peer, m.external));
      // Without permissions (answers to what the host sent) the FILTER list decides.
      if (m.permitted.empty() && in != listed) std::abort();
    }
    // Without THIRD_PARTY, four hosts hold at most their quota each.
    if (!config.allow_third_party && explicit_mappings > 4u * 4u) std::abort();
  }
  return 0;
}
