#pragma once
// Nodes: hosts (which only send and receive) and routers (which also forward). Every
// node has interfaces, a routing table, UDP and TCP sockets (a table per protocol) and
// timers. A translating node (a NAT in nat_models/) derives from Router and overrides
// process().
#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/base/ip_address.hpp"
#include "natsim/base/result.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/counters.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/random.hpp"
#include "natsim/sim/routing_table.hpp"
#include "natsim/sim/simulator.hpp"
#include "natsim/sim/tcp_socket.hpp"

namespace natsim::sim {

class Link;
class Network;
class Node;
class PcapWriter;

using NodeId = std::uint32_t;
using TimerFn = InlineFunction<void(), 40>;

struct Interface {
  std::string name;  // "eth0", "eth1", ... in attachment order
  Link* link = nullptr;
  std::uint32_t member = 0;  // this interface's attachment index on the link
  std::vector<InterfaceAddress> addresses;
};

// What a socket's receive handler sees; `payload` is valid only during the call.
struct Datagram {
  Endpoint from;
  Endpoint to;
  ByteView payload;
  TimePoint at;
};

// An ICMP error about a datagram a socket sent: RFC 1122 §4.1.3.3, UDP MUST pass ICMP
// errors to the application. Real stacks differ in when they do (Linux: on connected
// sockets as ECONNREFUSED, or with IP_RECVERR; Windows: WSAECONNRESET on any socket);
// here a socket that sets on_error gets them (the application's opt-in), and every socket
// counts them.
struct SocketError {
  Endpoint remote;     // where the refused datagram was going
  IpAddress reporter;  // who sent the ICMP error (the host, or a router on the way)
  std::uint8_t type = 0;
  std::uint8_t code = 0;  // RFC 792: type 3 code 3 is port unreachable (ECONNREFUSED)
  TimePoint at;
};

class UdpSocket {
 public:
  using Handler = std::function<void(const Datagram&)>;
  using ErrorHandler = std::function<void(const SocketError&)>;

  UdpSocket(Node& node, Endpoint local) : node_(&node), local_(local) {}
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  [[nodiscard]] const Endpoint& local() const { return local_; }
  [[nodiscard]] Node& node() const { return *node_; }

  void on_receive(Handler handler) { handler_ = std::move(handler); }
  void on_error(ErrorHandler handler) { error_handler_ = std::move(handler); }

  // Errc::no_route when nothing routes to `to` (also counted as a drop at the node),
  // Errc::invalid_argument for a payload larger than UDP allows or a family mismatch,
  // Errc::closed after close().
  Result<void> send_to(const Endpoint& to, ByteView payload);

  // Releases the port now; the object itself is destroyed after the current event, so
  // closing from inside the receive handler is safe.
  void close();
  [[nodiscard]] bool is_closed() const { return closed_; }

  [[nodiscard]] std::uint64_t received() const { return received_; }
  [[nodiscard]] std::uint64_t sent() const { return sent_; }
  [[nodiscard]] std::uint64_t errors() const { return errors_; }  // ICMP errors received

 private:
  friend class Node;
  Node* node_;
  Endpoint local_;
  Handler handler_;
  ErrorHandler error_handler_;
  std::uint64_t errors_ = 0;
  bool closed_ = false;
  std::uint64_t received_ = 0;
  std::uint64_t sent_ = 0;
};

class Node {
 public:
  Node(Network& net, std::string name, NodeId id);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node();

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] NodeId id() const { return id_; }
  [[nodiscard]] Network& network() const { return net_; }
  [[nodiscard]] TimePoint now() const;
  [[nodiscard]] const Counters& counters() const { return counters_; }
  [[nodiscard]] virtual bool forwards() const { return false; }

  // A node that is down drops everything it receives or sends (node_down); its sockets,
  // timers and state stay as they are.
  void set_up(bool up) { up_ = up; }
  [[nodiscard]] bool is_up() const { return up_; }

  // --- interfaces and addresses
  [[nodiscard]] std::size_t interface_count() const { return interfaces_.size(); }
  [[nodiscard]] const Interface& interface(IfaceId id) const { return interfaces_.at(id); }
  IfaceId add_interface(Link& link);  // normally called by Network::connect / attach
  // Assigns an address and installs the connected route for its subnet.
  void add_address(IfaceId iface, const InterfaceAddress& address);
  void add_address(IfaceId iface, std::string_view address);  // throws on bad text
  // Removes an address and its connected route; false if `iface` did not have it.
  bool remove_address(IfaceId iface, const IpAddress& address);
  [[nodiscard]] bool owns(const IpAddress& address) const {
    // Most nodes have one or two addresses: compare them in place, no hash probe.
    if (owned_count_ <= kFewAddresses) {
      for (std::size_t i = 0; i < owned_count_; ++i) {
        if (few_owned_[i] == address) return true;
      }
      return false;
    }
    return owned_.contains(address);
  }
  // The first address of `family` on `iface`, or on any interface if `iface` has none.
  [[nodiscard]] std::optional<IpAddress> address(IpFamily family = IpFamily::v4,
                                                 std::optional<IfaceId> iface = {}) const;

