#pragma once
// The client side of PCP (RFC 6887) and NAT-PMP (RFC 6886) mapping requests: building a
// request and reading the answer to it. Stateless helpers; PortMapper owns the timers,
// retransmissions and the epoch. A NAT-PMP answer with version 0 to a PCP request is
// how a client learns that the gateway speaks only NAT-PMP (RFC 6887 §9).
#include <cstdint>
#include <optional>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::traversal {

struct MappingAnswer {
  enum class Kind : std::uint8_t {
    mapped,               // success; lifetime 0 answers a delete
    failed,               // an error result (`result` is the protocol's code)
    unsupported_version,  // fall back to the other protocol
    address,              // NAT-PMP: the external address
  };
  Kind kind = Kind::failed;
  Endpoint external;  // PCP: assigned address and port; NAT-PMP: port only (address 0)
  std::uint32_t lifetime = 0;
  std::uint32_t epoch = 0;
  std::uint16_t result = 0;
};

// What a mapping request asks for.
struct MappingAsk {
  std::uint8_t protocol = 17;  // IANA number: 17 UDP, 6 TCP
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_port = 0;
  std::uint32_t lifetime = 0;  // 0: delete
  pcp::Nonce nonce{};          // PCP only
  // PCP only: map for this address instead of the client's (THIRD_PARTY, RFC 6887 §13.1).
  std::optional<IpAddress> third_party;
};

namespace pcp_client {
// A PCP MAP request from `client` (the address the request leaves from, §8.1).
[[nodiscard]] std::optional<std::size_t> map_request(const IpAddress& client, const MappingAsk& a,
                                                     MutableByteView out);
// The answer to `a` in `datagram`, or nullopt when it is not one (other nonce, port,
// protocol, a request, garbage).
[[nodiscard]] std::optional<MappingAnswer> read(ByteView datagram, const MappingAsk& a);
}  // namespace pcp_client

namespace natpmp_client {
[[nodiscard]] std::optional<std::size_t> address_request(MutableByteView out);
[[nodiscard]] std::optional<std::size_t> map_request(const MappingAsk& a, MutableByteView out);
// A map answer matching `a` (by opcode and internal port), an address answer, or an
// "unsupported version" answer; nullopt for anything else.
[[nodiscard]] std::optional<MappingAnswer> read(ByteView datagram, const MappingAsk* a);
}  // namespace natpmp_client

}  // namespace natsim::traversal
