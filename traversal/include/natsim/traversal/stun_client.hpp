#pragma once
// STUN client transactions (RFC 8489 §6.2.1, §7.2.1): Binding requests over UDP with
// retransmission, matched to their responses by transaction ID. A sans-I/O machine.
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "natsim/base/random.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/scratch_buffer.hpp"
#include "natsim/traversal/stun_constants.hpp"
#include "natsim/traversal/stun_transactions.hpp"

namespace natsim::traversal::stun {

struct RequestOptions {
  std::optional<std::pair<bool, bool>> change_request;  // {change IP, change port}
  std::optional<std::uint16_t> response_port;           // RFC 5780 §7.5
  std::size_t padding = 0;                              // bytes of PADDING
  std::string username;                                 // short-term credential
  std::vector<std::uint8_t> integrity_key;              // empty: no MESSAGE-INTEGRITY
  std::string software;                                 // empty: no SOFTWARE
  bool fingerprint = true;
  bool classic = false;  // an RFC 3489 request (no magic cookie)
};

struct BindingResult {
  enum class Outcome : std::uint8_t { success, error, timeout };
  TransactionId transaction;
  Outcome outcome = Outcome::timeout;
  Endpoint local;                           // where the request was sent from
  Endpoint server;                          // where it was sent to
  Endpoint from;                            // where the response came from
  std::optional<Endpoint> mapped;           // XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS)
  std::optional<Endpoint> other_address;    // OTHER-ADDRESS or CHANGED-ADDRESS
  std::optional<Endpoint> response_origin;  // RESPONSE-ORIGIN or SOURCE-ADDRESS
  std::optional<std::uint16_t> error_code;
  Duration rtt{0};        // from the last transmission to the response
  int transmissions = 0;  // 0: the request could not be encoded (outcome error)
};

struct ClientCounters {
  std::uint64_t requests = 0;  // transactions started
  std::uint64_t retransmissions = 0;
  std::uint64_t responses = 0;  // matched
  std::uint64_t timeouts = 0;
  std::uint64_t malformed = 0;      // datagrams that are not STUN
  std::uint64_t unmatched = 0;      // STUN but no such transaction
  std::uint64_t bad_integrity = 0;  // responses that failed MESSAGE-INTEGRITY
  std::uint64_t unsendable = 0;     // requests too large to encode (reported as errors)
};

class StunClient {
 public:
  explicit StunClient(std::uint64_t seed, RetransmitPolicy policy = {});

  // Starts a Binding transaction; returns its transaction ID.
  TransactionId send_binding(TimePoint now, const Endpoint& local, const Endpoint& server,
                             const RequestOptions& options = {});
  // Sends a Binding indication (RFC 8489 §6.2: no response, e.g. a keepalive).
  void send_indication(const Endpoint& local, const Endpoint& server);
  bool cancel(const TransactionId& id);
  [[nodiscard]] std::size_t in_flight() const { return transactions_.size(); }

  // True when the datagram was a response to one of this client's transactions.
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) { return out_.pop(out); }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  [[nodiscard]] std::optional<BindingResult> poll_event();

  [[nodiscard]] ClientCounters counters() const;
  [[nodiscard]] bool owns(const TransactionId& id) const;

 private:
  struct Context {
    std::vector<std::uint8_t> integrity_key;  // checks the response when not empty
  };
  void fail_unsendable(const TransactionId& id, const Endpoint& local, const Endpoint& server);

  Rng rng_;
  TransactionTable<Context> transactions_;
  ScratchBuffer scratch_;  // requests are built here (a STUN message's maximum)
  std::deque<BindingResult> events_;
  TransmitQueue out_;
  ClientCounters counters_;
};

}  // namespace natsim::traversal::stun
