#pragma once
// The translation state of one NAT for one address family: mappings, their filtering
// permissions and TCP connection states, external port allocation, address pooling,
// caps and expiry. It knows nothing of nodes or links; NatGateway drives it per packet.
#include <array>
#include <boost/container/small_vector.hpp>
#include <boost/container/static_vector.hpp>
#include <boost/system/result.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "natsim/base/endpoint.hpp"
#include "natsim/base/time.hpp"
#include "natsim/nat_models/nat_behavior.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/random.hpp"

namespace natsim::nat {

using sim::IpProto;

// Why the NAT refused a packet (each also counts as a sim::DropReason at the gateway).
enum class NatDrop : std::uint8_t {
  no_mapping,        // inbound with no mapping for its destination (or TCP non-SYN outbound)
  expired,           // the mapping existed but its timer ran out
  filtered,          // the mapping exists but the filtering behaviour refuses this source
  exhausted,         // no external port, or a mapping cap was reached
  hairpin_disabled,  // an internal host addressed an external endpoint of this NAT
  kCount
};
inline constexpr std::size_t kNatDropCount = static_cast<std::size_t>(NatDrop::kCount);
[[nodiscard]] std::string_view to_string(NatDrop d);
// Lets result<T, NatDrop>::value() throw (tests and tools; the packet path never calls it).
[[noreturn]] void throw_exception_from_error(NatDrop d, const boost::source_location& loc);

struct NatCounters {
  std::uint64_t mappings_mapped = 0;    // explicit mappings created (PCP, NAT-PMP, ...)
  std::uint64_t mappings_unmapped = 0;  // explicit mappings deleted by their protocol
  std::uint64_t outbound = 0;           // packets translated inside -> outside
  std::uint64_t inbound = 0;            // packets translated outside -> inside
  std::uint64_t hairpinned = 0;
  std::uint64_t mappings_created = 0;
  std::uint64_t mappings_expired = 0;
  std::array<std::uint64_t, kNatDropCount> dropped{};
  [[nodiscard]] std::uint64_t drops(NatDrop d) const {
    return dropped[static_cast<std::size_t>(d)];
  }
};

// RFC 5382 §5: connection tracking is coarse on purpose: a connection is established
// once a SYN has passed in each direction, and transitory before that and after a
// FIN or RST.
enum class TcpState : std::uint8_t { none, syn_out, syn_in, established, closing };

// Who made a mapping: traffic crossing the NAT, or a port-mapping protocol asking for it.
enum class MappingOwner : std::uint8_t { traffic, pcp, natpmp, upnp };
[[nodiscard]] std::string_view to_string(MappingOwner o);

// A remote peer an explicit mapping admits (RFC 6887 §13.3 FILTER): the peer's address
// within a prefix, and its port.
struct RemoteFilter {
  IpAddress address;
  std::uint8_t prefix_length = 0;  // bits of `address` that count; 0: any address
  std::uint16_t port = 0;          // 0: any port
  [[nodiscard]] bool admits(const Endpoint& remote) const {
    if (port != 0 && remote.port != port) return false;
    if (prefix_length == 0) return true;
    return remote.address.family() == address.family() &&
           remote.address.masked(prefix_length) == address.masked(prefix_length);
  }
  bool operator==(const RemoteFilter&) const = default;
};
// Filters one explicit mapping may hold (RFC 6887 §13.3 leaves the number to the server;
// PCP's wire codec carries as many).
inline constexpr std::size_t kMaxRemoteFilters = 8;

// A request for an explicit mapping (RFC 6887 §11, RFC 6886 §3.3): endpoint-independent
// in mapping and filtering whatever the NAT's own behaviour, alive for `lifetime`.
struct MapRequest {
  IpProto proto = IpProto::udp;
  Endpoint internal;
  std::uint16_t suggested_port = 0;  // 0: the NAT's own port assignment
  bool require_suggested = false;    // fail rather than assign another port
  Duration lifetime{};
  MappingOwner owner = MappingOwner::pcp;
  std::uint32_t quota = 0;  // explicit mappings one internal address may hold (0: none)
  // RFC 6887 §13.3: when not empty, inbound is admitted only from these remotes (and
  // from remotes the internal endpoint sent to); each map() replaces the list, so a
  // request without filters clears them.
  std::span<const RemoteFilter> filters;
};
enum class MapError : std::uint8_t {
  exhausted,         // no free external port, or a mapping cap was reached
  quota,             // the internal address already holds `quota` explicit mappings
  unavailable,       // the suggested port is taken and require_suggested was set
  not_owner,         // another protocol owns the mapping of this internal endpoint
  too_many_filters,  // more than kMaxRemoteFilters filters
};
struct Mapped {
  Endpoint external;
  TimePoint expires;
  bool created = false;  // false: an existing mapping was refreshed or taken over
};

struct MappingInfo {
  MappingOwner owner = MappingOwner::traffic;
  IpProto proto = IpProto::udp;
  Endpoint internal;
  Endpoint external;
  std::optional<Endpoint> remote;  // ADM: port 0; APDM: full endpoint; EIM: none
  TimePoint expires;
  std::vector<Endpoint> permitted;    // remotes with a live filtering permission
  std::vector<RemoteFilter> filters;  // an explicit mapping's FILTER list (empty: anyone)
};

class NatTable {
 public:
  // `pool` is the external addresses (empty in firewall mode, where external = internal).
  NatTable(const NatBehavior& behavior, std::vector<IpAddress> pool, bool translate, sim::Rng rng);

