#pragma once
// TCP sockets on a node, in the style of UdpSocket: handlers for what arrives, calls
// that return boost::system::result. Each socket drives one TcpConnection machine: after
// every input (segment, timer, command) it drains the machine until quiet, sending its
// segments at that instant, then re-arms one timer from poll_timeout().
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"
#include "natsim/base/result.hpp"
#include "natsim/sim/packet.hpp"
#include "natsim/sim/simulator.hpp"
#include "natsim/sim/tcp_connection.hpp"
#include "natsim/sim/tcp_error.hpp"

namespace natsim::sim {

class Node;
class PacketPool;
class TcpListener;

// The RST answering `offending` where no connection exists (RFC 9293 §3.10.7.1), from
// its destination to its source; null for a RST or a non-TCP packet. Nodes answer closed
// ports with it, and NATs configured to reset unsolicited SYNs.
[[nodiscard]] PacketPtr make_tcp_reset(PacketPool& pool, const Packet& offending);

class TcpSocket {
 public:
  // Success, or TcpErrc::connection_refused / timed_out (or reset in a simultaneous open).
  using ConnectHandler = std::function<void(Result<void>)>;
  // In-order bytes; the view is valid only during the call.
  using ReceiveHandler = std::function<void(ByteView)>;
  // The peer closed its side (success), or the connection failed (reset, timed_out).
  using CloseHandler = std::function<void(Result<void>)>;
  using WritableHandler = std::function<void()>;

  TcpSocket(Node& node, Endpoint local, Endpoint remote, const TcpConfig& config);
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;

  [[nodiscard]] const Endpoint& local() const { return local_; }
  [[nodiscard]] const Endpoint& remote() const { return remote_; }
  [[nodiscard]] Node& node() const { return *node_; }
  [[nodiscard]] TcpConnState state() const { return conn_.state(); }
  [[nodiscard]] const TcpConnection& connection() const { return conn_; }
  [[nodiscard]] const TcpStats& stats() const { return conn_.stats(); }

  void on_connect(ConnectHandler h) { on_connect_ = std::move(h); }
  void on_receive(ReceiveHandler h);
  void on_close(CloseHandler h) { on_close_ = std::move(h); }
  void on_writable(WritableHandler h) { on_writable_ = std::move(h); }

  // Queues bytes (also before the handshake completes) and returns how many fit in the
  // send buffer. Errc::closed after close()/abort(), TcpErrc::shutdown once a FIN is
  // queued, the connection's error once it failed, TcpErrc::not_connected once closed.
  Result<std::size_t> send(ByteView data);
  // While paused, received bytes stay in the receive buffer and the advertised window
  // shrinks (flow control); resuming hands them to the receive handler.
  void pause_receive(bool paused);

  // Graceful close (FIN after the queued bytes). The socket may no longer be used: it
  // finishes the close on its own and is destroyed after it, never during the current
  // event. No handler is called after close().
  void close();
  // Sends a RST if synchronized and drops the connection at once; same lifetime rules.
  void abort();

 private:
  friend class Node;
  friend class TcpListener;
  void input(TimePoint now, const Packet& p);
  void pump();
  void dispatch(const TcpEvent& e);
  void deliver();
  void rearm();
  void finished();

  Node* node_;
  Endpoint local_;
  Endpoint remote_;
  TcpConnection conn_;
  ConnectHandler on_connect_;
  ReceiveHandler on_receive_;
  CloseHandler on_close_;
  WritableHandler on_writable_;
  TcpListener* listener_ = nullptr;  // set while a passive socket waits to be accepted
  TimerId timer_;
  std::optional<TimePoint> armed_;
  bool connected_ = false;
  bool user_closed_ = false;
  bool paused_ = false;
  bool pumping_ = false;
  bool in_table_ = true;  // its 4-tuple is in the node's table
  bool counts_port_ = false;
};

class TcpListener {
 public:
  using AcceptHandler = std::function<void(TcpSocket*)>;

  TcpListener(Node& node, Endpoint local, const TcpConfig& config, std::size_t backlog)
      : node_(&node), local_(local), config_(config), backlog_(backlog) {}
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  [[nodiscard]] const Endpoint& local() const { return local_; }
  // Connections that completed the handshake go to the handler; without one they wait
  // for accept().
  void on_accept(AcceptHandler h) { on_accept_ = std::move(h); }
  // TcpErrc::would_block when none is waiting; Errc::closed after close().
  Result<TcpSocket*> accept();
  // Stops listening: frees the port and resets connections not yet accepted.
  void close();

  [[nodiscard]] std::uint64_t accepted() const { return accepted_; }
  [[nodiscard]] std::uint64_t refused() const { return refused_; }  // backlog full

 private:
  friend class Node;
  friend class TcpSocket;
  void ready(TcpSocket* s);
  void forget(TcpSocket* s);

  Node* node_;
  Endpoint local_;
  TcpConfig config_;
  std::size_t backlog_;
  std::size_t pending_ = 0;  // handshakes in progress plus connections not yet accepted
  std::deque<TcpSocket*> ready_;
  AcceptHandler on_accept_;
  bool closed_ = false;
  std::uint64_t accepted_ = 0;
  std::uint64_t refused_ = 0;
};

}  // namespace natsim::sim
