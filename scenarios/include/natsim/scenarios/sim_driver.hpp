#pragma once
// Runs a sans-I/O protocol machine on virtual UDP sockets: datagrams in, virtual-time
// timers, transmits out through the socket bound to the transmit's local endpoint.
// The Asio driver in io/ does the same on real sockets.
//
// TCP: the driver also carries a machine's connections over virtual TcpSockets. A
// transmit with Transport::tcp goes over the connection (local, remote), which the
// driver opens from the transmit's local port on first use; open() opens one explicitly,
// listen() accepts them. A stream machine (TURN) gets their bytes with handle_stream()
// and their end with handle_stream_closed(). A machine that only speaks datagrams (STUN)
// is carried over TCP as RFC 8489 §6.2.2 frames it: back-to-back messages delimited by
// their header's length, each handed to handle_datagram(); its answer to a message that
// came over TCP goes back over that connection. Without TCP connections a TCP transmit
// is counted as unroutable.
#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "natsim/sim/node.hpp"
#include "natsim/sim/tcp_socket.hpp"
#include "natsim/traversal/machine.hpp"
#include "natsim/traversal/stun_constants.hpp"

namespace natsim::scenarios {

template <traversal::ProtocolMachine M>
class SimDriver {
 public:
  using Event = std::decay_t<decltype(*std::declval<M&>().poll_event())>;

  SimDriver(sim::Node& node, M& machine, std::vector<sim::UdpSocket*> sockets)
      : node_(node), machine_(machine), sockets_(std::move(sockets)) {
    for (sim::UdpSocket* s : sockets_) {
      s->on_receive([this](const sim::Datagram& d) {
        if (!machine_.handle_datagram(d.at, d.to, d.from, d.payload)) ++unclaimed_;
        pump();
      });
    }
  }
  SimDriver(const SimDriver&) = delete;
  SimDriver& operator=(const SimDriver&) = delete;
  ~SimDriver() {
    node_.cancel(timer_);
    for (sim::UdpSocket* s : sockets_)
      s->on_receive(nullptr);
    for (sim::TcpListener* l : listeners_)
      l->on_accept(nullptr);
    for (auto& c : streams_)
      c->socket->close();
  }

  void on_event(std::function<void(const Event&)> handler) { on_event_ = std::move(handler); }

  // Call after giving the machine a command (start, send, ...).
  void pump() {
    const auto deadline = traversal::pump(
        machine_, buffer_,
        [this](const traversal::Transmit& t, ByteView bytes) {
          if (t.transport == traversal::Transport::tcp) {
            stream_transmit(t, bytes);
            return;
          }
          // A datagram machine's answer to a message that came over TCP.
          if (framed_input_ != nullptr && t.remote == framed_input_->socket->remote()) {
            stream_write(*framed_input_, bytes);
            return;
          }
          // A datagram machine's message on a connection opened for it (STUN over TCP).
          if (Stream* c = stream_for(t.local, t.remote); c != nullptr && c->opened) {
            stream_write(*c, bytes);
            return;
          }
          sim::UdpSocket* s = socket_for(t.local);
          if (s != nullptr) {
            (void)s->send_to(t.remote, bytes);
          } else {
            ++unroutable_;
          }
        },
        [this](const Event& e) {
          if (on_event_) on_event_(e);
        });
    reschedule(deadline);
  }

  // Stops driving: cancels the timer and closes the sockets (their ports are free at
  // once). Safe to call from the event handler.
  void close() {
    node_.cancel(timer_);
    armed_.reset();
    closed_ = true;
    for (sim::UdpSocket* s : sockets_)
      s->close();
    sockets_.clear();
    for (sim::TcpListener* l : listeners_)
      l->on_accept(nullptr);
    listeners_.clear();
    for (auto& c : streams_) {
      c->ended = true;
      c->socket->close();  // a FIN after what is queued
    }
    streams_.clear();
  }

  // Stops driving but leaves the sockets open (and their mappings alive) for the caller,
  // who installs its own receive handlers on them afterwards. TCP connections are closed.
  void detach() {
    node_.cancel(timer_);
    armed_.reset();
    closed_ = true;
    sockets_.clear();
    for (sim::TcpListener* l : listeners_)
      l->on_accept(nullptr);
    listeners_.clear();
    for (auto& c : streams_) {
      c->ended = true;
      c->socket->close();
    }
    streams_.clear();
  }