  using Outcome = boost::system::result<Endpoint, NatDrop>;

  // A packet from `internal` to `remote`: the external endpoint to send it from, creating
  // or refreshing the mapping and recording the permission for `remote`.
  Outcome outbound(TimePoint now, IpProto proto, const Endpoint& internal, const Endpoint& remote,
                   std::uint8_t tcp_flags = 0);
  // A packet from `remote` to `external`: the internal endpoint to deliver it to.
  Outcome inbound(TimePoint now, IpProto proto, const Endpoint& remote, const Endpoint& external,
                  std::uint8_t tcp_flags = 0);

  // Creates or refreshes the explicit mapping of `r.internal`; an existing mapping made
  // by traffic is taken over and keeps its external endpoint.
  boost::system::result<Mapped, MapError> map(TimePoint now, const MapRequest& r);
  // Deletes the explicit mapping of `internal` if `owner` made it.
  bool unmap(TimePoint now, IpProto proto, const Endpoint& internal, MappingOwner owner);
  // The live explicit mapping of `internal`, if any.
  [[nodiscard]] std::optional<MappingInfo> explicit_mapping(TimePoint now, IpProto proto,
                                                            const Endpoint& internal) const;

  // When the live mapping owning `external` expires (no allocation; for PCP PEER).
  [[nodiscard]] std::optional<TimePoint> expiry(TimePoint now, IpProto proto,
                                                const Endpoint& external) const;

  [[nodiscard]] bool is_external(const IpAddress& address) const;
  // Whether a mapping (live or not yet collected) owns this external endpoint.
  [[nodiscard]] bool maps(IpProto proto, const Endpoint& external) const {
    return in_.contains(InKey{external, proto}) ||
           (ct_ && ct_ports_.contains(InKey{external, proto}));
  }
  // With the `conntrack` knob: whether an unreplied entry for a packet from `remote` to
  // the NAT's own `external` endpoint (no flow matched it) is live; it blocks that port
  // towards `remote` (nf_nat_used_tuple).
  [[nodiscard]] bool blocks(TimePoint now, IpProto proto, const Endpoint& external,
                            const Endpoint& remote) const;
  // RFC 5508 §4.2: the internal endpoint of the live mapping (or flow) through which
  // `external` sent to `remote`, for translating an ICMP error about that datagram back
  // in. A lookup only: nothing is created or refreshed.
  [[nodiscard]] std::optional<Endpoint> internal_for(TimePoint now, IpProto proto,
                                                     const Endpoint& external,
                                                     const Endpoint& remote) const;
  // With the `conntrack` knob: the flow's state, for tests and the fidelity lab.
  struct FlowState {
    TimePoint expires;
    bool seen_reply = false;
    bool assured = false;
  };
  [[nodiscard]] std::optional<FlowState> flow(TimePoint now, IpProto proto,
                                              const Endpoint& internal,
                                              const Endpoint& remote) const;
  [[nodiscard]] const std::vector<IpAddress>& pool() const { return pool_; }
  [[nodiscard]] bool translates() const { return translate_; }
  void set_pool(std::vector<IpAddress> pool);  // flushes
  void flush();
  // A reboot that keeps the explicit mappings (port forwards kept in NVRAM): the mappings
  // traffic made and every connection's state are dropped; explicit mappings keep their
  // external endpoint, lifetime and FILTER list.
  void flush_keeping_explicit();

