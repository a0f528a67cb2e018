#pragma once
// A set of real UDP sockets, each bound to one local endpoint, receiving continuously on
// an Asio io_context. It is the socket half of the Asio driver: datagrams in go to one
// callback as (local, remote, bytes); datagrams out leave from the socket bound to the
// requested local endpoint.
//
// The `local` endpoint reported for a datagram is the socket's bound endpoint (with the
// port the kernel chose when bound to port 0). A socket bound to a wildcard address
// (0.0.0.0 or ::) reports the wildcard address and its port: the set does not ask the
// kernel for each datagram's destination address. Machines that compare addresses
// (e.g. NAT discovery's "mapped == local") should bind a specific address.
//
// Idle sockets cost no buffer: each waits for readiness, then receives into the set's one
// 64 KiB buffer (up to 16 datagrams per wake-up).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"

namespace natsim::io {

struct SocketCounters {
  std::uint64_t received = 0;        // datagrams delivered to the receive callback
  std::uint64_t sent = 0;            // datagrams the kernel accepted
  std::uint64_t send_errors = 0;     // send_to failed (e.g. no route, buffer full)
  std::uint64_t receive_errors = 0;  // a receive completed with an error (then re-armed)
  std::uint64_t unroutable = 0;      // no socket bound to the requested local endpoint
};

class UdpSocketSet {
 public:
  enum class Direction : std::uint8_t { in, out };
  using Receive = std::function<void(const Endpoint& local, const Endpoint& remote, ByteView)>;
  // Sees every datagram received and every datagram sent (for logs and captures).
  using Tap =
      std::function<void(Direction, const Endpoint& local, const Endpoint& remote, ByteView)>;

  explicit UdpSocketSet(boost::asio::io_context& io);
  UdpSocketSet(const UdpSocketSet&) = delete;
  UdpSocketSet& operator=(const UdpSocketSet&) = delete;
  // Closes the sockets; receive handlers still queued in the io_context do nothing.
  ~UdpSocketSet();

  // Binds one more socket (port 0: the kernel picks one) and starts receiving on it.
  // Returns the endpoint actually bound. IPv6 sockets are v6-only.
  boost::system::result<Endpoint> bind(const Endpoint& local);

  [[nodiscard]] std::vector<Endpoint> local_endpoints() const;
  [[nodiscard]] boost::asio::io_context& context() const { return io_; }

  // Datagrams that arrive while no callback is set are dropped (not counted as received).
  void on_receive(Receive callback) { receive_ = std::move(callback); }
  void on_traffic(Tap tap) { tap_ = std::move(tap); }

  // Sends from the socket bound to exactly `local`, else from one bound to the same
  // port and address family (a wildcard socket serving a specific address). Returns
  // false when there is no such socket or the kernel refused the datagram.
  bool send(const Endpoint& local, const Endpoint& remote, ByteView bytes);

  [[nodiscard]] const SocketCounters& counters() const { return counters_; }

 private:
  struct Slot;
  void start_receive(Slot& slot);
  void receive_ready(Slot& slot, const std::weak_ptr<char>& alive);
  [[nodiscard]] Slot* find(const Endpoint& local) const;

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<Slot>> slots_;
  // Every socket receives into this one buffer, after a readiness wait.
  std::vector<std::uint8_t> buffer_;
  Receive receive_;
  Tap tap_;
  SocketCounters counters_;
  // Handlers hold a weak reference: once the set is gone they return untouched.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace natsim::io
