#pragma once
// Asks the gateway for port mappings: PCP first (RFC 6887), NAT-PMP when the gateway
// answers that it speaks only that or PCP goes unanswered before granting anything
// (RFC 6887 §9; once it granted, an unanswered request fails that mapping alone), each
// mapping refreshed at half its lifetime; a gateway reboot is detected from the epoch
// (RFC 6887 §8.5, RFC 6886 §3.6) and the mappings re-created at once. A mapping whose
// external address is private or shared (RFC 1918, RFC 6598 100.64/10) is flagged as
// double NAT: the internet cannot reach it. The protocols and their order are the
// config's `protocols` (UPnP IGD, upnp_client.hpp, among them if asked); with `parallel`
// the gateway is probed with every one at once and the first to answer is used. Sans-I/O.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/pcp_client.hpp"
#include "natsim/traversal/upnp_client.hpp"

namespace natsim::traversal {

enum class MappingProtocol : std::uint8_t { pcp, natpmp, upnp };

struct PortMapperConfig {
  Endpoint local;          // the socket the mapper sends from (its address is PCP's client address)
  Endpoint gateway;        // the gateway's port 5351
  std::uint64_t seed = 1;  // mapping nonces
  // RFC 6887 §8.1.1: first retransmission after 3 s, doubling; after this many
  // unanswered PCP requests the mapper tries NAT-PMP, unless PCP already granted a
  // mapping: then only the mapping asked for fails.
  std::uint32_t pcp_attempts = 3;
  // RFC 6886 §3.1: 250 ms doubling, 9 attempts, then the mapping failed.
  std::uint32_t natpmp_attempts = 9;
  // The protocols tried, in order: the next takes over when one goes unanswered before
  // it granted anything, or the gateway says it does not speak it (PCP → NAT-PMP:
  // RFC 6887 §9; UPnP: no SSDP answer, or no usable description or control URL); said
  // after grants, that is a downgrade and the granted mappings are re-created over the
  // next. One entry: that protocol alone. Empty: the default; a repeated entry counts
  // once. UPnP IGD is not in the default, so gateways without it see no SSDP.
  std::vector<MappingProtocol> protocols{MappingProtocol::pcp, MappingProtocol::natpmp};
  // Probe the gateway with every protocol in `protocols` at once — a PCP ANNOUNCE request
  // (RFC 6887 §14.1), a NAT-PMP external address request (RFC 6886 §3.2) and the UPnP
  // client's discovery (M-SEARCH and the description) — and map with the first that
  // answers, as clients that cannot afford a sequential fallback do. Costs one round
  // trip for PCP and NAT-PMP; answers at the same instant go to the earlier in the list.
  // The probes are repeated at NAT-PMP's 250 ms doubling, natpmp_attempts in all.
  bool parallel = false;
  // The UPnP client's settings; its `local` defaults to `local`.
  upnp::ClientConfig upnp_client;
};

struct PortMapperEvent {
  enum class Kind : std::uint8_t {
    mapped,     // first success for the mapping
    refreshed,  // a refresh succeeded
    recreated,  // re-created after a gateway reboot was detected
    failed,     // an error result, or no answer at all
    deleted,    // remove() answered
    gateway_rebooted,
  };
  Kind kind = Kind::mapped;
  std::size_t id = 0;
  MappingProtocol protocol = MappingProtocol::pcp;
  Endpoint external;
  std::uint32_t lifetime = 0;
  std::uint16_t result = 0;  // the protocol's result code on failure (UPnP: its error code)
  upnp::Outcome upnp_outcome = upnp::Outcome::ok;  // UPnP failures: why
  std::string detail;                              // UPnP failures: the device's words
  bool double_nat = false;
  std::uint32_t epoch = 0;  // the gateway's epoch in the answer that caused the event
};

// RFC 1918 private or RFC 6598 shared address space.
[[nodiscard]] bool behind_another_nat(const IpAddress& external);

[[nodiscard]] std::string_view to_string(MappingProtocol p);  // "pcp", "natpmp", "upnp"
// "pcp", "natpmp" or "upnp"; nullopt for anything else.
[[nodiscard]] std::optional<MappingProtocol> parse_mapping_protocol(std::string_view name);

class PortMapper {
 public:
  explicit PortMapper(PortMapperConfig config);

  // Asks for a mapping of `internal_port` (protocol 17 UDP or 6 TCP); returns its id.
  std::size_t add(TimePoint now, std::uint8_t protocol, std::uint16_t internal_port,
                  std::uint32_t lifetime, std::uint16_t suggested_port = 0);
  // Deletes the mapping (a request with lifetime 0); `deleted` follows.
  void remove(TimePoint now, std::size_t id);
  // Refreshes a granted mapping now instead of at half its lifetime; `refreshed` follows.
  void refresh(TimePoint now, std::size_t id);

  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // UPnP's HTTP connections.
  void handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out);
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<PortMapperEvent> poll_event();