  // --- TCP
  // Accepts connections on `listener` (which must outlive the driver or its close()) and
  // carries each one's bytes to and from the machine.
  void listen(sim::TcpListener* listener) {
    listeners_.push_back(listener);
    listener->on_accept([this](sim::TcpSocket* s) {
      Stream& c = adopt(s);
      if constexpr (requires {
                      machine_.handle_stream_opened(node_.now(), s->local(), s->remote());
                    }) {
        machine_.handle_stream_opened(node_.now(), c.socket->local(), c.socket->remote());
      }
      pump();
    });
  }
  // Connects to `remote` now, from `local_port` (0: ephemeral). Bytes the machine sends
  // for the connection's (local, remote) before the handshake completes are queued.
  Result<sim::TcpSocket*> open(const Endpoint& remote, std::uint16_t local_port = 0) {
    auto s = node_.tcp_connect(remote, tcp_config_, local_port);
    if (!s) return s.error();
    ++tcp_connects_;
    Stream& c = adopt(*s);
    c.opened = true;
    return c.socket;
  }
  void set_tcp_config(const sim::TcpConfig& config) { tcp_config_ = config; }
  // A connection failed to open or ended, with the error (refused, reset, timed out) or
  // success for an orderly close by the peer. Called before the machine hears of it.
  void on_stream_closed(
      std::function<void(const Endpoint& local, const Endpoint& remote, Result<void> how)>
          handler) {
    on_stream_closed_ = std::move(handler);
  }

  [[nodiscard]] std::size_t stream_count() const { return streams_.size(); }
  [[nodiscard]] std::uint64_t tcp_connects() const { return tcp_connects_; }

  [[nodiscard]] std::uint64_t unroutable() const { return unroutable_; }
  // Datagrams the machine said were not its own (not STUN, not its transaction, ...).
  [[nodiscard]] std::uint64_t unclaimed() const { return unclaimed_; }

 private:
  struct Stream {
    sim::TcpSocket* socket;
    std::vector<std::uint8_t> pending;  // written when the send buffer has room again
    std::vector<std::uint8_t> frames;   // datagram machines: a partial STUN message
    bool close_after_pending = false;
    bool opened = false;  // by open(): carries the datagram machine's messages too
    bool ended = false;   // closed and forgotten by the driver
  };

  // The socket's handlers share the record, so a handler that closes the driver (or the
  // connection) does not pull it from under the handler still running.
  Stream& adopt(sim::TcpSocket* s) {
    auto c = std::make_shared<Stream>(Stream{s, {}, {}, false, false, false});
    streams_.push_back(c);
    s->on_receive([this, c](ByteView bytes) { stream_input(*c, bytes); });
    s->on_writable([this, c] { flush(*c); });
    s->on_connect([this, c](Result<void> r) {
      if (!r) stream_ended(*c, r);
    });
    s->on_close([this, c](Result<void> r) { stream_ended(*c, r); });
    return *c;
  }

  Stream* stream_for(const Endpoint& local, const Endpoint& remote) const {
    for (const auto& c : streams_) {
      const Endpoint& l = c->socket->local();
      if (c->socket->remote() == remote &&
          (l == local || (local.address.is_unspecified() && l.port == local.port))) {
        return c.get();
      }
    }
    return nullptr;
  }

  void stream_transmit(const traversal::Transmit& t, ByteView bytes) {
    Stream* c = stream_for(t.local, t.remote);
    if (c == nullptr && !t.close) {
      auto s = node_.tcp_connect(t.remote, tcp_config_, t.local.port);
      if (s) {
        ++tcp_connects_;
        c = &adopt(*s);
      }
    }
    if (c == nullptr) {
      ++unroutable_;
      return;
    }
    if (!bytes.empty()) stream_write(*c, bytes);
    if (t.close) {
      if (c->pending.empty()) {
        finish(*c);
      } else {
        c->close_after_pending = true;
      }
    }
  }

  void stream_write(Stream& c, ByteView bytes) {
    if (!c.pending.empty()) {
      c.pending.insert(c.pending.end(), bytes.begin(), bytes.end());
      return;
    }
    auto n = c.socket->send(bytes);
    if (!n) {
      ++unroutable_;
      return;
    }
    if (*n < bytes.size())
      c.pending.assign(bytes.begin() + static_cast<std::ptrdiff_t>(*n), bytes.end());
  }

