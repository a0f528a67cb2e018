#pragma once
// A NAT-PMP server (RFC 6886): the external address, UDP and TCP mappings with their
// lifetimes, the seconds-since-start-of-epoch field and result codes. It answers one
// request at a time for PcpServer, which owns port 5351 (RFC 6887 §9).
#include <cstdint>
#include <optional>

#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/port_mapper_config.hpp"
#include "natsim/traversal/natpmp_wire.hpp"

namespace natsim::nat {

struct NatPmpCounters {
  std::uint64_t requests = 0;
  std::uint64_t dropped = 0;
  std::uint64_t address_requests = 0;
  std::uint64_t mapped = 0;
  std::uint64_t deleted = 0;
  // Error responses by result code (index = code).
  std::array<std::uint64_t, 6> errors{};
  [[nodiscard]] std::uint64_t error(traversal::natpmp::ResultCode c) const {
    return errors[static_cast<std::size_t>(c)];
  }
};

class NatPmpServer {
 public:
  NatPmpServer(NatTable& table, const PortMappingConfig& config) : table_(table), config_(config) {}

  // The answer to `request` from `remote`, written into `out`; nullopt: drop it.
  std::optional<std::size_t> answer(TimePoint now, std::uint32_t epoch, const Endpoint& remote,
                                    ByteView request, MutableByteView out);

  [[nodiscard]] const NatPmpCounters& counters() const { return counters_; }
  NatPmpCounters& counters() { return counters_; }

 private:
  NatTable& table_;
  const PortMappingConfig& config_;
  NatPmpCounters counters_;
};

}  // namespace natsim::nat
