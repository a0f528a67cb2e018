#pragma once
// An ICE agent (RFC 8445) for one data stream with one component over UDP: a sans-I/O
// machine of the ProtocolMachine shape. It gathers host, server-reflexive (a Binding to a
// STUN server, or the TURN server's XOR-MAPPED-ADDRESS) and relayed candidates (natsim's
// TurnClient), pairs them with the remote candidates the application hands it (trickle,
// RFC 8838, with end-of-candidates), runs paced connectivity checks with short-term
// credentials, resolves role conflicts, learns peer-reflexive candidates, nominates a
// pair (regular nomination, aggressive as an option) and then keeps consent (RFC 7675).
//
// It shares its sockets with its STUN and TURN clients: handle_datagram claims checks,
// their answers, the clients' traffic and application data from a paired remote, and
// hands back everything else. Signalling is the application's: it sends the local
// ufrag, pwd and candidates (LocalCandidate / GatheringDone events) to the other agent
// and calls set_remote() and add_remote_candidate() with what comes back.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "natsim/base/random.hpp"
#include "natsim/traversal/ice_candidate.hpp"
#include "natsim/traversal/ice_checklist.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/scratch_buffer.hpp"
#include "natsim/traversal/stun_client.hpp"
#include "natsim/traversal/stun_transactions.hpp"
#include "natsim/traversal/turn_client.hpp"

namespace natsim::traversal::stun {
class Message;
}  // namespace natsim::traversal::stun

namespace natsim::traversal::ice {

// RFC 8445 §19.2: the error code of a role conflict.
inline constexpr std::uint16_t kRoleConflict = 487;

struct AgentConfig {
  bool controlling = true;
  // The local sockets; each is a host candidate (one component, UDP).
  std::vector<Endpoint> host;
  std::optional<Endpoint> stun_server;  // server-reflexive candidates from each host socket
  // A relayed candidate: turn->local must be one of `host`.
  std::optional<turn::ClientConfig> turn;
  std::string ufrag, pwd;          // empty: drawn from the seed (RFC 8445 §5.3: 4 and 22 chars)
  Duration ta = milliseconds(50);  // RFC 8445 §14.2: pacing of checks
  bool aggressive_nomination = false;  // every check carries USE-CANDIDATE
  // Regular nomination (RFC 8445 §8.1.1): the controlling agent nominates its best valid
  // pair once no pair of higher priority may still succeed — one queued for a triggered
  // check, or In-Progress with its check out for less than nomination_rtt_multiple × the
  // round trip of the valid pair's check — and at most nomination_wait (4 Ta) after the
  // first valid pair. docs/ice.md explains the rule and its arithmetic.
  Duration nomination_wait = milliseconds(200);
  int nomination_rtt_multiple = 2;
  // A relayed valid pair is not nominated while a non-relay pair is still plausible: one
  // queued for a triggered check, or In-Progress until its first retransmission could have
  // been answered (its check's start + its RTO + a round trip: the best valid pair's,
  // at most prefer_direct_rtt). A direct path often opens only on the peer's
  // retransmission; without this the relay wins those. docs/ice.md has the cost.
  bool prefer_direct = true;
  Duration prefer_direct_rtt = milliseconds(200);
  // RFC 8445 §8.1.1 queues the USE-CANDIDATE check as a triggered check, paced by Ta; by
  // default it leaves at once (it opens no new NAT binding: the pair is already valid).
  bool pace_nomination = false;
  // RFC 8489 §6.2.1 defaults; with check_rto_from_checklist the initial RTO of a check is
  // RFC 8445 §14.3's MAX(rto, Ta × N × (Num-Waiting + Num-In-Progress)) instead.
  stun::RetransmitPolicy check_retransmit{};
  bool check_rto_from_checklist = true;
  stun::RetransmitPolicy gather_retransmit{};
  // RFC 7675 §5.1: a consent check every 5 s (±20%, from the seed); consent expires
  // 30 s after the last answer. Zero interval: no consent checks, Binding indication
  // keepalives every `keepalive` instead (RFC 8445 §11).
  Duration consent_interval = seconds(5);
  Duration consent_timeout = seconds(30);
  Duration keepalive = seconds(15);
  std::size_t max_pairs = Checklist::kDefaultMaxPairs;
  // Remote candidates kept (signalled and peer-reflexive): a peer that knows the password
  // and checks from ever new source addresses cannot grow the agent without bound.
  std::size_t max_remote_candidates = 100;
  // Candidate sources outside the agent (a port mapper): GatheringDone waits until each
  // has called external_source_done().
  int external_sources = 0;
  // turn_first: the first valid pair (in practice the relay, ready first when direct
  // paths open late) is nominated at once, checks go on, and a valid non-relay pair
  // found later is nominated again and replaces it. docs/ice.md: the approach and limits.
  bool relay_first = false;
};

enum class PathType : std::uint8_t { host, srflx, prflx, relay, mapped };
[[nodiscard]] std::string_view to_string(PathType p);

// Events.
struct LocalCandidate {  // a new local candidate, for trickling to the other agent
  Candidate candidate;
};
struct GatheringDone {
  std::vector<Candidate> candidates;
};
struct Selected {  // the pair data goes over (again after a role change or renomination)
  Candidate local;
  Candidate remote;
  PathType path = PathType::host;
};
struct Failed {
  std::string reason;
};
struct Data {  // bytes valid until the next handle_* call
  Endpoint from;
  ByteView bytes;
};
using Event = std::variant<LocalCandidate, GatheringDone, Selected, Failed, Data>;

struct AgentCounters {
  std::uint64_t checks_sent = 0;  // check transactions started (not retransmissions)
  std::uint64_t triggered_checks = 0;
  std::uint64_t requests_received = 0;  // Binding requests answered with success
  std::uint64_t bad_requests = 0;       // answered 400 or 401, or dropped
  std::uint64_t role_conflicts = 0;     // 487 sent or received, or role switched
  std::uint64_t prflx_remote = 0;       // peer-reflexive remote candidates learnt
  std::uint64_t remote_refused = 0;     // remote candidates over max_remote_candidates
  std::uint64_t prflx_local = 0;        // peer-reflexive local candidates learnt
  std::uint64_t responses = 0;          // matched success or error responses
  std::uint64_t bad_integrity = 0;      // responses dropped: MESSAGE-INTEGRITY
  std::uint64_t check_timeouts = 0;
  std::uint64_t consent_checks = 0;
  std::uint64_t keepalives = 0;
  std::uint64_t data_in = 0;
  std::uint64_t data_out = 0;
  std::uint64_t data_dropped = 0;  // send() with no selected pair, or too large
  std::uint64_t malformed = 0;     // STUN that failed to parse or FINGERPRINT
};

class Agent {
 public:
  enum class State : std::uint8_t { idle, checking, connected, failed };

