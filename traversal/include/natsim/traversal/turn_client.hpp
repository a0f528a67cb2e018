#pragma once
// TURN client (RFC 8656) over UDP or TCP to the server: a sans-I/O machine that
// allocates a relayed transport address with long-term credentials (RFC 8489 §9.2),
// keeps the allocation, its permissions and channels alive, and carries data to and from
// peers as Send/Data indications or ChannelData.
//
// Over TCP the driver connects first and names the connection by config.local and
// config.server; its bytes go to handle_stream(), its end to handle_stream_closed(),
// which loses the allocation (the server deletes it with the connection).
//
//   allocate()           Allocate (401 → retry with USERNAME/REALM/NONCE/MESSAGE-INTEGRITY)
//   create_permission()  CreatePermission for a peer address (refreshed every 4 min)
//   bind_channel()       ChannelBind (also installs the permission; refreshed every 9 min)
//   send()               ChannelData when a channel is bound to the peer, else Send
//   release()            Refresh with LIFETIME 0
//
// Results come out of poll_event(); over UDP every request is retransmitted per the
// RetransmitPolicy (over TCP it is sent once and times out after Ti), and a 438 Stale
// Nonce is retried once with the new NONCE. Bid-down protection (RFC 8489 §9.2.5): a
// 401/438 whose nonce cookie announces PASSWORD-ALGORITHMS without carrying them is not
// retried, other such responses and 400s without integrity are ignored, and once the
// server offered algorithms every request carries MESSAGE-INTEGRITY-SHA256.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "natsim/base/random.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_constants.hpp"
#include "natsim/traversal/stun_transactions.hpp"
#include "natsim/traversal/turn_wire.hpp"

namespace natsim::traversal::stun {
class Message;
}  // namespace natsim::traversal::stun

namespace natsim::traversal::turn {

// RFC 8656 §9: a permission lives 300 s; refresh it before that.
inline constexpr Duration kPermissionLifetime = minutes(5);
inline constexpr Duration kPermissionRefresh = minutes(4);
// RFC 8656 §12: a channel binding lives 600 s; refresh it before that.
inline constexpr Duration kChannelLifetime = minutes(10);
inline constexpr Duration kChannelRefresh = minutes(9);
// Refresh the allocation this long before it expires (half the lifetime when shorter).
inline constexpr Duration kAllocationRefreshMargin = seconds(60);

struct ClientConfig {
  Endpoint local;   // the client's socket (over TCP: the connection's local endpoint)
  Endpoint server;  // TURN server
  Transport transport = Transport::udp;
  std::string username, password;
  std::string software = "natsim";
  stun::RetransmitPolicy retransmit{};
  Duration lifetime = minutes(10);  // requested LIFETIME
  // RFC 8656 §7.1: EVEN-PORT asks for an even relayed port; with reserve_next its R bit
  // asks the server to reserve the next port too (implies even_port), and the success
  // response carries the RESERVATION-TOKEN for it.
  bool even_port = false;
  bool reserve_next = false;
  // RFC 8656 §7.1: claim a port another Allocate reserved (sent instead of EVEN-PORT).
  std::optional<std::uint64_t> reservation_token;
};

struct Allocated {
  Endpoint relayed;
  Endpoint mapped;
  Duration lifetime;
  std::optional<std::uint64_t> reservation_token;  // port relayed+1 reserved (§7.2)
};
struct Failed {
  std::uint16_t method;  // stun::method::allocate, refresh, create_permission, channel_bind
  std::uint16_t code;    // 0 = no answer: "timeout", or a local refusal ("no allocation")
  std::string reason;
};
struct PermissionCreated {
  IpAddress peer;
};
struct ChannelBound {
  Endpoint peer;
  std::uint16_t channel;
};
struct PeerData {
  Endpoint peer;
  std::vector<std::uint8_t> data;
  bool via_channel;
};
struct Released {};
using ClientEvent =
    std::variant<Allocated, Failed, PermissionCreated, ChannelBound, PeerData, Released>;

struct TurnClientCounters {
  std::uint64_t requests = 0;  // request transmissions that started a transaction
  std::uint64_t retransmissions = 0;
  std::uint64_t responses = 0;  // matched success or error responses
  std::uint64_t timeouts = 0;
  std::uint64_t unauthenticated = 0;  // 401 responses
  std::uint64_t stale_nonce = 0;      // 438 responses
  std::uint64_t error_responses = 0;  // other error responses (each a Failed event)
  std::uint64_t bad_integrity = 0;    // responses dropped: MESSAGE-INTEGRITY mismatch
  std::uint64_t bid_down = 0;         // cookie announces PASSWORD-ALGORITHMS, none there (§9.2.5)
  std::uint64_t unprotected_400 = 0;  // 400 without integrity, discarded (§9.2.5)
  std::uint64_t malformed = 0;        // not STUN/ChannelData, or missing attributes
  std::uint64_t unmatched = 0;        // responses to no transaction of ours
  std::uint64_t foreign = 0;          // datagrams not from the server
  std::uint64_t unknown_channel = 0;  // ChannelData on a channel we did not bind
  std::uint64_t no_permission = 0;    // Data indications from a peer without permission
  std::uint64_t allocation_refreshes = 0;  // automatic Refresh requests
  std::uint64_t permission_refreshes = 0;  // automatic CreatePermission requests
  std::uint64_t channel_refreshes = 0;     // automatic ChannelBind requests
  std::uint64_t send_indications = 0;      // data out as Send indications
  std::uint64_t channel_data_out = 0;      // data out as ChannelData
  std::uint64_t data_indications = 0;      // data in as Data indications
  std::uint64_t channel_data_in = 0;       // data in as ChannelData
  std::uint64_t bytes_out = 0;             // application bytes sent to peers
  std::uint64_t bytes_in = 0;              // application bytes received from peers
  std::uint64_t send_dropped = 0;          // send() without an allocation, or too large
  std::uint64_t connection_lost = 0;       // TCP: the connection to the server ended
};

class TurnClient {
 public:
  enum class State : std::uint8_t {
    idle,        // nothing yet (or released)
    allocating,  // Allocate in flight
    allocated,   // relayed address valid
    releasing,   // Refresh LIFETIME 0 in flight
    failed,      // the allocation failed or was lost; allocate() again to retry
  };