  void flush(Stream& c) {
    if (c.pending.empty()) return;
    auto n = c.socket->send(c.pending);
    if (!n) return;
    c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<std::ptrdiff_t>(*n));
    if (c.pending.empty() && c.close_after_pending) finish(c);
  }

  void stream_input(Stream& c, ByteView bytes) {
    const TimePoint now = node_.now();
    if constexpr (traversal::StreamMachine<M>) {
      machine_.handle_stream(now, c.socket->local(), c.socket->remote(), bytes);
    } else {
      // RFC 8489 §6.2.2: over TCP, STUN messages follow each other, each as long as its
      // 20-byte header plus the length the header carries.
      c.frames.insert(c.frames.end(), bytes.begin(), bytes.end());
      std::size_t at = 0;
      while (!c.ended && c.frames.size() - at >= traversal::stun::kHeaderSize) {
        const std::size_t size = traversal::stun::kHeaderSize +
                                 ((std::size_t{c.frames[at + 2]} << 8) | c.frames[at + 3]);
        if (c.frames.size() - at < size) break;
        framed_input_ = &c;
        if (!machine_.handle_datagram(now, c.socket->local(), c.socket->remote(),
                                      ByteView(c.frames.data() + at, size))) {
          ++unclaimed_;
        }
        pump();
        framed_input_ = nullptr;
        at += size;
      }
      if (!c.ended)
        c.frames.erase(c.frames.begin(), c.frames.begin() + static_cast<std::ptrdiff_t>(at));
    }
    pump();
  }

  // The peer closed or the connection failed: our side closes too, the machine hears.
  void stream_ended(Stream& c, Result<void> how) {
    const Endpoint local = c.socket->local();
    const Endpoint remote = c.socket->remote();
    finish(c);
    if (on_stream_closed_) on_stream_closed_(local, remote, how);
    if constexpr (traversal::StreamMachine<M>) {
      machine_.handle_stream_closed(node_.now(), local, remote);
    }
    pump();
  }

  // Closes the socket (a FIN after its queued bytes) and forgets the connection.
  void finish(Stream& c) {
    c.ended = true;
    c.socket->close();
    if (framed_input_ == &c) framed_input_ = nullptr;
    std::erase_if(streams_, [&c](const auto& p) { return p.get() == &c; });
  }

  sim::UdpSocket* socket_for(const Endpoint& local) const {
    sim::UdpSocket* by_port = nullptr;
    for (sim::UdpSocket* s : sockets_) {
      if (s->local() == local) return s;
      if (s->local().port == local.port && s->local().address.is_unspecified() &&
          s->local().address.family() == local.address.family()) {
        by_port = s;
      }
    }
    return by_port;
  }

  void reschedule(std::optional<TimePoint> deadline) {
    if (closed_) return;
    if (deadline == armed_) return;
    node_.cancel(timer_);
    armed_ = deadline;
    if (!deadline) return;
    const TimePoint at = *deadline < node_.now() ? node_.now() : *deadline;
    timer_ = node_
                 .schedule_at(at,
                              [this] {
                                armed_.reset();
                                machine_.handle_timeout(node_.now());
                                pump();
                              })
                 .value();
  }

  sim::Node& node_;
  M& machine_;
  std::vector<sim::UdpSocket*> sockets_;
  std::function<void(const Event&)> on_event_;
  std::array<std::uint8_t, 65536> buffer_;  // transmits are built here: never read unwritten
  sim::TimerId timer_;
  std::optional<TimePoint> armed_;
  std::uint64_t unroutable_ = 0;
  std::uint64_t unclaimed_ = 0;
  bool closed_ = false;
  std::vector<sim::TcpListener*> listeners_;
  std::vector<std::shared_ptr<Stream>> streams_;
  Stream* framed_input_ = nullptr;  // the connection whose STUN message is being handled
  sim::TcpConfig tcp_config_{};
  std::function<void(const Endpoint&, const Endpoint&, Result<void>)> on_stream_closed_;
  std::uint64_t tcp_connects_ = 0;
};

}  // namespace natsim::scenarios
