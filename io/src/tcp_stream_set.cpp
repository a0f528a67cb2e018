#include "natsim/io/tcp_stream_set.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>

#include "natsim/io/endpoint_conversion.hpp"

namespace natsim::io {

namespace {
constexpr std::size_t kReadBuffer = 65536;  // one read delivers at most this much
// A drained output buffer keeps at most this much capacity, so a burst does not pin
// memory for the connection's lifetime and steady traffic does not allocate per send.
constexpr std::size_t kKeepCapacity = 16 * 1024;
// After an accept error that is about us (out of descriptors, buffers), wait before the
// next accept instead of spinning on the same error.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

bool peer_side(const boost::system::error_code& ec) {
  return ec == boost::asio::error::connection_aborted || ec == boost::asio::error::connection_reset;
}

// The key connections are counted under: an IPv4 address, an IPv6 /64.
IpAddress source_of(const Endpoint& remote) {
  return remote.address.is_v4() ? remote.address : remote.address.masked(64);
}

void release_if_large(std::vector<std::uint8_t>& bytes) {
  bytes.clear();
  if (bytes.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(bytes);
}
}  // namespace

struct TcpStreamSet::Listener {
  explicit Listener(boost::asio::io_context& io) : acceptor(io), backoff(io) {}
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer backoff;
  Endpoint local;
};

struct TcpStreamSet::Connection {
  explicit Connection(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
  boost::asio::ip::tcp::socket socket;
  Endpoint local;
  Endpoint remote;
  // Bytes being written (while `writing`), and bytes sent meanwhile, written next: two
  // contiguous buffers, so the count is exact and a send costs no allocation once warm.
  std::vector<std::uint8_t> writing_bytes;
  std::vector<std::uint8_t> pending;
  std::size_t queued_bytes = 0;  // writing_bytes + pending
  std::chrono::steady_clock::time_point last_active;
  bool accepted = false;  // counted in per_source_
  bool reading = false;   // a readiness wait is in flight
  bool paused = false;    // not reading: too much output queued
  bool writing = false;
  bool closing = false;     // close() or EOF: finish once the queue is written
  bool connecting = false;  // open(): not established yet, output waits in `pending`
  bool ended = false;       // finished: forgotten by the set, its handlers return untouched
};

TcpStreamSet::TcpStreamSet(boost::asio::io_context& io, TcpLimits limits)
    : io_(io), limits_(limits), read_buffer_(kReadBuffer), idle_timer_(io), close_timer_(io) {}

TcpStreamSet::~TcpStreamSet() {
  alive_.reset();
  boost::system::error_code ignored;
  idle_timer_.cancel();
  close_timer_.cancel();
  for (auto& listener : listeners_) {
    listener->acceptor.close(ignored);
    listener->backoff.cancel();
  }
  for (auto& entry : connections_)
    entry.second->socket.close(ignored);
  for (auto& connection : connecting_)
    connection->socket.close(ignored);
}

boost::system::result<Endpoint> TcpStreamSet::listen(const Endpoint& local) {
  auto listener = std::make_unique<Listener>(io_);
  const auto endpoint = to_asio_tcp(local);
  boost::system::error_code ec;
  listener->acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec;
  listener->acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (ec) return ec;
  if (local.address.is_v6()) {
    listener->acceptor.set_option(boost::asio::ip::v6_only(true), ec);
    if (ec) return ec;
  }
  listener->acceptor.bind(endpoint, ec);
  if (ec) return ec;
  listener->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  const auto bound = listener->acceptor.local_endpoint(ec);
  if (ec) return ec;
  listener->local = from_asio(bound);
  listeners_.push_back(std::move(listener));
  start_accept(*listeners_.back());
  return listeners_.back()->local;
}

std::vector<Endpoint> TcpStreamSet::listen_endpoints() const {
  std::vector<Endpoint> out;
  out.reserve(listeners_.size());
  for (const auto& listener : listeners_)
    out.push_back(listener->local);
  return out;
}

bool TcpStreamSet::full() const {
  return connections_.size() + connecting_.size() >= limits_.max_connections;
}

void TcpStreamSet::start_accept(Listener& listener) {
  listener.acceptor.async_accept(
      [this, &listener, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec,
                                                             boost::asio::ip::tcp::socket socket) {
        if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
        if (!ec) {
          adopt(std::move(socket));
        } else if (!peer_side(ec)) {
          ++counters_.accept_errors;
          listener.backoff.expires_after(kAcceptBackoff);
          listener.backoff.async_wait(
              [this, &listener, alive](const boost::system::error_code& wait_ec) {
                if (alive.expired() || wait_ec == boost::asio::error::operation_aborted) return;
                start_accept(listener);
              });
          return;
        } else {
          ++counters_.accept_errors;  // the peer reset the connection while it was queued
        }
        start_accept(listener);
      });
}

// When full: the busiest source gives up its least recently active connection to a
// newcomer from a source with fewer, so one host (or a few) holding every place cannot
// lock the others out. False when no source is busier than the newcomer's would become.
bool TcpStreamSet::make_room(const IpAddress& source) {
  const auto own = per_source_.find(source);
  const std::size_t newcomer = (own == per_source_.end() ? 0 : own->second) + 1;
  const std::pair<const IpAddress, std::size_t>* busiest = nullptr;
  for (const auto& entry : per_source_)
    if (busiest == nullptr || entry.second > busiest->second) busiest = &entry;
  if (busiest == nullptr || busiest->second <= newcomer) return false;
  ConnectionPtr victim;
  for (const auto& entry : connections_) {
    const ConnectionPtr& c = entry.second;
    if (c->accepted && source_of(c->remote) == busiest->first &&
        (!victim || c->last_active < victim->last_active))
      victim = c;
  }
  if (!victim) return false;
  ++counters_.evicted;
  finish(victim);
  return true;
}

void TcpStreamSet::adopt(boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ignored;
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  if (ec) {
    ++counters_.accept_errors;
    return;
  }
  const auto remote = socket.remote_endpoint(ec);
  if (ec) {  // the peer is already gone
    ++counters_.accept_errors;
    return;
  }
  const Endpoint remote_endpoint = from_asio(remote);
  const IpAddress source = source_of(remote_endpoint);
  const auto count = per_source_.find(source);
  if (limits_.max_per_source != 0 && count != per_source_.end() &&
      count->second >= limits_.max_per_source) {
    ++counters_.refused_per_source;
    socket.close(ignored);
    return;
  }
  if (full() && !make_room(source)) {
    ++counters_.refused;
    socket.close(ignored);
    return;
  }
  auto connection = std::make_shared<Connection>(std::move(socket));
  connection->socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  // Reads are attempted after a readiness wait and must never block the loop.
  connection->socket.non_blocking(true, ignored);
  connection->local = from_asio(local);
  connection->remote = remote_endpoint;
  connection->accepted = true;
  connection->last_active = std::chrono::steady_clock::now();
  ++per_source_[source];
  ++counters_.accepted;
  connections_.emplace(connection->remote, connection);
  arm_idle_sweep();
  if (opened_) {
    const std::weak_ptr<char> alive = alive_;
    opened_(connection->local, connection->remote);
    if (alive.expired() || connection->ended) return;
  }
  start_read(connection);
}

void TcpStreamSet::connect(const Endpoint& remote, Connected done,
                           const std::optional<Endpoint>& local) {
  const auto endpoint = to_asio_tcp(remote);
  auto connection = std::make_shared<Connection>(boost::asio::ip::tcp::socket(io_));
  connection->remote = remote;
  boost::system::error_code ec;
  if (full()) {
    ec = boost::asio::error::no_buffer_space;
  } else {
    connection->socket.open(endpoint.protocol(), ec);
  }
  if (!ec && local) {
    if (local->address.is_v6()) connection->socket.set_option(boost::asio::ip::v6_only(true), ec);
    if (!ec) connection->socket.bind(to_asio_tcp(*local), ec);
  }
  if (ec) {
    ++counters_.connect_failures;
    // Reported from the io_context like every other outcome, never from inside connect().
    boost::asio::post(io_, [ec, done = std::move(done), alive = std::weak_ptr<char>(alive_)] {
      if (!alive.expired()) done(ec);
    });
    return;
  }
  boost::system::error_code ignored;
  connection->socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  connecting_.push_back(connection);
  connection->socket.async_connect(
      endpoint, [this, connection, done = std::move(done),
                 alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& error) {
        if (alive.expired()) return;
        std::erase(connecting_, connection);
        boost::system::error_code failure = error;
        boost::asio::ip::tcp::endpoint bound;
        if (!failure) bound = connection->socket.local_endpoint(failure);
        if (failure) {
          ++counters_.connect_failures;
          boost::system::error_code unused;
          connection->socket.close(unused);
          done(failure);
          return;
        }
        connection->local = from_asio(bound);
        connection->socket.non_blocking(true, failure);
        connection->last_active = std::chrono::steady_clock::now();
        ++counters_.connected;
        connections_.emplace(connection->remote, connection);
        arm_idle_sweep();
        start_read(connection);
        done(connection->local);
      });
}

void TcpStreamSet::open(const Endpoint& local, const Endpoint& remote) {
  auto connection = std::make_shared<Connection>(boost::asio::ip::tcp::socket(io_));
  connection->local = local;
  connection->remote = remote;
  connection->connecting = true;
  connection->last_active = std::chrono::steady_clock::now();
  const auto endpoint = to_asio_tcp(remote);
  boost::system::error_code ec;
  if (full()) ec = boost::asio::error::no_buffer_space;
  // Named at once, so that what the machine sends before the handshake ends is queued
  // on it (send() finds it) rather than refused as unroutable.
  connections_.emplace(remote, connection);
  if (!ec) connection->socket.open(endpoint.protocol(), ec);
  // A machine reuses its few local ports in turn; the previous connection from one may
  // still be in TIME_WAIT towards another peer.
  if (!ec) connection->socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec && local.address.is_v6())
    connection->socket.set_option(boost::asio::ip::v6_only(true), ec);
  if (!ec) connection->socket.bind(to_asio_tcp(local), ec);
  if (ec) {
    ++counters_.connect_failures;
    finish(connection);  // on_closed is posted, never called from inside open()
    return;
  }
  boost::system::error_code ignored;
  connection->socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  connection->socket.async_connect(
      endpoint, [this, connection,
                 alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& error) {
        if (alive.expired() || connection->ended) return;
        connection->connecting = false;
        boost::system::error_code failure = error;
        if (!failure) connection->socket.non_blocking(true, failure);
        if (failure) {
          ++counters_.connect_failures;
          finish(connection);
          return;
        }
        connection->last_active = std::chrono::steady_clock::now();
        ++counters_.connected;
        arm_idle_sweep();
        start_read(connection);
        pump_writes(connection);
      });
}

void TcpStreamSet::start_read(const ConnectionPtr& connection) {
  if (connection->ended || connection->reading || connection->paused) return;
  connection->reading = true;
  // Wait for readiness, then read into the set's one buffer: a connection that sends
  // nothing holds no read buffer.
  connection->socket.async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      [this, connection, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
        // `ended`: the set closed the socket (this is the aborted wait) and forgot it.
        if (alive.expired() || connection->ended) return;
        connection->reading = false;
        if (ec) {
          ++counters_.receive_errors;
          finish(connection);
          return;
        }
        read_ready(connection);
      });
}

void TcpStreamSet::read_ready(const ConnectionPtr& connection) {
  // A read is at most an eighth of the room between the pause threshold and the cap, so a
  // machine that answers with up to 8x the bytes it read cannot overflow a connection that
  // was just under the threshold.
  const std::size_t headroom = limits_.max_queued_bytes > limits_.pause_reading_above
                                   ? limits_.max_queued_bytes - limits_.pause_reading_above
                                   : 0;
  const std::size_t want = std::clamp<std::size_t>(headroom / 8, 512, read_buffer_.size());
  boost::system::error_code ec;
  const std::size_t size =
      connection->socket.read_some(boost::asio::buffer(read_buffer_.data(), want), ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    start_read(connection);  // a spurious wake-up
    return;
  }
  if (ec == boost::asio::error::eof) {
    // The peer will send no more; write what is queued (it may still read), then close.
    start_closing(connection);
    return;
  }
  if (ec) {
    ++counters_.receive_errors;
    finish(connection);
    return;
  }
  connection->last_active = std::chrono::steady_clock::now();
  const std::weak_ptr<char> alive = alive_;
  if (!connection->closing && receive_) {
    counters_.received_bytes += size;
    const ByteView bytes(read_buffer_.data(), size);
    if (tap_) {
      tap_(Direction::in, connection->local, connection->remote, bytes);
      if (alive.expired() || connection->ended) return;
    }
    // The connection (and with it local and remote) outlives the call: this handler
    // holds it, whatever the callback does to the set. Nothing reads into the buffer
    // until the callback returns (one thread).
    receive_(connection->local, connection->remote, bytes);
  }
  // The callback may have closed the connection or destroyed the set.
  if (alive.expired() || connection->ended) return;
  if (connection->queued_bytes > limits_.pause_reading_above) {
    // Backpressure: what the peer sends makes output it does not read; stop reading until
    // the output drains (the kernel's window then stops the peer).
    connection->paused = true;
    ++paused_;
    ++counters_.read_pauses;
    return;
  }
  start_read(connection);
}

bool TcpStreamSet::send(const Endpoint& local, const Endpoint& remote, ByteView bytes) {
  const ConnectionPtr connection = find(local, remote);
  if (!connection || connection->closing) {
    ++counters_.unroutable;
    return false;
  }
  if (bytes.size() > limits_.max_queued_bytes - connection->queued_bytes) {
    ++counters_.queue_overflows;
    finish(connection);
    return false;
  }
  if (bytes.empty()) return true;
  connection->pending.insert(connection->pending.end(), bytes.begin(), bytes.end());
  connection->queued_bytes += bytes.size();
  queued_bytes_ += bytes.size();
  pump_writes(connection);
  return true;
}

void TcpStreamSet::close(const Endpoint& local, const Endpoint& remote) {
  const ConnectionPtr connection = find(local, remote);
  if (!connection || connection->closing) return;
  start_closing(connection);
}

void TcpStreamSet::start_closing(const ConnectionPtr& connection) {
  connection->closing = true;
  pump_writes(connection);
  if (connection->ended || limits_.close_timeout <= std::chrono::steady_clock::duration::zero())
    return;
  // Output is still queued: a peer that does not read would hold the connection until
  // idle_timeout (an hour in serve turn), so the flush gets a deadline.
  closing_.emplace_back(std::chrono::steady_clock::now() + limits_.close_timeout, connection);
  arm_close_timer();
}

void TcpStreamSet::arm_close_timer() {
  if (close_armed_ || closing_.empty()) return;
  close_armed_ = true;
  close_timer_.expires_at(closing_.front().first);
  close_timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
        close_armed_ = false;
        expire_closing();
      });
}