  // --- routing
  [[nodiscard]] RoutingTable& routes() { return routes_; }
  [[nodiscard]] const RoutingTable& routes() const { return routes_; }
  void add_route(const Prefix& prefix, IfaceId iface, std::optional<IpAddress> via = {});
  // Default route for the gateway's family, through the interface that reaches it.
  Result<void> set_default_route(const IpAddress& gateway);

  // --- UDP
  // Binds a wildcard IPv4 socket; port 0 picks a free ephemeral port.
  Result<UdpSocket*> udp_bind(std::uint16_t port = 0);
  // Binds `local`; an unspecified address is the family's wildcard.
  Result<UdpSocket*> udp_bind(const Endpoint& local);
  [[nodiscard]] UdpSocket* udp_socket(const Endpoint& local) const;
  // The socket a UDP packet to `dst` would be delivered to (exact bind, then wildcard).
  [[nodiscard]] UdpSocket* udp_listener(const Endpoint& dst) const;

  // --- TCP (sim/src/node_tcp.cpp). Ports are a table of their own: TCP port 80 and UDP
  // port 80 are different sockets.
  // Listens on the IPv4 wildcard, or on `local` (an unspecified address: that family's
  // wildcard). Errc::address_in_use if something listens there already.
  Result<TcpListener*> tcp_listen(std::uint16_t port, const TcpConfig& config = {},
                                  std::size_t backlog = 128);
  Result<TcpListener*> tcp_listen(const Endpoint& local, const TcpConfig& config = {},
                                  std::size_t backlog = 128);
  // Sends a SYN to `remote` now. From an ephemeral port, or from `local_port` even if a
  // listener or another connection uses it (as with SO_REUSEADDR, which TCP hole
  // punching needs) as long as the 4-tuple is free. Errc::no_route, address_in_use.
  Result<TcpSocket*> tcp_connect(const Endpoint& remote, const TcpConfig& config = {},
                                 std::uint16_t local_port = 0);
  // A segment for no connection and no listener: answered with a RST (RFC 9293
  // §3.10.7.1, the default) or dropped silently (a host firewall's "drop" policy).
  void set_tcp_reset_closed_ports(bool reset) { tcp_reset_closed_ = reset; }
  [[nodiscard]] bool tcp_reset_closed_ports() const { return tcp_reset_closed_; }
  // Connections in the node's table (every state but CLOSED, TIME-WAIT included).
  [[nodiscard]] std::size_t tcp_connections() const { return tcp_demux_.size(); }

  // --- ICMP (IPv4; sim/src/icmp.cpp)
  // A UDP datagram for a port without a socket: answered with ICMP port unreachable
  // (RFC 1122 §4.1.3.1, what real hosts do) or dropped silently (the default, as natsim
  // always did, so existing runs are unchanged).
  void set_icmp_port_unreachable(bool answer) { icmp_port_unreachable_ = answer; }
  [[nodiscard]] bool icmp_port_unreachable() const { return icmp_port_unreachable_; }
  // Sends ICMP destination unreachable / port unreachable about `offending` from `from`
  // (the address it was sent to). False, and nothing sent, where RFC 1812 §4.3.2.7 says
  // not to (an ICMP error, a multicast or broadcast destination) or for IPv6.
  bool send_icmp_port_unreachable(const Packet& offending, const IpAddress& from);
  [[nodiscard]] std::uint64_t icmp_errors_sent() const { return icmp_errors_sent_; }
  [[nodiscard]] std::uint64_t tcp_resets_sent() const { return tcp_resets_sent_; }

  // --- timers (virtual time, traced under this node's name)
  Result<TimerId> schedule_in(Duration delay, TimerFn fn);
  Result<TimerId> schedule_at(TimePoint when, TimerFn fn);
  bool cancel(TimerId id);

  // Records packets this node receives and sends, on every interface.
  void capture(PcapWriter* writer) { capture_ = writer; }

  // Hands every packet delivered to this node (UDP and TCP alike) to `tap` instead of
  // its sockets: the real-time bridge gives a host's traffic to a real network stack.
  // Counted and traced as delivered. Set once, so the packet path allocates nothing.
  using LocalTap = std::function<void(PacketPtr)>;
  void set_local_tap(LocalTap tap) { local_tap_ = std::move(tap); }

