#pragma once
// Links carry packets between the interfaces attached to them: two for a point-to-point
// link, more for a LAN segment. Each attachment has its own egress channel with its own
// impairments (so uplink and downlink can differ) and its own drop-tail queue.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "natsim/base/ip_address.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/counters.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/random.hpp"
#include "natsim/sim/routing_table.hpp"

namespace natsim::sim {

class Network;
class Node;
class PcapWriter;

// Two-state Markov burst loss (Gilbert-Elliott), stepped once per packet.
struct GilbertElliott {
  double p_good_to_bad = 0.0;  // chance to enter the bad state after a packet in the good one
  double p_bad_to_good = 1.0;  // chance to leave the bad state after a packet in it
  double loss_good = 0.0;      // loss probability in the good state
  double loss_bad = 1.0;       // loss probability in the bad state
};

struct LinkParams {
  Duration latency{0};                   // one-way propagation delay
  Duration jitter{0};                    // extra delay, uniform in [0, jitter]
  bool reorder = false;                  // let jitter reorder packets (off: FIFO delivery)
  double loss = 0.0;                     // independent loss probability per packet
  std::optional<GilbertElliott> burst;   // burst loss, applied in addition to `loss`
  std::uint64_t bandwidth_bps = 0;       // 0 = unlimited (no serialisation delay, no queue)
  std::size_t queue_bytes = 256 * 1024;  // drop-tail limit when bandwidth is limited
  std::size_t mtu = 1500;                // largest IP packet (header included) accepted
  double duplicate = 0.0;                // probability a packet is delivered twice
};

class Link {
 public:
  Link(Network& net, std::string name, const LinkParams& params);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::size_t member_count() const { return members_.size(); }
  [[nodiscard]] Node& member_node(std::uint32_t member) const { return *members_[member].node; }
  [[nodiscard]] const Counters& counters() const { return counters_; }

  // Impairments of every attachment's egress, or of the traffic `from` sends.
  void set_params(const LinkParams& params);
  void set_params_from(const Node& from, const LinkParams& params);
  [[nodiscard]] const LinkParams& params_from(const Node& from) const;
  [[nodiscard]] const LinkParams& params() const {
    return members_.empty() ? default_params_ : members_.front().egress.params;
  }

  // A link that is down drops what is sent on it and what was in flight.
  void set_up(bool up);
  [[nodiscard]] bool is_up() const { return up_; }

  // Records every packet accepted onto the link (at the time it is handed to the link,
  // including packets the link will lose). The writer must outlive the link's use of it.
  void capture(PcapWriter* writer) { capture_ = writer; }

  // Called by nodes.
  std::uint32_t attach(Node& node, IfaceId iface);
  void learn_address(std::uint32_t member, const IpAddress& address);
  void forget_address(const IpAddress& address);
  // Room for `members` attachments at once (a LAN whose size is known).
  void reserve(std::size_t members) { members_.reserve(members); }
  void transmit(std::uint32_t from, PacketPtr packet, const IpAddress& next_hop);

 private:
  struct Channel {
    LinkParams params;
    Rng rng;
    TimePoint busy_until = kTimeZero;    // end of the last serialisation
    TimePoint last_arrival = kTimeZero;  // keeps delivery FIFO when reordering is off
    bool burst_bad = false;
  };
  struct Member {
    Node* node;
    IfaceId iface;
    Channel egress;
  };

  void drop(PacketPtr packet, DropReason reason);
  // Decides loss for one packet on `ch`, stepping the burst-loss chain.
  std::optional<DropReason> draw_loss(Channel& ch);
  void schedule_arrival(std::uint32_t to, TimePoint when, PacketPtr packet);
  void arrive(std::uint32_t to, std::uint32_t epoch, PacketPtr packet);

  Network& net_;
  std::string name_;
  std::uint64_t name_hash_;  // stable_hash(name_), for the trace digest
  LinkParams default_params_;
  std::vector<Member> members_;
  [[nodiscard]] std::optional<std::uint32_t> neighbor(const IpAddress& address) const;
  // Which member owns an address, for delivery on a LAN. A segment of a few hosts scans
  // few_neighbors_; past kFewNeighbors the hash table takes over (and few_neighbors_ is
  // emptied), so small LANs and point-to-point links allocate no table.
  static constexpr std::size_t kFewNeighbors = 16;
  std::vector<std::pair<IpAddress, std::uint32_t>> few_neighbors_;
  boost::unordered_flat_map<IpAddress, std::uint32_t, std::hash<IpAddress>> neighbors_;
  Counters counters_;
  bool up_ = true;
  std::uint32_t epoch_ = 0;  // bumped when the link goes down: in-flight packets are lost
  PcapWriter* capture_ = nullptr;
};

}  // namespace natsim::sim
