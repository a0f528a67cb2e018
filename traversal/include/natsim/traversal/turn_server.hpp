#pragma once
// A TURN server (RFC 8656) for clients over UDP and TCP: long-term credentials with
// expiring nonces (RFC 8489 §9.2, MD5 and SHA-256), allocations with relayed transport
// addresses, permissions and channels with expiry, per-user quotas, peer-address denial
// and relayed-bytes accounting, EVEN-PORT with port reservations (RESERVATION-TOKEN,
// §7.2). Sans-I/O: the relay endpoints are a fixed range that a driver binds up front
// (local_endpoints()); a driver that accepts TCP connections on the listening endpoint
// hands their bytes to handle_stream(). Relays to peers are UDP.
//
// Hostile clients are bounded: peers in special-purpose ranges are refused
// (peer_denylist.hpp), reservations count against the user's quota, permissions and
// channels per allocation are capped, a TCP connection that has not allocated is closed
// after a setup timeout, and the deadline heap never holds more than about twice the live
// state.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "natsim/base/ip_address.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/peer_denylist.hpp"
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
  // Allocations plus unclaimed EVEN-PORT reservations (a reservation holds a port too).
  std::uint32_t max_allocations_per_user = 10;
  // CreatePermission/ChannelBind to these get 403 and Send indications to them are
  // dropped; IPv6 forms embedding an IPv4 address are checked against the IPv4 entries.
  // Assigning replaces the defaults (append to default_denied_peers() to extend them).
  std::vector<Prefix> denied_peers = default_denied_peers();
  std::vector<Prefix> allowed_peers;  // exceptions to denied_peers (coturn's --allowed-peer-ip)
  // RFC 8656 §9.2 / §11.2: past these, 508. A WebRTC agent permits each remote
  // candidate's address, a few per peer: 128 covers a large mesh while bounding an
  // allocation's state to a few kilobytes.
  std::uint32_t max_permissions_per_allocation = 128;
  std::uint32_t max_channels_per_allocation = 128;
  // A TCP connection without an allocation is closed this long after it opened (not
  // after its last byte: a client trickling a byte a second is closed too). The Allocate
  // exchange is two round trips; 30 s is RFC 6062 §5.2's limit for a TURN connection
  // waiting for its ConnectionBind.
  Duration unallocated_stream_timeout = seconds(30);
  // A TCP frame (STUN message or ChannelData) larger than this closes the connection,
  // which bounds the bytes buffered per connection. The default is the largest padded
  // ChannelData frame (RFC 8656 §12.5); media-only deployments can lower it.
  std::size_t max_stream_frame = 4 + 65536;
  bool offer_sha256 = true;  // PASSWORD-ALGORITHMS with SHA-256 and MD5
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
  std::uint64_t allocations_closed = 0;     // their TCP connection closed
  std::uint64_t quota_rejections = 0;       // 486
  std::uint64_t capacity_rejections = 0;    // 508 (no port, or an unknown/expired token)
  std::uint64_t reservations = 0;           // ports reserved by EVEN-PORT with R (§7.2)
  std::uint64_t reservations_used = 0;      // claimed by an Allocate with RESERVATION-TOKEN
  std::uint64_t reservations_expired = 0;   // freed unclaimed after 30 s
  std::uint64_t forbidden = 0;              // 403
  std::uint64_t dropped_forbidden = 0;      // Send indications to a denied peer
  std::uint64_t streams_setup_timeout = 0;  // TCP closed: no allocation in time
  std::uint64_t streams_oversized = 0;      // TCP closed: a frame past max_stream_frame
  std::uint64_t errors = 0;                 // every error response
  std::uint64_t relayed_to_peer = 0;        // datagrams
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
  [[nodiscard]] std::size_t stream_count() const { return streams_.size(); }
  // Entries in the deadline heap, live and stale (bounded: see push_deadline).
  [[nodiscard]] std::size_t deadline_count() const { return deadlines_.size(); }

  // True when the datagram was this machine's: a STUN request or Send indication on the
  // listening endpoint (answered, even with an error), ChannelData on a bound channel, or
  // a peer's datagram to an allocated relay. False otherwise (not STUN, unknown channel,
  // a response, a relay port nobody holds), so a shared socket can offer it elsewhere.
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // TURN over TCP: a connection was accepted, bytes arrived on it, it ended. A connection
  // is named by (local, remote); its setup timeout runs from handle_stream_opened (or,
  // for a driver that does not call it, from its first bytes).
  void handle_stream_opened(TimePoint now, const Endpoint& local, const Endpoint& remote);
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
    TimePoint queued{};  // the heap entry that will look at this allocation next
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
    std::string user;  // charged to this user's quota until claimed or expired
  };
  struct Stream {
    StreamFramer framer;
    TimePoint setup_deadline{};  // closed then unless it holds an allocation
  };
  enum class PortState : std::uint8_t { free, allocated, reserved };
  // When an allocation, a reservation or a TCP connection's setup may lapse. Expiry costs
  // a heap operation per deadline, never a scan of every allocation. A refresh that
  // lengthens an allocation pushes nothing: its entry, when it comes up, re-queues it.
  enum class DeadlineKind : std::uint8_t { allocation, reservation, stream_setup };
  struct Deadline {
    TimePoint at;
    ClientTuple client;
    std::uint64_t token = 0;  // the reservation's
    DeadlineKind kind = DeadlineKind::allocation;
    bool operator>(const Deadline& o) const { return at > o.at; }
  };

  bool handle_client(TimePoint now, const ClientTuple& client, ByteView bytes);
  bool channel_data(TimePoint now, const ClientTuple& client, ByteView bytes);
  void unknown_attributes(const stun::Message& m, const ClientTuple& client,
                          std::vector<std::uint16_t> unknown);
  void close_stream(const ClientTuple& client);
  Stream& open_stream(TimePoint now, const ClientTuple& client);
  void reply(const ClientTuple& client, ByteView bytes);
  template <class Fill>
  void respond(const stun::Message& m, const ClientTuple& client, const Auth& auth, Fill fill);
  bool handle_peer(TimePoint now, Allocation& a, const Endpoint& peer, ByteView bytes);
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
  [[nodiscard]] bool denied(const IpAddress& peer) const {
    return peer_denied(peer, config_.denied_peers, config_.allowed_peers);
  }
  // Allocations and reservations held by a user (the quota counts both).
  [[nodiscard]] std::uint32_t usage(const std::string& user) const;
  void charge(const std::string& user) { ++usage_[user]; }
  void uncharge(const std::string& user);
  void push_deadline(const Deadline& d);
  void compact_deadlines();
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
  std::map<ClientTuple, Stream> streams_;                        // TCP connections
  std::map<std::uint64_t, Reservation> reservations_;            // RESERVATION-TOKEN -> port
  boost::unordered_flat_map<std::string, std::uint32_t> usage_;  // user -> quota used
  std::vector<PortState> port_state_;                            // per relay port
  std::vector<Deadline> deadlines_;  // a min-heap (std::push_heap with greater)
  TransmitQueue out_;
  std::vector<std::uint8_t> scratch_;  // frames to the client are built here
  ServerCounters counters_;
};

}  // namespace natsim::traversal::turn
