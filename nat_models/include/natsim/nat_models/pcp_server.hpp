#pragma once
// The gateway's port-mapping service on port 5351: a PCP server (RFC 6887: MAP, PEER,
// ANNOUNCE) that hands NAT-PMP requests (version 0) to a NAT-PMP server on the same
// port (RFC 6887 §9), both creating explicit mappings in the gateway's NAT table.
// Sans-I/O: NatGateway feeds it datagrams and sends what it polls.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "natsim/nat_models/nat_table.hpp"
#include "natsim/nat_models/natpmp_server.hpp"
#include "natsim/nat_models/port_mapper_config.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/pcp_wire.hpp"

namespace natsim::nat {

struct PcpCounters {
  std::uint64_t requests = 0;
  std::uint64_t dropped = 0;  // shorter than 2 octets, responses, unsendable answers
  std::uint64_t mapped = 0;   // MAP successes (created or refreshed)
  std::uint64_t deleted = 0;
  std::uint64_t peers = 0;
  std::uint64_t announces = 0;  // ANNOUNCE requests answered
  // Unsolicited announcements multicast after a loss of state: PCP ANNOUNCE responses
  // (RFC 6887 §14.1.3) and NAT-PMP address responses (RFC 6886 §3.2.1), one each per round.
  std::uint64_t announced = 0;
  // Error responses by result code (index = code).
  std::array<std::uint64_t, 14> errors{};
  [[nodiscard]] std::uint64_t error(traversal::pcp::ResultCode c) const {
    return errors[static_cast<std::size_t>(c)];
  }
};

class PcpServer {
 public:
  // `now` starts the epoch (RFC 6887 §8.5).
  PcpServer(NatTable& table, PortMappingConfig config, TimePoint now);
  // The NAT-PMP server refers to this object's config: it stays where it was made.
  PcpServer(const PcpServer&) = delete;
  PcpServer& operator=(const PcpServer&) = delete;

  // Every datagram to port 5351 is the server's own (answered, or dropped and counted).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // Sends the announcements that are due.
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<traversal::Transmit> poll_transmit(MutableByteView out) {
    return out_.pop(out);
  }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<int> poll_event() { return std::nullopt; }

  // The gateway rebooted: the epoch starts again at 0 (RFC 6887 §8.5, RFC 6886 §3.6)
  // and the mapping nonces are forgotten with the mappings.
  void reboot(TimePoint now);
  // The mappings were lost without a word (RebootMappings::forget_silently): their nonces
  // go, the epoch keeps counting.
  void forget_silently() { nonces_.clear(); }
  // Tells the LAN that state was lost (a reboot, a new external address): unsolicited
  // announcements to 224.0.0.1:5350 (the transmits' local address is unspecified: the
  // gateway sends them on every LAN interface), the first now, then after 250 ms,
  // doubling, ten in all (RFC 6886 §3.2.1; RFC 6887 §14.1.3 asks for a few).
  void announce(TimePoint now);
  [[nodiscard]] std::uint32_t epoch(TimePoint now) const;

  [[nodiscard]] const PortMappingConfig& config() const { return config_; }
  [[nodiscard]] const PcpCounters& counters() const { return counters_; }
  [[nodiscard]] const NatPmpCounters& natpmp_counters() const { return natpmp_.counters(); }

 private:
  using Result = traversal::pcp::ResultCode;
  struct NonceKey {
    Endpoint internal;
    IpProto proto;
    bool operator==(const NonceKey&) const = default;
  };
  struct NonceHash {
    std::size_t operator()(const NonceKey& k) const noexcept {
      return k.internal.hash() ^ static_cast<std::size_t>(k.proto);
    }
  };

  void answer_pcp(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  // Fills `r` for a MAP or PEER request; returns the result code.
  Result map(TimePoint now, const Endpoint& remote, const traversal::pcp::Request& q,
             traversal::pcp::Response& r);
  Result peer(TimePoint now, const Endpoint& remote, const traversal::pcp::Request& q,
              traversal::pcp::Response& r);
  void send_error(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView request,
                  Result result);
  void send(const Endpoint& local, const Endpoint& remote, std::size_t size);

  NatTable& table_;
  PortMappingConfig config_;
  TimePoint epoch_start_;
  NatPmpServer natpmp_;
  boost::unordered_flat_map<NonceKey, traversal::pcp::Nonce, NonceHash> nonces_;
  traversal::TransmitQueue out_;
  std::array<std::uint8_t, traversal::pcp::kMaxMessageSize> buffer_{};
  PcpCounters counters_;
  TimePoint announce_at_ = kTimeNever;
  std::uint32_t announcements_left_ = 0;
};

// The service's counters by name ("pcp.requests", "pcp.errors.not_authorized",
// "natpmp.mapped", ...), error counters only where non-zero unless `all`: what scenario
// expectations, run reports and `natsim serve gateway` show.
[[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> port_mapping_metrics(
    const PcpCounters& pcp, const NatPmpCounters& natpmp, bool all = false);
[[nodiscard]] inline std::vector<std::pair<std::string, std::uint64_t>> port_mapping_metrics(
    const PcpServer& server, bool all = false) {
  return port_mapping_metrics(server.counters(), server.natpmp_counters(), all);
}

}  // namespace natsim::nat
