#include "natsim/sim/pcap.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "natsim/sim/ip_wire.hpp"

namespace natsim::sim {

namespace {

std::uint32_t read32(const std::uint8_t* p, bool swap) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return swap ? __builtin_bswap32(v) : v;
}

constexpr std::size_t kFileHeaderSize = 24;
constexpr std::size_t kRecordHeaderSize = 16;
constexpr std::uint32_t kSnapLength = 65535 + kIpv6HeaderSize;

}  // namespace

const char* to_string(PcapParseError e) {
  switch (e) {
    case PcapParseError::truncated:
      return "truncated";
    case PcapParseError::bad_magic:
      return "not a pcap file";
    case PcapParseError::bad_record_length:
      return "bad record length";
  }
  return "?";
}

void throw_exception_from_error(PcapParseError e, const boost::source_location& loc) {
  throw std::runtime_error(std::string("pcap: ") + to_string(e) + " at " + loc.to_string());
}

PcapWriter::~PcapWriter() {
  close();
}

Result<void> PcapWriter::open(const std::string& path) {
  close();
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return Errc::invalid_argument;
  path_ = path;
  records_ = 0;
  // Written in host byte order; readers detect it from the magic.
  struct {
    std::uint32_t magic = kPcapMagicNanos;
    std::uint16_t version_major = 2;
    std::uint16_t version_minor = 4;
    std::uint32_t reserved1 = 0;  // thiszone
    std::uint32_t reserved2 = 0;  // sigfigs
    std::uint32_t snaplen = kSnapLength;
    std::uint32_t linktype = kLinktypeRaw;
  } header;
  static_assert(sizeof header == kFileHeaderSize);
  std::fwrite(&header, 1, sizeof header, file_);
  return {};
}

void PcapWriter::close() {
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
}

void PcapWriter::write(TimePoint t, const Packet& p) {
  if (file_ == nullptr) return;
  const std::size_t size = p.wire_size();
  buffer_.resize(kRecordHeaderSize + size);
  const std::int64_t ns = to_ns(t);
  const std::uint32_t header[4] = {
      static_cast<std::uint32_t>(ns / 1'000'000'000),
      static_cast<std::uint32_t>(ns % 1'000'000'000),
      static_cast<std::uint32_t>(size),
      static_cast<std::uint32_t>(size),
  };
  std::memcpy(buffer_.data(), header, sizeof header);
  encode_ip_packet(p, MutableByteView(buffer_.data() + kRecordHeaderSize, size));
  std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
  ++records_;
}

boost::system::result<PcapFile, PcapParseError> parse_pcap(ByteView file) {
  if (file.size() < kFileHeaderSize) return PcapParseError::truncated;
  std::uint32_t magic;
  std::memcpy(&magic, file.data(), 4);
  PcapFile out;
  bool swap;
  if (magic == kPcapMagicNanos || magic == kPcapMagicMicros) {
    swap = false;
  } else if (__builtin_bswap32(magic) == kPcapMagicNanos ||
             __builtin_bswap32(magic) == kPcapMagicMicros) {
    swap = true;
  } else {
    return PcapParseError::bad_magic;
  }
  out.nanosecond = read32(file.data(), swap) == kPcapMagicNanos;
  const std::uint32_t snaplen = read32(file.data() + 16, swap);
  out.linktype = read32(file.data() + 20, swap) & 0x0fffffffu;
  std::size_t at = kFileHeaderSize;
  while (at < file.size()) {
    if (file.size() - at < kRecordHeaderSize) return PcapParseError::truncated;
    const std::uint32_t seconds = read32(file.data() + at, swap);
    const std::uint32_t fraction = read32(file.data() + at + 4, swap);
    const std::uint32_t captured = read32(file.data() + at + 8, swap);
    const std::uint32_t original = read32(file.data() + at + 12, swap);
    at += kRecordHeaderSize;
    if (captured > snaplen || captured > original) return PcapParseError::bad_record_length;
    if (file.size() - at < captured) return PcapParseError::truncated;
    PcapRecord r;
    r.t_ns = std::int64_t{seconds} * 1'000'000'000 +
             std::int64_t{fraction} * (out.nanosecond ? 1 : 1000);
    r.original_length = original;
    r.data = file.subspan(at, captured);
    out.records.push_back(r);
    at += captured;
  }
  return out;
}

}  // namespace natsim::sim