  Agent(std::uint64_t seed, AgentConfig config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  [[nodiscard]] const std::string& ufrag() const { return ufrag_; }
  [[nodiscard]] const std::string& pwd() const { return pwd_; }
  [[nodiscard]] std::uint64_t tie_breaker() const { return tie_breaker_; }
  [[nodiscard]] bool controlling() const { return controlling_; }

  // Starts gathering: host candidates now, then server-reflexive and relayed ones.
  void gather(TimePoint now);
  // The other agent's credentials and candidates (more may trickle in afterwards).
  void set_remote(TimePoint now, std::string ufrag, std::string pwd,
                  const std::vector<Candidate>& candidates = {}, bool end_of_candidates = false);
  void add_remote_candidate(TimePoint now, const Candidate& c);
  void end_of_remote_candidates(TimePoint now);  // RFC 8838 §4.4
  // A local candidate gathered outside the agent (a port-mapped address, RFC 8445
  // §5.1.1.2) for the host socket at c.base; it pairs as that base, like srflx. Ignored
  // before gather() or without such a host candidate.
  void add_local_candidate(TimePoint now, const Candidate& c);
  // One of config.external_sources has nothing more to add.
  void external_source_done(TimePoint now);
  // Sends application data over the selected pair; false (and counted) without one.
  bool send(TimePoint now, ByteView data);
  void close();  // stops everything: no more transmits or timers

  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out);
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<Event> poll_event();

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const std::vector<Candidate>& local_candidates() const { return local_; }
  [[nodiscard]] const std::vector<Candidate>& remote_candidates() const { return remote_; }
  [[nodiscard]] const Checklist& checklist() const { return checklist_; }
  [[nodiscard]] std::optional<std::size_t> selected_pair() const { return selected_; }
  [[nodiscard]] bool gathering_done() const { return gathering_done_; }
  [[nodiscard]] TimePoint consent_expires() const { return consent_expires_; }
  [[nodiscard]] const AgentCounters& counters() const { return counters_; }

 private:
  enum class Kind : std::uint8_t { check, consent };
  struct Check {
    std::size_t pair = 0;
    Kind kind = Kind::check;
    bool use_candidate = false;
    bool controlling = true;  // the role the request claimed
  };

