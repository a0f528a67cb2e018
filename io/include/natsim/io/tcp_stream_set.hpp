#pragma once
// A set of real TCP listeners and connections on an Asio io_context: the TCP twin of
// UdpSocketSet. Bytes in go to one callback as (local, remote, bytes), one call per
// read of up to 64 KiB (the caller frames the stream itself); bytes out are appended to
// the connection's output buffer and written in order, one write in flight at a time.
//
// A connection is named by (local, remote). An accepted connection's `local` is the
// socket's own local endpoint, so a listener bound to a wildcard address (0.0.0.0 or ::)
// reports the specific address the peer connected to; send() and close() also take the
// listener's bound endpoint (any `local` of the same port and family) instead. A connected
// one is named by its local endpoint (reported through `done`) and the `remote` given to
// connect().
//
// Hostile peers are held to TcpLimits: connections per source, output bytes per
// connection (a peer that does not read stops being read from, then is closed), idle
// time. Memory per idle connection is the socket and a small record: every connection
// reads into one shared buffer after a readiness wait, and output buffers are released
// once drained.
//
// Callbacks only ever run from handlers on the io_context, never from inside listen(),
// connect(), send() or close(), and they may call into the set or destroy it. Sockets are
// TCP_NODELAY. Single-threaded: run the io_context on one thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"

namespace natsim::io {

struct StreamCounters {
  std::uint64_t accepted = 0;          // connections accepted from a listener
  std::uint64_t connected = 0;         // connect() calls that established a connection
  std::uint64_t connect_failures = 0;  // connect() / open() calls that failed
  std::uint64_t refused = 0;           // accepted over max_connections, then closed at once
  std::uint64_t closed = 0;            // connections ended (each fires on_closed once)
  std::uint64_t received_bytes = 0;    // bytes delivered to the receive callback
  std::uint64_t sent_bytes = 0;        // bytes the kernel accepted
  std::uint64_t send_errors = 0;       // a write failed (then the connection is closed)
  std::uint64_t receive_errors = 0;    // a read failed other than by EOF, e.g. a reset (closed)
  // An accept failed; accepting resumes at once when the peer caused it, else in 100 ms.
  std::uint64_t accept_errors = 0;
  std::uint64_t unroutable = 0;          // send() to no such connection, or to one closing
  std::uint64_t queue_overflows = 0;     // send() beyond max_queued_bytes (the connection closed)
  std::uint64_t refused_per_source = 0;  // accepted over max_per_source, then closed at once
  std::uint64_t evicted = 0;             // closed to make room for a source with fewer connections
  std::uint64_t idle_closed = 0;         // closed after idle_timeout without a byte either way
  std::uint64_t read_pauses = 0;  // reading stopped because output was over pause_reading_above
  // Closing (close() or the peer's EOF) with output still unwritten after close_timeout:
  // closed abortively, the rest dropped.
  std::uint64_t close_timeouts = 0;
};

// What one set allows; the defaults suit a server facing the internet.
struct TcpLimits {
  // Connections open or connecting. When the set is full, a newcomer from a source with
  // fewer connections than the busiest source takes the place of that source's least
  // recently active connection (evicted); otherwise it is refused.
  std::size_t max_connections = 1024;
  // Accepted connections from one source: an IPv4 address, or an IPv6 /64 (what one
  // subscriber gets). 0: no limit. 16 leaves room for a TURN user's 10 allocations (one
  // connection each) plus reconnects, and a few users behind one NAT; one host cannot take
  // more than 16 of the 1024 places.
  std::size_t max_per_source = 16;
  // Output bytes (counted exactly: queued, not yet accepted by the kernel) per connection.
  // A send() past it closes the connection: a peer that does not read cannot grow memory.
  std::size_t max_queued_bytes = 1 << 20;
  // While more than this is queued the set reads nothing more from the connection (so its
  // requests cannot make more output); reading resumes once the output drains below
  // resume_reading_below. The kernel's receive window then holds the sender back. One read
  // takes at most (max_queued_bytes - pause_reading_above) / 8 bytes (and 64 KiB), so a
  // machine answering with up to 8x what it read stays under the cap.
  std::size_t pause_reading_above = 64 * 1024;
  std::size_t resume_reading_below = 16 * 1024;
  // A connection with no byte read or written for this long is closed (zero: never).
  std::chrono::steady_clock::duration idle_timeout{};
  // A closing connection (close(), or EOF from the peer) whose queued output is still not
  // written this long after is closed abortively and the rest dropped: a peer that never
  // reads cannot keep its place (and its queue) once the set wants it gone. Zero: wait for
  // the queue however long (idle_timeout still applies).
  std::chrono::steady_clock::duration close_timeout = std::chrono::seconds(5);
};

class TcpStreamSet {
 public:
  enum class Direction : std::uint8_t { in, out };
  using Receive = std::function<void(const Endpoint& local, const Endpoint& remote, ByteView)>;
  // A connection ended (see on_closed). A failed connect reports through Connected only.
  using Closed = std::function<void(const Endpoint& local, const Endpoint& remote)>;
  // Sees every read delivered and every write completed (for logs and captures).
  using Tap =
      std::function<void(Direction, const Endpoint& local, const Endpoint& remote, ByteView)>;
  using Connected = std::function<void(boost::system::result<Endpoint> local)>;
  // A listener accepted a connection (before its first bytes are read).
  using Opened = std::function<void(const Endpoint& local, const Endpoint& remote)>;

