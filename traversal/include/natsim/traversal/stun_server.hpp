#pragma once
// A STUN Binding server (RFC 8489 §6.3) with RFC 5780 NAT behaviour discovery support:
// given an alternate address and port it answers on four endpoints and honours
// CHANGE-REQUEST, RESPONSE-PORT and PADDING, and reports OTHER-ADDRESS and
// RESPONSE-ORIGIN. RFC 3489 ("classic") requests get classic answers. Sans-I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/stun_constants.hpp"

namespace natsim::traversal::stun {

struct ServerConfig {
  Endpoint primary;                             // A1:P1
  std::optional<IpAddress> alternate_address;   // A2 (RFC 5780 mode needs both)
  std::optional<std::uint16_t> alternate_port;  // P2
  std::string software = "natsim";
  // Short-term credentials (RFC 8489 §9.1). Unset: requests need no authentication.
  std::optional<std::string> username;
  std::string password;
};

struct ServerCounters {
  std::uint64_t requests = 0;
  std::uint64_t responses = 0;        // success responses sent
  std::uint64_t error_responses = 0;  // 400/401/420 sent
  std::uint64_t classic = 0;          // RFC 3489 requests answered
  std::uint64_t indications = 0;
  std::uint64_t dropped_malformed = 0;        // not STUN or bad framing: silent
  std::uint64_t dropped_bad_fingerprint = 0;  // silent (RFC 8489 §7.3)
  std::uint64_t dropped_other = 0;            // responses, unsendable answers
};

class StunServer {
 public:
  explicit StunServer(ServerConfig config);

  [[nodiscard]] bool rfc5780() const {
    return config_.alternate_address.has_value() && config_.alternate_port.has_value();
  }
  // The endpoints to listen on: 1, or 4 in RFC 5780 mode.
  [[nodiscard]] std::vector<Endpoint> local_endpoints() const;
  [[nodiscard]] std::optional<Endpoint> other_address() const;

  // True when the datagram was a STUN request or indication for this server (answered,
  // even with an error); false when it was not STUN or not for a server (a response).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  void handle_timeout(TimePoint) {}
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) { return out_.pop(out); }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const { return std::nullopt; }
  // The server has no events for an application: its results are the responses.
  [[nodiscard]] std::optional<int> poll_event() { return std::nullopt; }

  [[nodiscard]] const ServerCounters& counters() const { return counters_; }

 private:
  bool send_error(const Endpoint& local, const Endpoint& remote, const class Message& request,
                  std::uint16_t code, const std::vector<std::uint16_t>& unknown = {});

  ServerConfig config_;
  TransmitQueue out_;
  std::vector<std::uint8_t> response_;  // responses are built here (reused, not per request)
  ServerCounters counters_;
};

}  // namespace natsim::traversal::stun
