#include "natsim/sim/trace.hpp"

#include <cstring>

namespace natsim::sim {

Trace::~Trace() { close_log(); }

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

void Trace::mix_bytes(ByteView bytes) {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    mix(w);
  }
  std::uint64_t tail = bytes.size();
  for (; i < bytes.size(); ++i) tail = (tail << 8) | bytes[i];
  mix(tail);
}

void Trace::mix_string(std::string_view s) {
  mix_bytes(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

void Trace::packet(TimePoint t, TraceKind kind, std::string_view where, const Packet& p,
                   DropReason reason) {
  ++records_;
  mix(static_cast<std::uint64_t>(to_ns(t)));
  mix((static_cast<std::uint64_t>(kind) << 8) | static_cast<std::uint64_t>(reason));
  mix_string(where);
  mix(p.src.hash());
  mix(p.dst.hash());
  mix((static_cast<std::uint64_t>(p.proto) << 8) | p.ttl);
  mix_bytes(p.payload());
  if (log_ == nullptr) return;
  std::fprintf(log_, R"({"t_ns":%lld,"ev":"%.*s","at":"%.*s","id":%llu,"src":"%s","dst":"%s",)"
                     R"("proto":"%s","len":%zu)",
               static_cast<long long>(to_ns(t)), static_cast<int>(to_string(kind).size()),
               to_string(kind).data(), static_cast<int>(where.size()), where.data(),
               static_cast<unsigned long long>(p.id), p.src.to_string().c_str(),
               p.dst.to_string().c_str(), p.proto == IpProto::udp ? "udp" : "tcp",
               p.payload_size());
  if (kind == TraceKind::drop) {
    const auto r = to_string(reason);
    std::fprintf(log_, R"(,"reason":"%.*s")", static_cast<int>(r.size()), r.data());
  }
  std::fputs("}\n", log_);
}

void Trace::timer(TimePoint t, std::string_view where) {
  ++records_;
  mix(static_cast<std::uint64_t>(to_ns(t)));
  mix(static_cast<std::uint64_t>(TraceKind::timer) << 8);
  mix_string(where);
  if (log_ == nullptr) return;
  std::fprintf(log_, R"({"t_ns":%lld,"ev":"timer","at":"%.*s"})"
                     "\n",
               static_cast<long long>(to_ns(t)), static_cast<int>(where.size()), where.data());
}

}  // namespace natsim::sim