void TcpStreamSet::expire_closing() {
  const auto now = std::chrono::steady_clock::now();
  while (!closing_.empty() && closing_.front().first <= now) {
    const ConnectionPtr connection = std::move(closing_.front().second);
    closing_.pop_front();
    if (connection->ended) continue;  // flushed (or ended otherwise) in time
    ++counters_.close_timeouts;
    finish(connection);
  }
  arm_close_timer();
}

void TcpStreamSet::pump_writes(const ConnectionPtr& connection) {
  if (connection->ended || connection->writing || connection->connecting) return;
  if (!connection->pending.empty()) {
    start_write(connection);
  } else if (connection->closing) {
    // Everything is written: send FIN before closing, for a graceful close.
    boost::system::error_code ignored;
    connection->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    finish(connection);
  }
}

void TcpStreamSet::start_write(const ConnectionPtr& connection) {
  connection->writing = true;
  // Everything sent so far goes out in one write; later sends gather in `pending`.
  std::swap(connection->writing_bytes, connection->pending);
  boost::asio::async_write(
      connection->socket, boost::asio::buffer(connection->writing_bytes),
      [this, connection, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec,
                                                              std::size_t) {
        if (alive.expired() || connection->ended) return;
        connection->writing = false;
        if (ec) {
          // E.g. the peer reset the connection: what is queued can never arrive.
          ++counters_.send_errors;
          finish(connection);
          return;
        }
        const std::size_t written = connection->writing_bytes.size();
        connection->queued_bytes -= written;
        queued_bytes_ -= written;
        counters_.sent_bytes += written;
        connection->last_active = std::chrono::steady_clock::now();
        if (tap_) {
          tap_(Direction::out, connection->local, connection->remote, connection->writing_bytes);
          if (alive.expired() || connection->ended) return;
        }
        release_if_large(connection->writing_bytes);
        if (connection->paused && connection->queued_bytes < limits_.resume_reading_below) {
          connection->paused = false;
          --paused_;
          start_read(connection);
        }
        pump_writes(connection);
      });
}

