#pragma once
// The connect strategy: one peer's side of "get these two peers connected". It wraps an
// ice::Agent and is itself a sans-I/O machine of the ProtocolMachine shape, so the
// simulator and real sockets drive it alike. It gathers, hands its description and
// candidates to the application's signalling (full, or trickled per RFC 8838), runs ICE
// (with TURN relayed candidates as the fallback, or relayed candidates only), and keeps a
// result: the outcome, the path, the selected pair and when each step happened. After
// consent is lost (RFC 7675) it restarts ICE (RFC 8445 §9) with a new agent: new ufrag
// and password, new gathering, new checks.
//
// Port mapping (off by default): at start() the connector asks the gateway (PCP or NAT-PMP,
// traversal/port_mapper.hpp) to map its host socket's port, and offers the external
// address as a `mapped` candidate (RFC 8445 §5.1.1.2), unless the gateway is itself
// behind a NAT. Gathering waits for the answer at most port_mapping_wait. The mapping is
// refreshed at half its lifetime while the connector runs and deleted by close().
//
// Offer/answer: the offering side gathers at start() and sends its description; the
// answering side starts gathering when a description of a newer generation arrives (the
// first offer, or a restart) and answers it. Each restart is a new generation.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "natsim/traversal/ice_agent.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::traversal::connect {

// turn_first: the first valid pair (the relay, when direct paths open late) is selected at
// once and a direct pair found later replaces it (ice::AgentConfig::relay_first).
enum class Policy : std::uint8_t { all, relay_only, turn_first };
// `mapped`: a port-mapped candidate (PCP, NAT-PMP) is one end of the selected pair.
enum class Path : std::uint8_t { host, srflx, prflx, mapped, relay };
// Which protocol asks the gateway for a mapping; automatic: PCP, then NAT-PMP (RFC 6887 §9).
// upnp: UPnP IGD only (SSDP, then SOAP over TCP to the gateway).
enum class PortMapping : std::uint8_t { off, automatic, pcp, natpmp, upnp };
enum class Outcome : std::uint8_t { pending, connected, failed, timeout };
[[nodiscard]] std::string_view to_string(Policy p);
[[nodiscard]] std::string_view to_string(Path p);
[[nodiscard]] std::string_view to_string(Outcome o);
[[nodiscard]] std::string_view to_string(PortMapping m);

struct Config {
  bool offerer = true;  // sends the offer, and is the controlling agent
  std::vector<Endpoint> host;
  std::optional<Endpoint> stun_server;
  std::optional<turn::ClientConfig> turn;  // turn->local must be one of `host`
  Policy policy = Policy::all;
  bool trickle = true;
  bool aggressive_nomination = false;
  Duration ta = milliseconds(50);
  // No selected pair this long after start(): the outcome is `timeout`.
  Duration timeout = seconds(60);
  bool restart = true;  // restart ICE after consent is lost
  // Restart once the selected pair's consent checks have gone unanswered this long,
  // instead of waiting for RFC 7675 §5.1's 30 s expiry (browsers report "disconnected"
  // after a few seconds and applications restart then). Zero: wait for the expiry. Must
  // exceed the longest gap between two consent checks (5 s + 20%) plus a round trip.
  Duration restart_after_silence = Duration::zero();
  PortMapping port_mapping = PortMapping::off;
  // With port_mapping on: the protocols in the order tried (empty: as port_mapping says;
  // automatic is PCP, then NAT-PMP), and whether the gateway is probed with all of them
  // at once (PortMapperConfig::parallel).
  std::vector<MappingProtocol> port_mapping_protocols;
  bool port_mapping_parallel = false;
  std::optional<Endpoint> gateway;  // its PCP / NAT-PMP server (port 5351); needed to map
  // Gathering goes on without a mapping when the gateway has not answered by then: a LAN
  // round trip is milliseconds, and PCP's own retransmissions start at 3 s (RFC 6887 §8.1.1).
  Duration port_mapping_wait = milliseconds(500);
  std::uint32_t port_mapping_lifetime = 7200;  // seconds asked for
};

// Signalling messages, carried by the application between the two sides. `generation`
// counts ICE restarts: 1 for the first offer.
struct Description {
  std::uint32_t generation = 0;
  std::string ufrag, pwd;
  std::vector<ice::Candidate> candidates;
  bool end_of_candidates = false;
};
struct TrickledCandidate {
  std::uint32_t generation = 0;
  ice::Candidate candidate;
};
struct EndOfCandidates {  // RFC 8838 §4.4
  std::uint32_t generation = 0;
};
using Signal = std::variant<Description, TrickledCandidate, EndOfCandidates>;

// Times from start(), each recorded the first time it happens in the first generation.
struct Breakdown {
  std::optional<Duration> gathering;             // GatheringDone
  std::optional<Duration> description_sent;      // offer (offerer) or answer
  std::optional<Duration> description_received;  // answer (offerer) or offer
  std::optional<Duration> first_check;           // the first connectivity check left
  std::optional<Duration> first_success;         // the first valid pair
  std::optional<Duration> selected;              // Selected: the nominated pair
  std::optional<Duration> first_data;            // the first application datagram in
};

