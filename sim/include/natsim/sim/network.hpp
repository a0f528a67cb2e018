#pragma once
// The virtual network: owns the simulator, the packet pool, nodes, links and the trace.
// Everything random in it derives from one seed.
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "natsim/sim/arena.hpp"
#include "natsim/sim/counters.hpp"
#include "natsim/sim/link.hpp"
#include "natsim/sim/node.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/random.hpp"
#include "natsim/sim/simulator.hpp"
#include "natsim/sim/trace.hpp"

namespace natsim::sim {

struct Connection {
  Link& link;
  IfaceId a_iface;
  IfaceId b_iface;
};

class Network {
 public:
  explicit Network(std::uint64_t seed = 1);
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  ~Network();

  [[nodiscard]] std::uint64_t seed() const { return seed_; }
  [[nodiscard]] Simulator& sim() { return sim_; }
  [[nodiscard]] TimePoint now() const { return sim_.now(); }
  [[nodiscard]] PacketPool& packets() { return pool_; }
  [[nodiscard]] Trace& trace() { return trace_; }
  [[nodiscard]] const Trace& trace() const { return trace_; }
  // Totals over every node and link.
  [[nodiscard]] const Counters& counters() const { return counters_; }
  [[nodiscard]] Counters& counters() { return counters_; }
  // The random stream of the component with this stable name.
  [[nodiscard]] Rng rng_for(std::string_view component) const {
    return Rng::for_component(seed_, component);
  }

  // Names are unique across nodes and links: letters, digits and "_-.:".
  // Invalid or duplicate names throw std::invalid_argument (a programming error at
  // world-building time, not a packet-path condition).
  Host& add_host(std::string name) { return add_node<Host>(std::move(name)); }
  Router& add_router(std::string name) { return add_node<Router>(std::move(name)); }
  template <class T, class... Args>
  T& add_node(std::string name, Args&&... args) {
    static_assert(std::is_base_of_v<Node, T>);
    check_new_name(name);
    auto node = make_in<T>(arena_, *this, std::move(name), static_cast<NodeId>(nodes_.size()),
                           std::forward<Args>(args)...);
    T& ref = *node;
    node_names_.emplace(ref.name(), &ref);
    nodes_.push_back(std::move(node));
    return ref;
  }

  // A point-to-point link with a new interface on each side. The default name is
  // "a--b" (plus "#n" for parallel links).
  Connection connect(Node& a, Node& b, const LinkParams& params = {}, std::string name = {});
  // A multi-access segment (a LAN); attach nodes to it one by one.
  Link& add_segment(std::string name, const LinkParams& params = {});
  IfaceId attach(Node& node, Link& segment);

  [[nodiscard]] Node* find_node(std::string_view name) const;
  [[nodiscard]] Link* find_link(std::string_view name) const;
  [[nodiscard]] const std::vector<ArenaPtr<Node>>& nodes() const { return nodes_; }
  [[nodiscard]] const std::vector<ArenaPtr<Link>>& links() const { return links_; }
  // Where nodes and links are built (its size, for memory figures).
  [[nodiscard]] const Arena& arena() const { return arena_; }

  std::uint64_t run() { return sim_.run(); }
  std::uint64_t run_for(Duration d) { return sim_.run_for(d); }
  std::uint64_t run_until(TimePoint t) { return sim_.run_until(t); }

  [[nodiscard]] std::uint64_t next_packet_id() { return ++packet_ids_; }

 private:
  void check_new_name(std::string_view name) const;
  // Names are looked up as string_views, without building a std::string.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return stable_hash(s); }
  };
  template <class T>
  using NameMap = boost::unordered_flat_map<std::string, T*, NameHash, std::equal_to<>>;

  std::uint64_t seed_;
  // Declaration order is destruction order reversed: pending events (which own packets)
  // go before the nodes, links and the pool they refer to.
  PacketPool pool_;
  Trace trace_;
  Counters counters_;
  Arena arena_;  // nodes and links: declared first, so freed after them
  std::vector<ArenaPtr<Node>> nodes_;
  std::vector<ArenaPtr<Link>> links_;
  NameMap<Node> node_names_;
  NameMap<Link> link_names_;
  Simulator sim_;
  std::uint64_t packet_ids_ = 0;
};

}  // namespace natsim::sim
