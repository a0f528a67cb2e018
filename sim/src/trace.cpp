#include "natsim/sim/trace.hpp"

#include <boost/endian/conversion.hpp>
#include <utility>

namespace natsim::sim {

Trace::~Trace() {
  close_log();
}

bool Trace::open_log(const char* path) {
  close_log();
  log_ = std::fopen(path, "w");
  owns_log_ = log_ != nullptr;
  return log_ != nullptr;
}

void Trace::set_log(std::FILE* out) {
  close_log();
  log_ = out;
}

void Trace::close_log() {
  if (log_ != nullptr) {
    if (owns_log_) {
      std::fclose(log_);
    } else {
      std::fflush(log_);
    }
  }
  log_ = nullptr;
  owns_log_ = false;
}

namespace {
// Four independent multiply lanes: hashing a payload is not one long dependency chain.
std::uint64_t hash_bytes(ByteView bytes) {
  std::uint64_t lane[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull,
                           0x082efa98ec4e6c89ull};
  std::size_t i = 0;
  for (; i + 32 <= bytes.size(); i += 32) {
    for (int k = 0; k < 4; ++k) {
      // Big-endian words, never host-endian: the digest is the same on every CPU.
      const std::uint64_t w = boost::endian::load_big_u64(bytes.data() + i + 8 * k);
      lane[k] = (lane[k] ^ w) * 0x9fb21c651e98df25ull;
    }
  }
  std::uint64_t tail = bytes.size();
  for (; i < bytes.size(); ++i)
    tail = (tail << 8) ^ (tail >> 56) ^ bytes[i];
  std::uint64_t h = lane[0] ^ (lane[1] >> 1) ^ (lane[2] >> 2) ^ (lane[3] >> 3) ^ tail;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}
}  // namespace

void Trace::digest_packet(TimePoint t, TraceKind kind, std::uint64_t where_hash, const Packet& p,
                          DropReason reason) {
  ++records_;
  mix(static_cast<std::uint64_t>(to_ns(t)));
  mix((static_cast<std::uint64_t>(kind) << 8) | static_cast<std::uint64_t>(reason));
  mix(where_hash);
  mix(p.src.hash() ^ (p.dst.hash() << 1));
  mix((static_cast<std::uint64_t>(p.proto) << 8) | p.ttl);
  mix(hash_bytes(p.payload()));
  // TCP headers too (UDP records hash exactly as before).
  if (p.proto == IpProto::tcp) {
    mix((std::uint64_t{p.tcp.seq} << 32) | p.tcp.ack);
    mix((std::uint64_t{p.tcp.mss} << 24) | (std::uint64_t{p.tcp.window} << 8) | p.tcp.flags);
  }
  if (p.proto == IpProto::icmp) mix((std::uint64_t{p.icmp.type} << 8) | p.icmp.code);
}

void Trace::log_packet(TimePoint t, TraceKind kind, std::string_view where, const Packet& p,
                       DropReason reason) {
  std::fprintf(log_,
               R"({"t_ns":%lld,"ev":"%.*s","at":"%.*s","id":%llu,"src":"%s","dst":"%s",)"
               R"("proto":"%s","len":%zu)",
               static_cast<long long>(to_ns(t)), static_cast<int>(to_string(kind).size()),
               to_string(kind).data(), static_cast<int>(where.size()), where.data(),
               static_cast<unsigned long long>(p.id), p.src.to_string().c_str(),
               p.dst.to_string().c_str(),
               p.proto == IpProto::udp   ? "udp"
               : p.proto == IpProto::tcp ? "tcp"
                                         : "icmp",
               p.payload_size());
  if (p.proto == IpProto::tcp) {
    // RFC 9293 §3.1 flags, in the order tcpdump prints them.
    char flags[8];
    std::size_t n = 0;
    constexpr std::pair<std::uint8_t, char> kFlags[] = {{tcp_flags::syn, 'S'},
                                                        {tcp_flags::fin, 'F'},
                                                        {tcp_flags::rst, 'R'},
                                                        {tcp_flags::psh, 'P'},
                                                        {tcp_flags::ack, '.'}};
    for (auto [bit, c] : kFlags) {
      if ((p.tcp.flags & bit) != 0) flags[n++] = c;
    }
    std::fprintf(log_, R"(,"flags":"%.*s","seq":%u,"ack":%u,"win":%u)", static_cast<int>(n), flags,
                 p.tcp.seq, p.tcp.ack, p.tcp.window);
  }
  if (kind == TraceKind::drop) {
    const auto r = to_string(reason);
    std::fprintf(log_, R"(,"reason":"%.*s")", static_cast<int>(r.size()), r.data());
  }
  std::fputs("}\n", log_);
}

void Trace::timer(TimePoint t, std::string_view where, std::uint64_t where_hash) {
  ++records_;
  mix(static_cast<std::uint64_t>(to_ns(t)));
  mix(static_cast<std::uint64_t>(TraceKind::timer) << 8);
  mix(where_hash);
  if (log_ == nullptr) return;
  std::fprintf(log_,
               R"({"t_ns":%lld,"ev":"timer","at":"%.*s"})"
               "\n",
               static_cast<long long>(to_ns(t)), static_cast<int>(where.size()), where.data());
}

}  // namespace natsim::sim