void TcpStreamSet::arm_idle_sweep() {
  if (idle_armed_ || limits_.idle_timeout <= std::chrono::steady_clock::duration::zero()) return;
  idle_armed_ = true;
  // A quarter of the timeout: a connection is closed at most 1.25 x idle_timeout after
  // its last byte, for one timer per set instead of one per connection.
  idle_timer_.expires_after(limits_.idle_timeout / 4);
  idle_timer_.async_wait(
      [this, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
        idle_armed_ = false;
        sweep_idle();
      });
}

void TcpStreamSet::sweep_idle() {
  const auto cutoff = std::chrono::steady_clock::now() - limits_.idle_timeout;
  std::vector<ConnectionPtr> idle;
  for (const auto& entry : connections_)
    if (entry.second->last_active <= cutoff) idle.push_back(entry.second);
  for (const ConnectionPtr& connection : idle) {
    ++counters_.idle_closed;
    finish(connection);
  }
  if (!connections_.empty()) arm_idle_sweep();
}

void TcpStreamSet::finish(ConnectionPtr connection) {
  if (connection->ended) return;
  connection->ended = true;
  boost::system::error_code ignored;
  // Aborts the pending wait and write; their handlers see `ended` and return.
  connection->socket.close(ignored);
  const auto range = connections_.equal_range(connection->remote);
  const auto it = std::find_if(range.first, range.second, [&connection](const auto& entry) {
    return entry.second == connection;
  });
  if (it != range.second) connections_.erase(it);
  if (connection->accepted) {
    const auto count = per_source_.find(source_of(connection->remote));
    if (count != per_source_.end() && --count->second == 0) per_source_.erase(count);
  }
  if (connection->paused) --paused_;
  queued_bytes_ -= connection->queued_bytes;
  connection->queued_bytes = 0;
  // Output that can never be written goes now; the buffer of a write in flight stays
  // until its aborted handler has run.
  std::vector<std::uint8_t>().swap(connection->pending);
  if (!connection->writing) std::vector<std::uint8_t>().swap(connection->writing_bytes);
  ++counters_.closed;
  boost::asio::post(io_, [this, connection, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired() && closed_) closed_(connection->local, connection->remote);
  });
}

TcpStreamSet::ConnectionPtr TcpStreamSet::find(const Endpoint& local,
                                               const Endpoint& remote) const {
  ConnectionPtr same_port;
  const auto range = connections_.equal_range(remote);
  for (auto it = range.first; it != range.second; ++it) {
    const ConnectionPtr& connection = it->second;
    if (connection->local == local) return connection;
    if (!same_port && connection->local.port == local.port &&
        connection->local.address.family() == local.address.family()) {
      same_port = connection;
    }
  }
  return same_port;
}

}  // namespace natsim::io