  // --- packet path
  // A packet arriving from a link on `in`: captured, then handed to process().
  void receive(PacketPtr packet, IfaceId in);
  // Originates a packet from this node's own stack: picks a source address if unset,
  // routes and transmits it. Errc::no_route (and a counted drop) if nothing routes.
  Result<void> send(PacketPtr packet);

  [[nodiscard]] Rng& rng() { return rng_; }

 protected:
  // What the node does with an arriving packet. The default delivers packets for this
  // node's addresses (and multicast/broadcast) locally, forwards the rest when
  // forwards() is true, and drops them otherwise. Translating nodes override it.
  virtual void process(PacketPtr packet, IfaceId in);
  // Hands the packet to the socket bound to its destination.
  void deliver_local(PacketPtr packet);
  // Decrements the TTL and routes the packet onward.
  void forward(PacketPtr packet);
  // Routes and transmits without TTL handling; drops (no_route) if nothing routes.
  bool route_out(PacketPtr packet);
  void transmit(PacketPtr packet, IfaceId out, const IpAddress& next_hop);
  void drop(PacketPtr packet, DropReason reason);

  Counters counters_;

 private:
  friend class UdpSocket;
  friend class TcpSocket;
  friend class TcpListener;
  struct EndpointHash {
    std::size_t operator()(const Endpoint& e) const noexcept { return e.hash(); }
  };
  struct TcpKey {
    Endpoint local;
    Endpoint remote;
    bool operator==(const TcpKey&) const = default;
  };
  struct TcpKeyHash {
    std::size_t operator()(const TcpKey& k) const noexcept {
      return k.local.hash() ^ (k.remote.hash() * 0x9e3779b97f4a7c15ull);
    }
  };
  void tcp_deliver(PacketPtr packet);
  void icmp_deliver(PacketPtr packet);
  void tcp_send_reset(const Endpoint& from, const Endpoint& to, const TcpHeader& h);
  [[nodiscard]] std::uint32_t tcp_isn(const Endpoint& local, const Endpoint& remote) const;
  [[nodiscard]] TcpListener* tcp_listener_for(const Endpoint& dst) const;
  void tcp_release(TcpSocket& s);
  void tcp_destroy(TcpSocket& s);
  void tcp_close_listener(TcpListener& l);
  [[nodiscard]] bool port_in_use(const Endpoint& local) const;
  void close_socket(UdpSocket& socket);

  Network& net_;
  std::string name_;
  std::uint64_t name_hash_;  // stable_hash(name_), for the trace digest
  NodeId id_;
  Rng rng_;
  std::vector<Interface> interfaces_;
  void own(const IpAddress& address);
  static constexpr std::size_t kFewAddresses = 2;
  // Up to kFewAddresses live in few_owned_ only; the set is built when a node has more, so
  // a million hosts do not each allocate a hash table for one address.
  std::array<IpAddress, kFewAddresses> few_owned_;
  std::uint32_t owned_count_ = 0;
  boost::unordered_flat_set<IpAddress, std::hash<IpAddress>> owned_;
  RoutingTable routes_;
  boost::unordered_flat_map<Endpoint, std::unique_ptr<UdpSocket>, EndpointHash> sockets_;
  boost::unordered_flat_map<std::uint32_t, std::uint32_t> port_users_;  // family<<16|port
  std::size_t specific_binds_ = 0;  // sockets bound to a specific address
  boost::unordered_flat_map<TcpKey, TcpSocket*, TcpKeyHash> tcp_demux_;
  boost::unordered_flat_map<TcpSocket*, std::unique_ptr<TcpSocket>> tcp_sockets_;
  boost::unordered_flat_map<Endpoint, std::unique_ptr<TcpListener>, EndpointHash> tcp_listeners_;
  std::size_t tcp_specific_listens_ = 0;
  std::uint16_t next_tcp_ephemeral_ = 0;
  std::uint64_t tcp_secret_ = 0;  // RFC 6528 ISN secret, from the seed
  std::uint64_t tcp_resets_sent_ = 0;
  bool tcp_reset_closed_ = true;
  bool icmp_port_unreachable_ = false;
  std::uint64_t icmp_errors_sent_ = 0;
  bool up_ = true;
  std::uint16_t next_ephemeral_;
  PcapWriter* capture_ = nullptr;
  LocalTap local_tap_;
};

// Sends and receives; drops packets addressed to others.
class Host : public Node {
 public:
  using Node::Node;
};

// Forwards packets between its interfaces by longest-prefix match.
class Router : public Node {
 public:
  using Node::Node;
  [[nodiscard]] bool forwards() const override { return true; }
};

}  // namespace natsim::sim
