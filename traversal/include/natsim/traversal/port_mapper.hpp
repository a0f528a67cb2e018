#pragma once
// Asks the gateway for port mappings: PCP first (RFC 6887), NAT-PMP when the gateway
// answers that it speaks only that or PCP goes unanswered (RFC 6887 §9), each mapping
// refreshed at half its lifetime; a gateway reboot is detected from the epoch
// (RFC 6887 §8.5, RFC 6886 §3.6) and the mappings re-created at once. A mapping whose
// external address is private or shared (RFC 1918, RFC 6598 100.64/10) is flagged as
// double NAT: the internet cannot reach it. With `upnp` on, UPnP IGD (upnp_client.hpp) is
// tried when NAT-PMP goes unanswered too, or first when it is the only protocol. Sans-I/O.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
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
  // unanswered PCP requests the mapper tries NAT-PMP.
  std::uint32_t pcp_attempts = 3;
  // RFC 6886 §3.1: 250 ms doubling, 9 attempts, then the mapping failed.
  std::uint32_t natpmp_attempts = 9;
  // One protocol only, never falling back to the other; nullopt: PCP, then NAT-PMP (then
  // UPnP IGD when `upnp` is set).
  std::optional<MappingProtocol> only;
  // UPnP IGD after NAT-PMP; off by default, so gateways without it see no SSDP.
  bool upnp = false;
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
  void fall_back(TimePoint now);
  void emit(PortMapperEvent::Kind kind, std::size_t id, const Mapping& m);
  // Hands the mapping to the UPnP client (protocol_ is upnp).
  void send_upnp(TimePoint now, std::size_t id);
  void upnp_event(const upnp::ClientEvent& e);

  PortMapperConfig config_;
  MappingProtocol protocol_ = MappingProtocol::pcp;
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
