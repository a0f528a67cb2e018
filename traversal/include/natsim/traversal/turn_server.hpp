#pragma once
// A TURN server (RFC 8656) for clients over UDP and TCP: long-term credentials with
// expiring nonces (RFC 8489 §9.2, MD5 and SHA-256), allocations with relayed transport
// addresses, permissions and channels with expiry, per-user quotas, peer-address denial
// and relayed-bytes accounting, EVEN-PORT with port reservations (RESERVATION-TOKEN,
// §7.2). Sans-I/O: the relay endpoints are a fixed range that a driver binds up front
// (local_endpoints()); a driver that accepts TCP connections on the listening endpoint
// hands their bytes to handle_stream(). Relays to peers are UDP.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "natsim/base/ip_address.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/stun_constants.hpp"
#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_wire.hpp"

namespace natsim::traversal::turn {

struct ServerConfig {
  Endpoint listen;          // where clients reach the server (UDP, and TCP if driven)
  IpAddress relay_address;  // relayed transport addresses use this address
  std::uint16_t relay_port_first = 49152;
  std::uint16_t relay_port_count = 64;
  std::string realm = "natsim";
  std::map<std::string, std::string> users;  // username -> password
  Duration default_lifetime = minutes(10);   // RFC 8656 §7.2
  Duration max_lifetime = hours(1);
  Duration nonce_lifetime = hours(1);
  std::uint32_t max_allocations_per_user = 10;
  std::vector<Prefix> denied_peers;  // CreatePermission/ChannelBind to these get 403
  bool offer_sha256 = true;          // PASSWORD-ALGORITHMS with SHA-256 and MD5
  // RFC 5766 §11 channel numbers 0x4000-0x7FFF (ChannelBind and ChannelData) instead of
  // RFC 8656 §12's 0x4000-0x4FFF, for older clients such as coturn's turnutils_uclient.
  bool rfc5766_channels = false;
  std::string software = "natsim";
};

struct ServerCounters {
  std::uint64_t requests = 0;
  std::uint64_t challenges = 0;     // 401 with a fresh nonce
  std::uint64_t stale_nonces = 0;   // 438
  std::uint64_t auth_failures = 0;  // 401 for a bad user or integrity
  std::uint64_t allocations = 0;    // created
  std::uint64_t allocations_expired = 0;
  std::uint64_t allocations_closed = 0;    // their TCP connection closed
  std::uint64_t quota_rejections = 0;      // 486
  std::uint64_t capacity_rejections = 0;   // 508 (no port, or an unknown/expired token)
  std::uint64_t reservations = 0;          // ports reserved by EVEN-PORT with R (§7.2)
  std::uint64_t reservations_used = 0;     // claimed by an Allocate with RESERVATION-TOKEN
  std::uint64_t reservations_expired = 0;  // freed unclaimed after 30 s
  std::uint64_t forbidden = 0;             // 403
  std::uint64_t errors = 0;                // every error response
  std::uint64_t relayed_to_peer = 0;       // datagrams
  std::uint64_t relayed_to_client = 0;
  std::uint64_t bytes_to_peer = 0;
  std::uint64_t bytes_to_client = 0;
  std::uint64_t dropped_no_permission = 0;
  std::uint64_t dropped_malformed = 0;
};

class TurnServer {
 public:
  TurnServer(std::uint64_t seed, ServerConfig config);

  // The listening endpoint first, then every relay endpoint: bind them all.
  [[nodiscard]] std::vector<Endpoint> local_endpoints() const;
  [[nodiscard]] std::size_t allocation_count() const { return allocations_.size(); }
  [[nodiscard]] std::size_t reservation_count() const { return reservations_.size(); }

  void handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // TURN over TCP: bytes of the connection (local, remote), and its end.
  void handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) { return out_.pop(out); }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<int> poll_event() { return std::nullopt; }

  [[nodiscard]] const ServerCounters& counters() const { return counters_; }