  [[nodiscard]] std::size_t size() const { return live_; }
  [[nodiscard]] std::vector<MappingInfo> mappings(TimePoint now) const;
  [[nodiscard]] const NatCounters& counters() const { return counters_; }
  [[nodiscard]] NatCounters& counters() { return counters_; }

 private:
  struct Permission {
    Endpoint remote;
    TimePoint expires;
    TcpState tcp = TcpState::none;
  };
  struct Entry {
    Endpoint internal;
    Endpoint external;
    Endpoint remote_key;
    TimePoint expires;
    // Most mappings talk to one or two remotes: keep those inside the entry (one cache
    // line fewer per packet in large tables).
    boost::container::small_vector<Permission, 2> permissions;
    // End of an explicit mapping's lifetime; for a conntrack entry (never explicit), the
    // time of its first packet (kept in one field so that Entry does not grow).
    TimePoint explicit_until{};
    TimePoint created{};  // conntrack: the flow's first packet
    IpProto proto = IpProto::udp;
    MappingOwner owner = MappingOwner::traffic;
    std::uint32_t generation = 0;
    bool live = false;
    bool filtered = false;  // an explicit mapping with a FILTER list in filters_
    // conntrack entries (behavior.conntrack): keyed by 5-tuple in ct_out_/ct_reply_.
    bool ct = false;
    bool local = false;       // an inbound packet's entry towards the NAT itself
    bool seen_reply = false;  // IPS_SEEN_REPLY
    bool assured = false;     // IPS_ASSURED: on the stream timer
  };
  // A conntrack tuple seen from the NAT: (internal, remote) outbound, (external, remote)
  // for replies.
  struct CtKey {
    Endpoint local;
    Endpoint remote;
    IpProto proto;
    bool operator==(const CtKey&) const = default;
  };
  struct OutKey {
    Endpoint internal;
    Endpoint remote_key;
    IpProto proto;
    bool operator==(const OutKey&) const = default;
  };
  struct InKey {
    Endpoint external;
    IpProto proto;
    bool operator==(const InKey&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const OutKey& k) const noexcept {
      return k.internal.hash() ^ (k.remote_key.hash() * 3) ^ static_cast<std::size_t>(k.proto);
    }
    std::size_t operator()(const InKey& k) const noexcept {
      return k.external.hash() ^ static_cast<std::size_t>(k.proto);
    }
    std::size_t operator()(const CtKey& k) const noexcept {
      return k.local.hash() ^ (k.remote.hash() * 3) ^ static_cast<std::size_t>(k.proto);
    }
  };
  struct Subscriber {
    std::uint32_t pool_index = 0;
    std::uint32_t mappings = 0;
    std::uint32_t explicit_mappings = 0;
    std::optional<std::uint32_t> block;  // CGN port block on its external address
  };
  struct Expiry {
    std::int64_t at;
    std::uint32_t id;
    std::uint32_t generation;
  };