  // Gathering (ice_agent.cpp).
  void add_local(TimePoint now, const Candidate& c);
  void add_pair(TimePoint now, std::size_t local, std::size_t remote);
  void pair_local(TimePoint now, std::size_t local);
  void pair_remote(TimePoint now, std::size_t remote);
  void mark_unlikely();
  void request_permission(TimePoint now, const IpAddress& peer);
  void maybe_gathering_done(TimePoint now);
  void drain_clients(TimePoint now);
  void on_turn_event(TimePoint now, const turn::ClientEvent& e);
  // Checks (ice_checks.cpp).
  void start_checks_if_ready(TimePoint now);
  void run_checks(TimePoint now);
  void send_check(TimePoint now, std::size_t pair, Kind kind, bool use_candidate);
  bool handle_stun(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void on_request(TimePoint now, const Endpoint& local, const Endpoint& remote,
                  const stun::Message& m);
  void on_response(TimePoint now, const Endpoint& local, const Endpoint& remote,
                   const stun::Message& m);
  void respond_error(const Endpoint& local, const Endpoint& remote, const stun::Message& m,
                     std::uint16_t code, bool sign);
  void on_check_success(TimePoint now, std::size_t pair, const Check& c, const Endpoint& mapped);
  void on_check_failure(TimePoint now, std::size_t pair);
  void maybe_nominate(TimePoint now);
  [[nodiscard]] std::optional<TimePoint> nomination_deadline() const;
  void trigger_check(std::size_t pair);
  [[nodiscard]] Duration check_rto() const;
  void select(TimePoint now, std::size_t pair);
  void maybe_fail(TimePoint now);
  void fail(std::string reason);
  void switch_role(bool controlling);
  void consent_tick(TimePoint now);
  // Sending: from a base directly, or through the TURN client from the relayed address.
  void emit(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  // Sends what the transaction tables (and answers) queued in check_out_.
  void route_checks(TimePoint now);
  void push_data(const Endpoint& from, ByteView bytes);
  [[nodiscard]] bool is_relay_base(const Endpoint& e) const;
  [[nodiscard]] std::optional<std::size_t> local_by_base(const Endpoint& base) const;
  [[nodiscard]] std::optional<std::size_t> remote_by_address(const Endpoint& a) const;
  [[nodiscard]] PathType path_of(std::size_t pair) const;
  // Checks go on: nothing selected yet, or relay_first and the selection is relayed.
  [[nodiscard]] bool checking_goes_on() const;
  [[nodiscard]] Duration consent_jitter();

  Rng rng_;
  AgentConfig config_;
  std::string ufrag_, pwd_;
  std::uint64_t tie_breaker_ = 0;
  bool controlling_ = true;
  State state_ = State::idle;
  bool gathering_started_ = false;
  bool gathering_done_ = false;
  bool closed_ = false;
  int stun_pending_ = 0;  // srflx Binding transactions in flight
  int external_pending_ = 0;
  bool turn_pending_ = false;
  std::string gather_notes_;  // why a server gave no candidate (for a failure's reason)

  std::vector<Candidate> local_;
  std::vector<Candidate> remote_;
  std::string remote_ufrag_, remote_pwd_;
  std::string check_username_;  // "remote ufrag:local ufrag"
  bool remote_known_ = false;
  bool remote_end_ = false;
  std::uint32_t prflx_count_ = 0;
  // Sources of answers that made a check fail as non-symmetric (RFC 8445 §7.2.5.2.1), with
  // their generation: one more than the failed pair's remote candidate's. A remote
  // candidate learnt from such a source inherits it (remote_generation_, parallel to
  // remote_; signalled and other learnt candidates are 0). See on_request.
  struct Stray {
    Endpoint source;
    std::uint8_t generation = 0;
  };
  std::vector<Stray> stray_sources_;
  std::vector<std::uint8_t> remote_generation_;
  Checklist checklist_;
  bool checks_started_ = false;
  TimePoint next_check_{};  // Ta pacing: the earliest the next check may leave
  std::optional<TimePoint> first_valid_at_;
  bool wants_tick_ = false;                // a check may be due at next_check_
  std::optional<std::size_t> nominating_;  // pair nominated (its USE-CANDIDATE check)
  bool nominate_due_ = false;              // ... not sent yet
  std::optional<std::size_t> selected_;
  TimePoint consent_expires_{};
  TimePoint next_consent_{};
  TimePoint last_sent_{};  // on the selected pair (keepalives)

  std::unique_ptr<stun::StunClient> stun_;
  std::unique_ptr<turn::TurnClient> turn_;
  std::vector<IpAddress> permissions_;  // TURN permissions asked for
  stun::TransactionTable<Check> checks_;
  stun::TransactionTable<Check> consent_;
  TransmitQueue check_out_;  // what the tables send; routed by route_checks()
  TransmitQueue out_;
  ScratchBuffer scratch_;
  std::deque<Event> events_;
  std::vector<std::vector<std::uint8_t>> data_slots_;  // bytes of queued Data events
  std::size_t data_used_ = 0;
  std::size_t data_pending_ = 0;
  AgentCounters counters_;
};

}  // namespace natsim::traversal::ice
