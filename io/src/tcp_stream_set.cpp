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
// After an accept error that is about us (out of descriptors, buffers), wait before the
// next accept instead of spinning on the same error.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

bool peer_side(const boost::system::error_code& ec) {
  return ec == boost::asio::error::connection_aborted || ec == boost::asio::error::connection_reset;
}
}  // namespace

struct TcpStreamSet::Listener {
  explicit Listener(boost::asio::io_context& io) : acceptor(io), backoff(io) {}
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer backoff;
  Endpoint local;
};

struct TcpStreamSet::Connection {
  explicit Connection(boost::asio::ip::tcp::socket s) : socket(std::move(s)), buffer(kReadBuffer) {}
  boost::asio::ip::tcp::socket socket;
  Endpoint local;
  Endpoint remote;
  std::vector<std::uint8_t> buffer;
  std::deque<std::vector<std::uint8_t>> queue;  // front() is being written while `writing`
  std::size_t queued_bytes = 0;
  bool writing = false;
  bool closing = false;  // close() or EOF: finish once the queue is written
  bool ended = false;    // finished: forgotten by the set, its handlers return untouched
};

TcpStreamSet::TcpStreamSet(boost::asio::io_context& io, std::size_t max_connections,
                           std::size_t max_queued_bytes)
    : io_(io), max_connections_(max_connections), max_queued_bytes_(max_queued_bytes) {}

TcpStreamSet::~TcpStreamSet() {
  alive_.reset();
  boost::system::error_code ignored;
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
  return connections_.size() + connecting_.size() >= max_connections_;
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

void TcpStreamSet::adopt(boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ignored;
  if (full()) {
    ++counters_.refused;
    socket.close(ignored);
    return;
  }
  auto connection = std::make_shared<Connection>(std::move(socket));
  boost::system::error_code ec;
  const auto local = connection->socket.local_endpoint(ec);
  if (ec) {
    ++counters_.accept_errors;
    return;
  }
  const auto remote = connection->socket.remote_endpoint(ec);
  if (ec) {  // the peer is already gone
    ++counters_.accept_errors;
    return;
  }
  connection->socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  connection->local = from_asio(local);
  connection->remote = from_asio(remote);
  ++counters_.accepted;
  connections_.emplace(connection->remote, connection);
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
        ++counters_.connected;
        connections_.emplace(connection->remote, connection);
        start_read(connection);
        done(connection->local);
      });
}

void TcpStreamSet::start_read(const ConnectionPtr& connection) {
  connection->socket.async_read_some(boost::asio::buffer(connection->buffer),
                                     [this, connection, alive = std::weak_ptr<char>(alive_)](
                                         const boost::system::error_code& ec, std::size_t size) {
                                       // `ended`: the set closed the socket (this is the aborted
                                       // read) and forgot it.
                                       if (alive.expired() || connection->ended) return;
                                       if (ec == boost::asio::error::eof) {
                                         // The peer will send no more; write what is queued (it may
                                         // still read), then close.
                                         connection->closing = true;
                                         pump_writes(connection);
                                         return;
                                       }
                                       if (ec) {
                                         ++counters_.receive_errors;
                                         finish(connection);
                                         return;
                                       }
                                       if (!connection->closing && receive_) {
                                         counters_.received_bytes += size;
                                         const ByteView bytes(connection->buffer.data(), size);
                                         if (tap_) {
                                           tap_(Direction::in, connection->local,
                                                connection->remote, bytes);
                                           if (alive.expired() || connection->ended) return;
                                         }
                                         // The connection (and with it local, remote and the
                                         // buffer) outlives the call: this handler holds it,
                                         // whatever the callback does to the set.
                                         receive_(connection->local, connection->remote, bytes);
                                       }
                                       // The callback may have closed the connection or destroyed
                                       // the set.
                                       if (!alive.expired() && !connection->ended)
                                         start_read(connection);
                                     });
}

bool TcpStreamSet::send(const Endpoint& local, const Endpoint& remote, ByteView bytes) {
  const ConnectionPtr connection = find(local, remote);
  if (!connection || connection->closing) {
    ++counters_.unroutable;
    return false;
  }
  if (bytes.size() > max_queued_bytes_ - connection->queued_bytes) {
    ++counters_.queue_overflows;
    finish(connection);
    return false;
  }
  if (bytes.empty()) return true;
  connection->queue.emplace_back(bytes.begin(), bytes.end());
  connection->queued_bytes += bytes.size();
  pump_writes(connection);
  return true;
}

void TcpStreamSet::close(const Endpoint& local, const Endpoint& remote) {
  const ConnectionPtr connection = find(local, remote);
  if (!connection || connection->closing) return;
  connection->closing = true;
  pump_writes(connection);
}

void TcpStreamSet::pump_writes(const ConnectionPtr& connection) {
  if (connection->ended || connection->writing) return;
  if (!connection->queue.empty()) {
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
  boost::asio::async_write(connection->socket, boost::asio::buffer(connection->queue.front()),
                           [this, connection, alive = std::weak_ptr<char>(alive_)](
                               const boost::system::error_code& ec, std::size_t) {
                             if (alive.expired() || connection->ended) return;
                             connection->writing = false;
                             if (ec) {
                               // E.g. the peer reset the connection: what is queued can never
                               // arrive.
                               ++counters_.send_errors;
                               finish(connection);
                               return;
                             }
                             const std::vector<std::uint8_t> written =
                                 std::move(connection->queue.front());
                             connection->queue.pop_front();
                             connection->queued_bytes -= written.size();
                             counters_.sent_bytes += written.size();
                             if (tap_) {
                               tap_(Direction::out, connection->local, connection->remote, written);
                               if (alive.expired()) return;
                             }
                             pump_writes(connection);
                           });
}

void TcpStreamSet::finish(ConnectionPtr connection) {
  if (connection->ended) return;
  connection->ended = true;
  boost::system::error_code ignored;
  // Aborts the pending read and write; their handlers see `ended` and return. The queued
  // buffers stay with the connection until the last handler releases it.
  connection->socket.close(ignored);
  const auto range = connections_.equal_range(connection->remote);
  const auto it = std::find_if(range.first, range.second, [&connection](const auto& entry) {
    return entry.second == connection;
  });
  if (it != range.second) connections_.erase(it);
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
