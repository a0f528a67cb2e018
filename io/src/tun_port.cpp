#include "natsim/io/tun_port.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace natsim::io {

namespace {
// The largest IP packet (RFC 791 total length, RFC 8200 payload length plus header).
constexpr std::size_t kMaxIpPacket = 65535 + sim::kIpv6HeaderSize;
// Packets read per readiness wake-up: drains a burst, yet lets timers run between bursts.
constexpr int kReadsPerWake = 64;
}  // namespace

TunPort::TunPort(boost::asio::io_context& io, int fd, sim::Node& node, RealtimeDriver& driver)
    : node_(node), driver_(driver), fd_(io, fd), in_(kMaxIpPacket), out_(kMaxIpPacket) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

TunPort::~TunPort() {
  close();
  node_.set_local_tap(nullptr);
}

void TunPort::start() {
  node_.set_local_tap([this](sim::PacketPtr p) { write_packet(std::move(p)); });
  wait_readable();
}

void TunPort::close() {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  fd_.cancel(ignored);
  fd_.close(ignored);
}

void TunPort::wait_readable() {
  if (!open_) return;
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [this](const boost::system::error_code& ec) {
                   // Any error (not only a cancel) ends the wait: re-arming on a broken
                   // descriptor would spin.
                   if (ec || !open_) return;
                   read_ready();
                 });
}

void TunPort::read_ready() {
  // Virtual time is brought up to the wall clock once per burst: the packets of one
  // wake-up enter at the same instant, in the order the kernel queued them.
  bool gone = false;
  driver_.inject([this, &gone] {
    for (int i = 0; i < kReadsPerWake; ++i) {
      const ssize_t n = ::read(fd_.native_handle(), in_.data(), in_.size());
      if (n > 0) {
        handle_packet(ByteView(in_.data(), static_cast<std::size_t>(n)));
        continue;
      }
      // EAGAIN: drained; EINTR: try at the next wake-up. Anything else, or end of file,
      // means the device (or its namespace) is gone: epoll would report it forever.
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
      gone = true;
      break;
    }
  });
  if (gone) {
    ++counters_.read_failed;
    close();
    return;
  }
  wait_readable();
}

void TunPort::handle_packet(ByteView bytes) {
  auto parsed = sim::parse_ip_packet(bytes);
  if (!parsed) {
    if (parsed.error() == sim::IpParseError::unsupported_protocol) {
      ++counters_.unsupported;
    } else {
      ++counters_.malformed;
    }
    return;
  }
  // ICMP: only destination unreachable (a closed port's answer) is modelled; echo and
  // the rest have no meaning in the world.
  if (parsed->proto == sim::IpProto::icmp && parsed->icmp.type != sim::icmp::dest_unreachable) {
    ++counters_.unsupported;
    return;
  }
  // A packet holds at most the simulator's largest UDP datagram (an IPv6 jumbo-free
  // packet can carry 20 bytes more than IPv4 can).
  if (parsed->payload.size() > sim::kMaxUdpPayload) {
    ++counters_.malformed;
    return;
  }
  if (!node_.owns(parsed->src.address)) {
    ++counters_.foreign_source;
    return;
  }
  ++counters_.from_tun;
  counters_.bytes_from_tun += bytes.size();
  sim::PacketPtr p = node_.network().packets().acquire();
  p->src = parsed->src;
  p->dst = parsed->dst;
  p->proto = parsed->proto;
  p->ttl = parsed->ttl;
  p->tcp = parsed->tcp;
  p->icmp = parsed->icmp;
  p->assign(parsed->payload);
  // No route is counted by the node as a drop; nothing more to do here.
  (void)node_.send(std::move(p));
}

void TunPort::write_packet(sim::PacketPtr packet) {
  if (!open_) {
    ++counters_.write_dropped;
    return;
  }
  const std::size_t size = packet->wire_size();
  if (size > out_.size()) {
    ++counters_.write_dropped;
    return;
  }
  sim::encode_ip_packet(*packet, MutableByteView(out_.data(), size));
  // A TUN write never blocks for long; a full queue (EAGAIN) drops the packet, as a
  // congested interface would.
  const ssize_t n = ::write(fd_.native_handle(), out_.data(), size);
  if (n != static_cast<ssize_t>(size)) {
    ++counters_.write_dropped;
    return;
  }
  ++counters_.to_tun;
  counters_.bytes_to_tun += size;
}

}  // namespace natsim::io