  explicit TcpStreamSet(boost::asio::io_context& io, TcpLimits limits = {});
  TcpStreamSet(const TcpStreamSet&) = delete;
  TcpStreamSet& operator=(const TcpStreamSet&) = delete;
  // Closes the listeners and connections (abortively: queued bytes are dropped, on_closed
  // does not fire); handlers still queued in the io_context do nothing.
  ~TcpStreamSet();

  // Listens (SO_REUSEADDR on, IPv6 v6-only) and accepts continuously. Returns the bound
  // endpoint (port 0: the kernel picks one). A connection accepted while max_connections
  // are open or connecting is closed at once (counted as refused, no on_closed) unless it
  // may evict a connection of a busier source; one over max_per_source likewise
  // (refused_per_source).
  boost::system::result<Endpoint> listen(const Endpoint& local);
  // Connects asynchronously to `remote`; `done` gets the connection's local endpoint or the
  // error (also when max_connections are already open or connecting: no_buffer_space).
  // From then on the connection's bytes arrive through on_receive with local = that
  // endpoint. A failed connect reports through `done` only, not on_closed.
  // With `local`, the socket is bound to it first (port 0: any; a failed bind is reported
  // through `done` like a failed connect).
  void connect(const Endpoint& remote, Connected done,
               const std::optional<Endpoint>& local = std::nullopt);
  // Connects from `local` (bound first, SO_REUSEADDR) to `remote`, the connection named
  // (local, remote) at once: send() and close() queue until it is established, then it is
  // written in order. For machines that name a connection by its endpoints and speak
  // first (an HTTP client: upnp::UpnpClient), as the simulator's driver opens one on
  // first use. A failed bind or connect ends the connection: on_closed(local, remote)
  // fires, as for one the peer refused, so the machine learns it by the usual path.
  void open(const Endpoint& local, const Endpoint& remote);
  // A connection (local, remote) is known (connecting, open or flushing), by send()'s rule.
  [[nodiscard]] bool has(const Endpoint& local, const Endpoint& remote) const {
    return find(local, remote) != nullptr;
  }