  [[nodiscard]] Endpoint remote_key(const Endpoint& remote) const;
  [[nodiscard]] Duration timeout(IpProto proto, TcpState state) const;
  // `ct`: a conntrack flow towards `key` (the full remote endpoint).
  boost::system::result<std::uint32_t, NatDrop> create(TimePoint now, IpProto proto,
                                                       const Endpoint& internal,
                                                       const Endpoint& key,
                                                       std::uint16_t prefer = 0, bool ct = false);
  std::optional<std::uint16_t> allocate_port(IpProto proto, const IpAddress& external,
                                             std::uint16_t internal_port, std::uint32_t first,
                                             std::uint32_t last, std::uint16_t prefer);
  // get_unique_tuple for a conntrack flow from `internal_port` to `remote`.
  std::optional<std::uint16_t> allocate_ct_port(IpProto proto, const IpAddress& external,
                                                std::uint16_t internal_port,
                                                const Endpoint& remote);
  [[nodiscard]] bool ct_taken(IpProto proto, const Endpoint& external,
                              const Endpoint& remote) const;
  Outcome ct_outbound(TimePoint now, IpProto proto, const Endpoint& internal,
                      const Endpoint& remote);
  Outcome ct_inbound(TimePoint now, IpProto proto, const Endpoint& remote,
                     const Endpoint& external);
  // nf_conntrack_udp_packet: the timer a packet of the flow sets.
  void ct_refresh(Entry& e, TimePoint now, bool reply);
  void ct_create_local(TimePoint now, IpProto proto, const Endpoint& remote,
                       const Endpoint& external);
  // The explicit mapping id of `internal` (live or not yet collected), if any.
  [[nodiscard]] std::optional<std::uint32_t> find_explicit(IpProto proto,
                                                           const Endpoint& internal) const;
  void set_expiry(Entry& e, TimePoint expires);
  // A slot for a new entry (a freed one first) with the fields every entry sets, and its
  // place in the expiry heap.
  std::uint32_t new_entry(TimePoint now, IpProto proto, const Endpoint& internal,
                          const Endpoint& external, const Endpoint& remote_key);
  void remove(std::uint32_t id);
  void expire(TimePoint now);
  // Records that `p` was seen at `now` (outbound or admitted inbound) and updates the
  // mapping's expiry from its permissions.
  void touch(Entry& e, Permission& p, TimePoint now, bool outbound, std::uint8_t tcp_flags);
  Permission* find_permission(Entry& e, const Endpoint& remote, TimePoint now);
  void set_filters(std::uint32_t id, std::span<const RemoteFilter> filters);

  NatBehavior behavior_;
  std::vector<IpAddress> pool_;
  bool translate_;
  sim::Rng rng_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
  std::size_t explicit_live_ = 0;  // outbound looks for explicit mappings only when > 0
  boost::unordered_flat_map<OutKey, std::uint32_t, KeyHash> out_;
  boost::unordered_flat_map<InKey, std::uint32_t, KeyHash> in_;
  boost::unordered_flat_map<IpAddress, Subscriber, std::hash<IpAddress>> subscribers_;
  std::vector<std::vector<bool>> blocks_used_;  // per pool address
  std::vector<Expiry> expiries_;                // min-heap on `at`
  // FILTER lists of the explicit mappings that have one, by entry id (kept out of Entry:
  // few mappings have one).
  boost::unordered_flat_map<std::uint32_t,
                            boost::container::static_vector<RemoteFilter, kMaxRemoteFilters>>
      filters_;
  // conntrack mode (UDP on a translating table with behavior.conntrack)
  bool ct_ = false;
  boost::unordered_flat_map<CtKey, std::uint32_t, KeyHash> ct_out_;
  boost::unordered_flat_map<CtKey, std::uint32_t, KeyHash> ct_reply_;
  boost::unordered_flat_map<InKey, std::uint32_t, KeyHash> ct_ports_;  // flows per external
  std::uint32_t next_pool_ = 0;
  std::uint32_t next_port_ = 0;
  NatCounters counters_;
};

}  // namespace natsim::nat
