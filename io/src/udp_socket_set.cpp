#include "natsim/io/udp_socket_set.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include "natsim/io/endpoint_conversion.hpp"

namespace natsim::io {

namespace {
constexpr std::size_t kMaxDatagram = 65536;  // the largest UDP payload, plus slack
// Datagrams read from one socket per readiness wake-up: enough to drain a burst in one
// go, few enough that one busy socket cannot starve the others.
constexpr int kReadsPerWake = 16;
}  // namespace

struct UdpSocketSet::Slot {
  explicit Slot(boost::asio::io_context& io) : socket(io) {}
  boost::asio::ip::udp::socket socket;
  Endpoint local;
};

UdpSocketSet::UdpSocketSet(boost::asio::io_context& io) : io_(io), buffer_(kMaxDatagram) {}

UdpSocketSet::~UdpSocketSet() {
  alive_.reset();
  for (auto& slot : slots_) {
    boost::system::error_code ignored;
    slot->socket.close(ignored);
  }
}

boost::system::result<Endpoint> UdpSocketSet::bind(const Endpoint& local) {
  auto slot = std::make_unique<Slot>(io_);
  const auto endpoint = to_asio(local);
  boost::system::error_code ec;
  slot->socket.open(endpoint.protocol(), ec);
  if (ec) return ec;
  if (local.address.is_v6()) {
    slot->socket.set_option(boost::asio::ip::v6_only(true), ec);
    if (ec) return ec;
  }
  slot->socket.bind(endpoint, ec);
  if (ec) return ec;
  // Receives happen after a readiness wait and must never block the loop.
  slot->socket.non_blocking(true, ec);
  if (ec) return ec;
  const auto bound = slot->socket.local_endpoint(ec);
  if (ec) return ec;
  slot->local = from_asio(bound);
  slots_.push_back(std::move(slot));
  start_receive(*slots_.back());
  return slots_.back()->local;
}

std::vector<Endpoint> UdpSocketSet::local_endpoints() const {
  std::vector<Endpoint> out;
  out.reserve(slots_.size());
  for (const auto& slot : slots_)
    out.push_back(slot->local);
  return out;
}

void UdpSocketSet::start_receive(Slot& slot) {
  // Wait for readiness, then receive into the set's one buffer: ten thousand idle relay
  // ports hold ten thousand sockets, not ten thousand 64 KiB buffers.
  slot.socket.async_wait(
      boost::asio::ip::udp::socket::wait_read,
      [this, &slot, alive = std::weak_ptr<char>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
        if (ec) {
          ++counters_.receive_errors;
        } else {
          receive_ready(slot, alive);
        }
        // The callback may have destroyed the set (e.g. a driver's owner reacting to
        // an event): only re-arm while it is alive.
        if (!alive.expired()) start_receive(slot);
      });
}

void UdpSocketSet::receive_ready(Slot& slot, const std::weak_ptr<char>& alive) {
  for (int i = 0; i < kReadsPerWake; ++i) {
    boost::asio::ip::udp::endpoint sender;
    boost::system::error_code ec;
    const std::size_t size = slot.socket.receive_from(boost::asio::buffer(buffer_), sender, 0, ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) return;
    if (ec) {
      // E.g. ECONNREFUSED from an ICMP error queued on the socket: count, go on.
      ++counters_.receive_errors;
      continue;
    }
    if (!receive_) continue;
    ++counters_.received;
    const Endpoint remote = from_asio(sender);
    const ByteView bytes(buffer_.data(), size);
    if (tap_) tap_(Direction::in, slot.local, remote, bytes);
    if (alive.expired()) return;
    // Nothing receives into the buffer until the callback returns (one thread).
    receive_(slot.local, remote, bytes);
    if (alive.expired()) return;
  }
}

UdpSocketSet::Slot* UdpSocketSet::find(const Endpoint& local) const {
  Slot* same_port = nullptr;
  for (const auto& slot : slots_) {
    if (slot->local == local) return slot.get();
    if (!same_port && slot->local.port == local.port &&
        slot->local.address.family() == local.address.family()) {
      same_port = slot.get();
    }
  }
  return same_port;
}

bool UdpSocketSet::send(const Endpoint& local, const Endpoint& remote, ByteView bytes) {
  Slot* slot = find(local);
  if (!slot) {
    ++counters_.unroutable;
    return false;
  }
  boost::system::error_code ec;
  // Synchronous: a UDP send completes at once (or fails), and the caller's buffer need
  // not outlive the call.
  slot->socket.send_to(boost::asio::buffer(bytes.data(), bytes.size()), to_asio(remote), 0, ec);
  if (ec) {
    ++counters_.send_errors;
    return false;
  }
  ++counters_.sent;
  if (tap_) tap_(Direction::out, slot->local, remote, bytes);
  return true;
}

}  // namespace natsim::io