  // Bytes that arrive while no callback is set are dropped (not counted as received).
  void on_receive(Receive callback) { receive_ = std::move(callback); }
  // Fires once per accepted connection, from the accept handler, before any of its bytes.
  void on_opened(Opened callback) { opened_ = std::move(callback); }
  // Fires once per accepted or connected connection when it ends: the peer closed or reset
  // it, a write failed, the queue overflowed, it was evicted or idle, or close() finished
  // flushing.
  void on_closed(Closed callback) { closed_ = std::move(callback); }
  void on_traffic(Tap tap) { tap_ = std::move(tap); }

  // Appends a copy of `bytes` to the connection (local, remote): `local` exactly, else any
  // of the same port and address family (e.g. the wildcard listener's bound endpoint).
  // False (counted) when there is no such connection, it is closing, or the queue would
  // exceed max_queued_bytes — then the connection is closed: a peer that does not read
  // must not grow our memory.
  bool send(const Endpoint& local, const Endpoint& remote, ByteView bytes);
  // Closes the connection once the queued bytes are written (at most close_timeout later,
  // abortively); on_closed then fires once. Bytes received meanwhile are dropped. Unknown
  // connections are ignored.
  void close(const Endpoint& local, const Endpoint& remote);

  [[nodiscard]] std::vector<Endpoint> listen_endpoints() const;
  // Established connections, including those flushing after close(); not pending connects.
  [[nodiscard]] std::size_t connection_count() const { return connections_.size(); }
  [[nodiscard]] boost::asio::io_context& context() const { return io_; }
  [[nodiscard]] const StreamCounters& counters() const { return counters_; }
  [[nodiscard]] const TcpLimits& limits() const { return limits_; }
  // Output bytes queued on every connection together.
  [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_; }
  // Connections not being read from because their output is over pause_reading_above.
  [[nodiscard]] std::size_t paused_count() const { return paused_; }

 private:
  struct Listener;
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;

  void start_accept(Listener& listener);
  void adopt(boost::asio::ip::tcp::socket socket);
  [[nodiscard]] bool make_room(const IpAddress& source);
  void start_read(const ConnectionPtr& connection);
  void read_ready(const ConnectionPtr& connection);
  void start_write(const ConnectionPtr& connection);
  void arm_idle_sweep();
  void sweep_idle();
  // Marks a connection closing: flushed, then finished, or finished at close_timeout.
  void start_closing(const ConnectionPtr& connection);
  void arm_close_timer();
  void expire_closing();
  // Starts the next write, or finishes a closing connection whose queue is empty.
  void pump_writes(const ConnectionPtr& connection);
  // Ends a connection: closes the socket, forgets it and posts its on_closed.
  void finish(ConnectionPtr connection);
  [[nodiscard]] ConnectionPtr find(const Endpoint& local, const Endpoint& remote) const;
  [[nodiscard]] bool full() const;

  boost::asio::io_context& io_;
  TcpLimits limits_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // Established connections by remote endpoint; handlers hold their own references, so a
  // connection erased here stays valid until its last handler has run.
  std::unordered_multimap<Endpoint, ConnectionPtr> connections_;
  std::vector<ConnectionPtr> connecting_;
  // Accepted connections per source (IPv4 address, IPv6 /64).
  std::unordered_map<IpAddress, std::size_t> per_source_;
  // Every connection reads into this one buffer: idle connections hold no read buffer.
  std::vector<std::uint8_t> read_buffer_;
  std::size_t queued_bytes_ = 0;
  std::size_t paused_ = 0;
  boost::asio::steady_timer idle_timer_;
  bool idle_armed_ = false;
  // Connections closing with output queued, by deadline (one timeout for all: in order).
  std::deque<std::pair<std::chrono::steady_clock::time_point, ConnectionPtr>> closing_;
  boost::asio::steady_timer close_timer_;
  bool close_armed_ = false;
  Receive receive_;
  Opened opened_;
  Closed closed_;
  Tap tap_;
  StreamCounters counters_;
  // Handlers hold a weak reference: once the set is gone they return untouched.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace natsim::io
