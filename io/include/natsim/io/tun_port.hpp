#pragma once
// Connects a simulated node to a real network stack through a TUN device: IP packets the
// kernel writes to the device are parsed (sim::parse_ip_packet) and sent as the node's own
// packets at the current virtual time; every packet the world delivers to the node is
// encoded (sim::encode_ip_packet, with IPv4 and UDP/TCP checksums, which the kernel
// checks) and written to the device instead of reaching the node's sockets.
//
// What crosses: IPv4 and IPv6 UDP, and TCP with the fields the simulator models (ports,
// sequence numbers, flags, window, MSS). Other TCP options (window scale, SACK,
// timestamps) are dropped from every segment, so the two ends never negotiate them.
// IPv4 ICMP destination unreachable crosses both ways (type, code and the quoted
// datagram), so a closed port's answer reaches the other side's socket. Other ICMP,
// IPv4 fragments, other protocols, malformed or oversize packets and packets whose
// source address the node does not own are dropped and counted. If reading the device
// fails (it, or its namespace, was deleted) the port closes itself.
//
// The descriptor may be a TUN device opened with IFF_TUN | IFF_NO_PI, or anything that
// keeps packet boundaries (a SOCK_SEQPACKET socket in tests). It is made non-blocking;
// the port owns it and closes it.
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <vector>

#include "natsim/io/realtime_driver.hpp"
#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/network.hpp"

namespace natsim::io {

struct TunCounters {
  std::uint64_t from_tun = 0;        // packets read and sent into the world
  std::uint64_t to_tun = 0;          // packets the world delivered, written
  std::uint64_t bytes_from_tun = 0;  // IP bytes
  std::uint64_t bytes_to_tun = 0;    // IP bytes
  std::uint64_t malformed = 0;       // failed sim::parse_ip_packet otherwise, or oversize
  std::uint64_t unsupported = 0;     // not UDP, TCP or ICMP unreachable; IPv4 fragments
  std::uint64_t foreign_source = 0;  // a source address the node does not own
  std::uint64_t write_dropped = 0;   // the device's queue was full, or a write failed
  std::uint64_t read_failed = 0;     // reading failed for good: the port closed itself
};

class TunPort {
 public:
  TunPort(boost::asio::io_context& io, int fd, sim::Node& node, RealtimeDriver& driver);
  TunPort(const TunPort&) = delete;
  TunPort& operator=(const TunPort&) = delete;
  ~TunPort();

  // Installs the node's local tap and starts reading.
  void start();
  // Stops reading; the node's deliveries are counted as write_dropped from now on.
  void close();

  [[nodiscard]] const TunCounters& counters() const { return counters_; }
  [[nodiscard]] sim::Node& node() const { return node_; }

  // One packet as the kernel wrote it, into the world (public for tests and fuzzing).
  void handle_packet(ByteView bytes);

 private:
  void wait_readable();
  void read_ready();
  void write_packet(sim::PacketPtr packet);

  sim::Node& node_;
  RealtimeDriver& driver_;
  boost::asio::posix::stream_descriptor fd_;
  bool open_ = true;
  TunCounters counters_;
  // One buffer each way, reused: the packet path allocates nothing.
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> out_;
};

}  // namespace natsim::io