struct Result {
  Outcome outcome = Outcome::pending;
  std::string reason;  // failed or timeout: why
  std::optional<Path> path;
  std::optional<ice::Candidate> local, remote;  // the selected pair (latest)
  // turn_first: the first selection's path, and when (from start()) a direct pair
  // replaced the relayed one in the first generation.
  std::optional<Path> first_path;
  std::optional<Duration> upgraded;
  Breakdown times;
  std::optional<Duration> consent_lost;  // from start(): the first consent failure
  std::uint32_t restarts = 0;
  std::optional<Duration> reconnected;  // from start(): Selected after the latest restart
  std::uint64_t signals_sent = 0;
  // Port mapping: the external address offered, or why none was ("" when off).
  std::optional<Endpoint> mapped;
  std::string port_mapping;
  std::uint32_t mapping_refreshes = 0;
  bool mapping_deleted = false;
};

// Events.
struct SendSignal {  // deliver to the other side's handle_signal()
  Signal signal;
};
struct Connected {  // a pair is selected (again after a restart or a renomination)
  Path path = Path::host;
  ice::Candidate local, remote;
  std::uint32_t generation = 0;
};
struct ConsentLost {
  std::string reason;
};
struct Failed {  // the outcome is failed or timeout
  std::string reason;
};
struct Data {
  Endpoint from;
  std::vector<std::uint8_t> bytes;
};
using Event = std::variant<SendSignal, Connected, ConsentLost, Failed, Data>;

class Connector {
 public:
  Connector(std::uint64_t seed, Config config);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // The connect starts now: the offerer gathers and offers, the answerer waits.
  void start(TimePoint now);
  void handle_signal(TimePoint now, const Signal& s);
  // Application data over the selected pair; false without one.
  bool send(TimePoint now, ByteView data);
  // Stops; a granted port mapping is deleted (its request leaves from poll_transmit).
  void close();

  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  // The port mapper's UPnP HTTP connections.
  void handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote, ByteView bytes);
  void handle_stream_closed(TimePoint now, const Endpoint& local, const Endpoint& remote);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out);
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<Event> poll_event();

  [[nodiscard]] const Result& result() const { return result_; }
  [[nodiscard]] std::uint32_t generation() const { return generation_; }
  // The current generation's agent (null before the answerer's first offer).
  [[nodiscard]] const ice::Agent* agent() const { return agent_.get(); }

 private:
  void begin(TimePoint now, std::uint32_t generation);  // a new agent, gathering
  void describe(TimePoint now);                         // sends the local description
  void apply_remote(TimePoint now, const Description& d);
  void after_input(TimePoint now);  // drains the agent, records times
  void on_agent_event(TimePoint now, const ice::Event& e);
  void lose_consent(TimePoint now, const std::string& reason);
  // When the selected pair has been silent for restart_after_silence; nullopt: never.
  [[nodiscard]] std::optional<TimePoint> silence_deadline() const;
  [[nodiscard]] bool signalled(const ice::Candidate& c) const;
  [[nodiscard]] Duration since_start(TimePoint now) const { return now - started_; }
  // Port mapping (connect_mapping.cpp).
  enum class MapState : std::uint8_t { none, pending, ready, given_up };
  void start_mapping(TimePoint now);
  void drain_mapper(TimePoint now);
  void on_mapper_event(TimePoint now, const PortMapperEvent& e);
  void give_up_mapping(TimePoint now, std::string why);
  void offer_mapping(TimePoint now);  // to the current agent, once per generation

  std::uint64_t seed_;
  Config config_;
  TimePoint started_{};
  bool running_ = false;
  bool closed_ = false;
  std::unique_ptr<ice::Agent> agent_;
  std::uint32_t generation_ = 0;  // 0: not begun
  Duration consent_timeout_{};    // the agents' (RFC 7675 §5.1)
  bool described_ = false;        // the local description of this generation left
  bool gathered_ = false;
  bool remote_applied_ = false;
  bool selected_ = false;  // in this generation
  std::vector<ice::Candidate> pending_local_;
  std::vector<ice::Candidate> early_remote_;  // trickled before the description
  bool early_end_ = false;
  Result result_;
  std::deque<Event> events_;
  TimePoint last_now_{};  // the latest input's time: close() has none of its own
  std::unique_ptr<PortMapper> mapper_;
  bool mapper_upnp_ = false;  // UPnP is among its protocols: SSDP answers are its
  std::size_t mapping_id_ = 0;
  MapState map_state_ = MapState::none;
  TimePoint map_deadline_{};
  std::optional<ice::Candidate> mapped_candidate_;
  bool agent_waits_mapping_ = false;  // the agent holds GatheringDone for it
};

}  // namespace natsim::traversal::connect