  TurnClient(std::uint64_t seed, ClientConfig config);

  void allocate(TimePoint now);
  void create_permission(TimePoint now, const IpAddress& peer);
  void bind_channel(TimePoint now, const Endpoint& peer);  // also installs the permission
  // ChannelData if a channel is bound for `peer`, else a Send indication.
  void send(TimePoint now, const Endpoint& peer, ByteView data);
  void release(TimePoint now);  // Refresh with LIFETIME 0

  // True when the datagram came from the server on this client's 5-tuple (a TURN
  // message or ChannelData, well-formed or not).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // TURN over TCP: bytes from the server's connection, and its end.
  void handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) { return out_.pop(out); }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<ClientEvent> poll_event();

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] bool allocated() const { return state_ == State::allocated; }
  [[nodiscard]] std::optional<Endpoint> relayed() const;
  [[nodiscard]] std::optional<Endpoint> mapped() const;
  // When the allocation expires unless refreshed (valid while allocated()).
  [[nodiscard]] TimePoint expires() const { return expires_; }
  [[nodiscard]] const std::string& realm() const { return realm_; }
  [[nodiscard]] const std::string& nonce() const { return nonce_; }
  // The algorithm of the long-term key in use (MD5 until a server offers SHA-256).
  [[nodiscard]] stun::PasswordAlgorithm password_algorithm() const { return algorithm_; }
  // Whether requests carry MESSAGE-INTEGRITY-SHA256 (for good, once the server sent
  // PASSWORD-ALGORITHMS, RFC 8489 §9.2.5) rather than MESSAGE-INTEGRITY.
  [[nodiscard]] bool integrity_sha256() const { return integrity_sha256_; }
  [[nodiscard]] bool has_permission(const IpAddress& peer) const;                  // installed
  [[nodiscard]] std::optional<std::uint16_t> channel(const Endpoint& peer) const;  // bound
  [[nodiscard]] std::size_t in_flight() const { return transactions_.size(); }
  [[nodiscard]] TurnClientCounters counters() const;
  [[nodiscard]] const ClientConfig& config() const { return config_; }

 private:
  enum class Purpose : std::uint8_t { allocate, refresh, release, permission, channel };
  // What a transaction is for; the transaction table keeps its bytes and timers.
  struct Request {
    Purpose purpose = Purpose::allocate;
    IpAddress peer_ip{};              // permission
    Endpoint peer{};                  // channel
    std::uint16_t channel = 0;        // channel
    bool announce = false;            // emit PermissionCreated on success
    bool authenticated = false;       // sent with credentials
    bool auth_retried = false;        // a 401 was already answered in this chain
    bool nonce_retried = false;       // a 438 was already answered in this chain
    bool integrity_violated = false;  // a response failed MESSAGE-INTEGRITY
    std::vector<std::uint8_t> key{};  // the integrity key it was sent with
  };
  struct Permission {
    TimePoint refresh_at{};
    bool installed = false;
    bool pending = false;  // a CreatePermission for it is in flight
  };
  struct Channel {
    std::uint16_t number = 0;
    TimePoint refresh_at{};
    bool bound = false;
    bool pending = false;
  };

  [[nodiscard]] static std::uint16_t method_of(Purpose p);
  // Builds the request (a fresh transaction ID, current credentials) and sends it.
  void start(TimePoint now, Request r);
  // The request's bytes (empty if they do not fit, a programming error); records in `r`
  // the credentials it carries.
  [[nodiscard]] std::vector<std::uint8_t> build(const stun::TransactionId& id, Request& r) const;
  // A buffer of at least `size` bytes for data frames, reused (no allocation per send).
  MutableByteView scratch(std::size_t size);
  void emit(ByteView bytes);
  void handle_message(TimePoint now, ByteView bytes);
  void on_response(TimePoint now, const stun::Message& m);
  void on_success(TimePoint now, const Request& t, const stun::Message& m);
  void on_failure(const Request& t, std::uint16_t code, std::string reason);
  bool learn_credentials(const stun::Message& m);
  void on_data_indication(const stun::Message& m);
  void on_channel_data(ByteView bytes);
  void request_permission(TimePoint now, const IpAddress& peer, bool announce);
  void request_channel(TimePoint now, const Endpoint& peer, std::uint16_t number);
  void reset_allocation();
  void fail_allocation(std::uint16_t method, std::uint16_t code, std::string reason);
  void push_peer_data(const Endpoint& peer, ByteView data, bool via_channel);

  Rng rng_;
  ClientConfig config_;
  State state_ = State::idle;
  // Long-term credentials (RFC 8489 §9.2).
  std::string realm_;
  std::string nonce_;
  std::vector<std::uint8_t> key_;  // empty until the first 401
  stun::PasswordAlgorithm algorithm_ = stun::PasswordAlgorithm::md5;
  std::vector<std::uint8_t> password_algorithms_;  // PASSWORD-ALGORITHMS value to echo
  bool integrity_sha256_ = false;                  // sticky, see integrity_sha256()
  // The allocation.
  Endpoint relayed_;
  Endpoint mapped_;
  Duration lifetime_{};
  TimePoint expires_{};
  std::optional<TimePoint> refresh_at_;  // nullopt while a Refresh is in flight
  std::map<IpAddress, Permission> permissions_;
  std::map<Endpoint, Channel> channels_;
  std::map<std::uint16_t, Endpoint> channel_peers_;
  std::uint16_t next_channel_ = 0x4000;  // RFC 8656 §12: 0x4000-0x4FFF

  stun::TransactionTable<Request> transactions_;
  StreamFramer framer_;  // TCP
  std::vector<std::uint8_t> scratch_;
  std::deque<ClientEvent> events_;
  TransmitQueue out_;
  TurnClientCounters counters_;
};

[[nodiscard]] std::string_view to_string(TurnClient::State s);

}  // namespace natsim::traversal::turn