 private:
  // RFC 8656 §2: an allocation belongs to the client's 5-tuple; over TCP that is the
  // connection.
  struct ClientTuple {
    Transport transport = Transport::udp;
    Endpoint local;  // the server's side
    Endpoint remote;
    auto operator<=>(const ClientTuple&) const = default;
  };
  struct ClientTupleHash {
    std::size_t operator()(const ClientTuple& c) const noexcept {
      return c.remote.hash() ^ (c.local.hash() * 0x9e3779b97f4a7c15ull) ^
             static_cast<std::size_t>(c.transport);
    }
  };
  struct Channel {
    Endpoint peer;
    TimePoint expires;
  };
  struct Allocation {
    ClientTuple client;
    std::string user;
    Endpoint relay;
    TimePoint expires;
    stun::TransactionId allocate_tid{};
    std::optional<std::uint64_t> reservation_token;  // repeated to a retransmitted Allocate
    std::map<IpAddress, TimePoint> permissions;
    std::map<std::uint16_t, Channel> channels;
  };
  struct Auth {
    std::string user;
    std::vector<std::uint8_t> key;
    bool sha256 = false;  // responses carry MESSAGE-INTEGRITY-SHA256 (else MESSAGE-INTEGRITY)
  };
  // RFC 8656 §7.2: port N+1 held for a later Allocate with the token.
  struct Reservation {
    std::uint16_t port = 0;
    TimePoint expires{};
  };
  enum class PortState : std::uint8_t { free, allocated, reserved };
  // When an allocation (or, with a token, a reservation) may lapse. Refreshes push a new
  // entry and leave the old one to be skipped when it comes up, so expiry costs a heap
  // operation per deadline, never a scan of every allocation.
  struct Deadline {
    TimePoint at;
    ClientTuple client;
    std::uint64_t token = 0;  // non-zero: the reservation with this token
    bool operator>(const Deadline& o) const { return at > o.at; }
  };

  void handle_client(TimePoint now, const ClientTuple& client, ByteView bytes);
  void close_stream(const ClientTuple& client);
  void reply(const ClientTuple& client, ByteView bytes);
  template <class Fill>
  void respond(const stun::Message& m, const ClientTuple& client, const Auth& auth, Fill fill);
  void handle_peer(TimePoint now, Allocation& a, const Endpoint& peer, ByteView bytes);
  std::optional<Auth> authenticate(TimePoint now, const stun::Message& m,
                                   const ClientTuple& client);
  void allocate(TimePoint now, const stun::Message& m, const ClientTuple& client, const Auth& auth);
  void refresh(TimePoint now, const stun::Message& m, const ClientTuple& client, const Auth& auth);
  void create_permission(TimePoint now, const stun::Message& m, const ClientTuple& client,
                         const Auth& auth);
  void channel_bind(TimePoint now, const stun::Message& m, const ClientTuple& client,
                    const Auth& auth);
  void send_indication(TimePoint now, const stun::Message& m, const ClientTuple& client);
  void sign(stun::Writer& w, const Auth& auth) const;
  [[nodiscard]] std::optional<std::uint16_t> pick_port(bool even, bool pair) const;
  [[nodiscard]] std::uint64_t make_token();
  [[nodiscard]] ChannelRange channel_range() const {
    return config_.rfc5766_channels ? ChannelRange::rfc5766 : ChannelRange::rfc8656;
  }
  [[nodiscard]] PortState& port_state(std::uint16_t port) {
    return port_state_[port - config_.relay_port_first];
  }
  void error(const stun::Message& m, const ClientTuple& client, std::uint16_t code,
             const Auth* auth = nullptr, bool challenge = false, TimePoint now = {});
  [[nodiscard]] std::string make_nonce(TimePoint now);
  [[nodiscard]] bool nonce_fresh(std::string_view nonce, TimePoint now) const;
  [[nodiscard]] bool denied(const IpAddress& peer) const;
  void expire(TimePoint now);
  // Drops an allocation's lapsed permissions and channels (lookups already ignore them).
  static void prune(Allocation& a, TimePoint now);
  Allocation* find(const ClientTuple& client);

  // Flat: references into it last only until the next insert or erase.
  using AllocationTable = boost::unordered_flat_map<ClientTuple, Allocation, ClientTupleHash>;
  void release(AllocationTable::iterator it);

  ServerConfig config_;
  std::uint64_t secret_;
  std::uint64_t tokens_made_ = 0;  // RESERVATION-TOKEN derivation counter
  // Hash tables: every relayed datagram looks up both.
  AllocationTable allocations_;
  boost::unordered_flat_map<Endpoint, ClientTuple, std::hash<Endpoint>> relay_to_client_;
  std::map<ClientTuple, StreamFramer> streams_;        // TCP connections
  std::map<std::uint64_t, Reservation> reservations_;  // RESERVATION-TOKEN -> port
  std::vector<PortState> port_state_;                  // per relay port
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  TransmitQueue out_;
  std::vector<std::uint8_t> scratch_;  // frames to the client are built here
  ServerCounters counters_;
};

}  // namespace natsim::traversal::turn