  [[nodiscard]] MappingProtocol protocol() const { return protocol_; }
  // True while a parallel probe waits for the first protocol to answer.
  [[nodiscard]] bool probing() const { return probing_; }
  [[nodiscard]] std::optional<Endpoint> external(std::size_t id) const;

 private:
  enum class State : std::uint8_t { requesting, mapped, failed, deleting, deleted };
  struct Mapping {
    MappingAsk ask;
    std::uint32_t wanted_lifetime = 0;
    State state = State::requesting;
    bool ever_mapped = false;
    bool recreating = false;
    std::uint32_t attempts = 0;
    TimePoint deadline = kTimeNever;
    Endpoint external;
    std::uint32_t lifetime = 0;
    std::size_t upnp_id = upnp::ClientEvent::kNoMapping;
  };

  void send(TimePoint now, Mapping& m);
  void answered(TimePoint now, std::size_t id, const MappingAnswer& a);
  // RFC 6887 §8.5: true when the server's epoch says it lost its state.
  bool epoch_says_rebooted(TimePoint now, std::uint32_t epoch);
  // An unsolicited announcement said the gateway lost its state (or, NAT-PMP, changed
  // its address): every granted mapping is asked for again after a random 0-5 s
  // (RFC 6887 §14.1.3), so a LAN of clients does not answer at once.
  void renew_all_after_announcement(TimePoint now, std::uint32_t epoch);
  // The next protocol in the order takes every mapping still wanted; false when there is
  // none left.
  bool fall_back(TimePoint now);
  [[nodiscard]] bool has_next() const { return stage_ + 1 < order_.size(); }
  // Moves the mappings asked for so far onto `protocol_` (after a fallback or a probe).
  void take_over(TimePoint now, MappingProtocol from);
  void start_probe(TimePoint now);
  void send_probes(TimePoint now);
  // A parallel probe was answered by `p`: map with it from now on.
  void choose(TimePoint now, MappingProtocol p);
  void probe_failed();
  // A datagram from the gateway while probing: a PCP ANNOUNCE or NAT-PMP address answer
  // picks its protocol; other answers (unsupported version) are ignored.
  bool probe_answered(TimePoint now, ByteView bytes);
  // Hands the UPnP client's events on, at the instant they happened.
  void drain_upnp(TimePoint now);
  void ensure_upnp();
  void emit(PortMapperEvent::Kind kind, std::size_t id, const Mapping& m);
  // Hands the mapping to the UPnP client (protocol_ is upnp).
  void send_upnp(TimePoint now, std::size_t id);
  void upnp_event(TimePoint now, const upnp::ClientEvent& e);

  PortMapperConfig config_;
  std::vector<MappingProtocol> order_;  // config_.protocols without repeats, never empty
  std::size_t stage_ = 0;               // protocol_ is order_[stage_]
  MappingProtocol protocol_ = MappingProtocol::pcp;
  bool probing_ = false;
  std::optional<MappingProtocol> probe_chose_;  // what the race picked
  bool probe_started_ = false;
  bool upnp_discovery_failed_ = false;
  // A mapping was granted over protocol_: a later failure is that mapping's alone, not a
  // reason to move every mapping to the next protocol.
  bool granted_over_protocol_ = false;
  // Until then an "unsupported version" answers the race's other probe (see answered()).
  TimePoint race_grace_until_ = kTimeZero;
  // Late "unsupported version" answers to the old protocol's requests still expected after
  // a refusal moved the mappings on, and until when (see answered()).
  std::uint32_t stale_refusals_ = 0;
  TimePoint stale_refusals_until_ = kTimeZero;
  upnp::Outcome upnp_discovery_outcome_ = upnp::Outcome::ok;
  std::string upnp_discovery_detail_;
  std::uint32_t probe_attempts_ = 0;
  TimePoint probe_deadline_ = kTimeNever;
  std::optional<IpAddress> natpmp_address_;
  std::optional<std::uint32_t> last_epoch_;
  TimePoint last_epoch_at_{};
  std::vector<Mapping> mappings_;
  TransmitQueue out_;
  std::deque<PortMapperEvent> events_;
  std::array<std::uint8_t, pcp::kMaxMessageSize> buffer_{};
  std::uint64_t nonce_state_;
  std::unique_ptr<upnp::UpnpClient> upnp_;
};

}  // namespace natsim::traversal
