#pragma once
// RFC 5780 §4 NAT behaviour discovery against a server that supports RFC 5780 (two
// addresses, two ports): mapping behaviour (§4.3), filtering behaviour (§4.4),
// hairpinning (§4.5) and, optionally, the binding lifetime (§4.6). Where the network
// does not allow a conclusion the report says "undetermined" and why. Sans-I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/traversal/stun_client.hpp"

namespace natsim::traversal {

enum class MappingBehavior : std::uint8_t {
  undetermined,
  none,  // no translation: the mapped address is the local one
  endpoint_independent,
  address_dependent,
  address_and_port_dependent,
};
enum class FilteringBehavior : std::uint8_t {
  undetermined,
  endpoint_independent,
  address_dependent,
  address_and_port_dependent,
};
[[nodiscard]] std::string_view to_string(MappingBehavior m);
[[nodiscard]] std::string_view to_string(FilteringBehavior f);

struct DiscoveryOptions {
  Endpoint local;   // the socket to probe from
  Endpoint server;  // the RFC 5780 server's primary endpoint
  // Tests that may go unanswered by design (filtering) should fail fast: 500 ms RTO,
  // 4 requests, give up 2 s after the last (5.5 s per unanswered test).
  stun::RetransmitPolicy retransmit{milliseconds(500), 4, 4};
  bool hairpinning = true;
  // Binding lifetime discovery needs a second socket; it is a binary search over idle
  // times up to `lifetime_max`, to within `lifetime_precision`.
  std::optional<Endpoint> lifetime_local;
  Duration lifetime_max = minutes(10);
  Duration lifetime_precision = seconds(5);
  // Sockets for fresh flows: each lifetime trial refreshes from the next one, so every
  // trial measures a new flow's timer (what a keepalive must beat) and no trial inherits
  // state an earlier one left on the NAT. Empty: every trial reuses `local`.
  std::vector<Endpoint> lifetime_fresh_locals;
  std::string software = "natsim";  // empty: no SOFTWARE attribute
};

struct DiscoveryReport {
  Endpoint local;
  std::optional<Endpoint> mapped;
  std::optional<Endpoint> other_address;  // the server's alternate endpoint, if RFC 5780
  MappingBehavior mapping = MappingBehavior::undetermined;
  FilteringBehavior filtering = FilteringBehavior::undetermined;
  std::optional<bool> hairpinning;
  std::optional<Duration> binding_lifetime;  // idle time a mapping survived (lower bound)
  bool lifetime_at_least_max = false;
  // Set when every trial used a fresh flow: then binding_lifetime is a fresh flow's.
  bool lifetime_of_fresh_flow = false;
  // With fresh flows: a flow that had carried two-way traffic was checked again after an
  // idle time beyond the fresh-flow lifetime; true when it survived (the NAT promotes
  // established flows to a longer timer, as Linux conntrack does once a flow is assured).
  std::optional<bool> established_flow_outlived_fresh;
  std::vector<std::string> notes;  // why something is undetermined, in plain words
  Duration elapsed{0};
};

class NatDiscovery {
 public:
  NatDiscovery(std::uint64_t seed, DiscoveryOptions options);

  void start(TimePoint now);
  [[nodiscard]] bool done() const { return step_ == Step::done; }
  [[nodiscard]] const DiscoveryReport& report() const { return report_; }

  // True when the datagram was a response to one of discovery's tests (or, in the
  // hairpin test, discovery's own request coming back).
  bool handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                       ByteView bytes);
  void handle_timeout(TimePoint now);
  [[nodiscard]] std::optional<Transmit> poll_transmit(MutableByteView out) {
    return client_.poll_transmit(out);
  }
  [[nodiscard]] std::optional<TimePoint> poll_timeout() const;
  // The report, once, when discovery has finished.
  [[nodiscard]] std::optional<DiscoveryReport> poll_event();

 private:
  enum class Step : std::uint8_t {
    idle,
    test1,
    test1_bare,
    mapping2,
    mapping3,
    filtering2,
    filtering3,
    hairpin,
    lifetime_refresh,
    lifetime_wait,
    lifetime_check,
    promotion_refresh,
    promotion_wait,
    promotion_check,
    done
  };
  void on_result(TimePoint now, const stun::BindingResult& r);
  void test1_answered(TimePoint now, const stun::BindingResult& r);
  void send(TimePoint now, const Endpoint& local, const Endpoint& server,
            stun::RequestOptions options = {});
  void start_mapping(TimePoint now);
  void start_filtering(TimePoint now);
  void start_hairpin(TimePoint now);
  void start_lifetime(TimePoint now);
  void lifetime_trial(TimePoint now);
  void lifetime_found(TimePoint now);
  void check_mapping(TimePoint now);
  void finish(TimePoint now);
  void drain(TimePoint now);

  DiscoveryOptions options_;
  stun::StunClient client_;
  Step step_ = Step::idle;
  stun::TransactionId pending_{};
  DiscoveryReport report_;
  TimePoint started_;
  std::optional<Endpoint> mapped2_;
  // lifetime search state
  Duration lo_{0};
  Duration hi_{0};
  Duration trial_{0};
  std::optional<Endpoint> trial_mapped_;
  Endpoint trial_local_;
  std::size_t fresh_used_ = 0;
  std::string software_tried_;            // the SOFTWARE a first, unanswered test I carried
  std::optional<Endpoint> alive_mapped_;  // the mapping of the last flow that survived
  std::optional<Endpoint> first_trial_mapped_;
  bool mapping_changed_noted_ = false;
  std::optional<Duration> first_alive_;  // the first trial whose check was answered
  bool reused_after_alive_ = false;      // a later trial ran on that same flow
  std::optional<Endpoint> alive_local_;  // the last fresh flow that survived its wait
  TimePoint wait_until_;
  bool event_pending_ = false;
};

}  // namespace natsim::traversal
