#include "natsim/sim/packet.hpp"

#include <algorithm>
#include <cassert>

namespace natsim::sim {

void Packet::resize(std::size_t size) {
  assert(size <= kMaxUdpPayload + kUdpHeaderSize);
  if (size > kInlineCapacity) {
    if (size > large_capacity_) {
      auto bigger = std::make_unique<std::uint8_t[]>(size);
      if (data_ == large_.get() && size_ > 0) std::memcpy(bigger.get(), data_, size_);
      if (data_ == inline_ && size_ > 0) std::memcpy(bigger.get(), inline_, size_);
      large_ = std::move(bigger);
      large_capacity_ = static_cast<std::uint32_t>(size);
    } else if (data_ == inline_ && size_ > 0) {
      std::memcpy(large_.get(), inline_, size_);
    }
    data_ = large_.get();
  } else if (data_ != inline_) {
    std::memcpy(inline_, data_, size < size_ ? size : size_);
    data_ = inline_;
  }
  size_ = static_cast<std::uint32_t>(size);
}

PacketPool::~PacketPool() {
  assert(in_use_ == 0 && "packets outlived their pool");
}

PacketPtr PacketPool::acquire() {
  if (free_ == nullptr) {
    // Chunks grow from kFirstChunk to kChunk packets: a short run (a connect scenario
    // needs a few dozen packets in flight) does not pay for 400 KB it never touches. The
    // payload bytes are left uninitialised, as a reused packet's are stale (see resize()).
    const std::size_t n = std::min(kChunk, std::max(kFirstChunk, allocated_));
    auto chunk = std::make_unique_for_overwrite<Packet[]>(n);
    for (std::size_t i = 0; i < n; ++i) {
      chunk[i].pool_ = this;
      chunk[i].next_free_ = free_;
      free_ = &chunk[i];
    }
    chunks_.push_back(std::move(chunk));
    allocated_ += n;
  }
  Packet* p = free_;
  free_ = p->next_free_;
  ++in_use_;
  return PacketPtr(p);
}

PacketPtr PacketPool::clone(const Packet& src) {
  PacketPtr p = acquire();
  p->src = src.src;
  p->dst = src.dst;
  p->proto = src.proto;
  p->ttl = src.ttl;
  p->tcp = src.tcp;
  p->icmp = src.icmp;
  p->id = src.id;
  p->assign(src.payload());
  return p;
}

void PacketPool::release(Packet* p) noexcept {
  p->src = {};
  p->dst = {};
  p->proto = IpProto::udp;
  p->ttl = 64;
  p->tcp = {};
  p->icmp = {};
  p->id = 0;
  p->size_ = 0;
  p->data_ = p->inline_;
  p->next_free_ = free_;
  free_ = p;
  --in_use_;
}

}  // namespace natsim::sim
