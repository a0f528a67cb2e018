#pragma once
// Packets travel the virtual network as pooled objects: the pool recycles them, so a
// steady flow of packets allocates nothing once the pool has warmed up.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/endpoint.hpp"

namespace natsim::sim {

enum class IpProto : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

// RFC 9293 §3.1 flag bits.
namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
}  // namespace tcp_flags

struct TcpHeader {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint16_t window = 0;
  std::uint8_t flags = 0;
  // RFC 9293 §3.2: the Maximum Segment Size option (kind 2), sent on SYNs; 0 = absent.
  std::uint16_t mss = 0;
};

// RFC 792: the fields of an ICMP message natsim sends (destination unreachable); the
// packet's payload is the quoted original datagram (its IP header and first 8 bytes).
struct IcmpHeader {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
};
namespace icmp {
inline constexpr std::uint8_t dest_unreachable = 3;  // RFC 792 type 3
inline constexpr std::uint8_t port_unreachable = 3;  // RFC 792 code 3
}  // namespace icmp

inline constexpr std::size_t kIpv4HeaderSize = 20;   // RFC 791, no options
inline constexpr std::size_t kIpv6HeaderSize = 40;   // RFC 8200 fixed header
inline constexpr std::size_t kUdpHeaderSize = 8;     // RFC 768
inline constexpr std::size_t kTcpHeaderSize = 20;    // RFC 9293, no options
inline constexpr std::size_t kTcpMssOptionSize = 4;  // RFC 9293 §3.2: kind 2, length 4
inline constexpr std::size_t kIcmpHeaderSize = 8;    // RFC 792: type, code, checksum, unused
// RFC 792: an error quotes the original's IP header and the first 64 bits of its data.
inline constexpr std::size_t kIcmpQuotedData = 8;
// RFC 768 / RFC 791: the largest UDP payload an IPv4 datagram can carry.
inline constexpr std::size_t kMaxUdpPayload = 65535 - kIpv4HeaderSize - kUdpHeaderSize;

class PacketPool;

class Packet {
 public:
  static constexpr std::size_t kInlineCapacity = 1536;

  Endpoint src;
  Endpoint dst;
  IpProto proto = IpProto::udp;
  std::uint8_t ttl = 64;
  TcpHeader tcp;         // meaningful when proto == tcp
  IcmpHeader icmp;       // meaningful when proto == icmp
  std::uint64_t id = 0;  // unique per network, for traces and pcap IP ids

  [[nodiscard]] ByteView payload() const { return {data_, size_}; }
  [[nodiscard]] MutableByteView payload() { return {data_, size_}; }
  [[nodiscard]] std::size_t payload_size() const { return size_; }
  // Resizes the payload; contents past the old size are unspecified.
  void resize(std::size_t size);
  void assign(ByteView bytes) {
    resize(bytes.size());
    if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
  }

  [[nodiscard]] std::size_t l4_header_size() const {
    if (proto == IpProto::udp) return kUdpHeaderSize;
    if (proto == IpProto::icmp) return kIcmpHeaderSize;
    return kTcpHeaderSize + (tcp.mss != 0 ? kTcpMssOptionSize : 0);
  }
  [[nodiscard]] std::size_t ip_header_size() const {
    return src.address.is_v4() ? kIpv4HeaderSize : kIpv6HeaderSize;
  }
  // Bytes the packet occupies on a wire (IP header onward): what MTU and bandwidth see.
  [[nodiscard]] std::size_t wire_size() const {
    return ip_header_size() + l4_header_size() + size_;
  }

 private:
  friend class PacketPool;
  friend struct PacketReturner;
  std::uint8_t* data_ = inline_;
  std::uint32_t size_ = 0;
  std::unique_ptr<std::uint8_t[]> large_;  // only for payloads past kInlineCapacity
  std::uint32_t large_capacity_ = 0;
  PacketPool* pool_ = nullptr;
  Packet* next_free_ = nullptr;
  std::uint8_t inline_[kInlineCapacity];
};

struct PacketReturner {
  void operator()(Packet* p) const noexcept;
};
// Owning handle: destroying it returns the packet to its pool.
using PacketPtr = std::unique_ptr<Packet, PacketReturner>;

class PacketPool {
 public:
  PacketPool() = default;
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;
  ~PacketPool();

  // A packet with default headers and an empty payload.
  [[nodiscard]] PacketPtr acquire();
  // A copy of `p` (headers and payload), for duplication and multicast.
  [[nodiscard]] PacketPtr clone(const Packet& p);

  [[nodiscard]] std::size_t allocated() const { return allocated_; }
  [[nodiscard]] std::size_t in_use() const { return in_use_; }

 private:
  friend struct PacketReturner;
  void release(Packet* p) noexcept;

  static constexpr std::size_t kFirstChunk = 16;
  static constexpr std::size_t kChunk = 256;
  std::vector<std::unique_ptr<Packet[]>> chunks_;
  Packet* free_ = nullptr;
  std::size_t allocated_ = 0;
  std::size_t in_use_ = 0;
};

inline void PacketReturner::operator()(Packet* p) const noexcept {
  p->pool_->release(p);
}

}  // namespace natsim::sim
