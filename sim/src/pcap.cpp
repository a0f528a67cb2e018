#include "natsim/sim/pcap.hpp"

#include <boost/endian/conversion.hpp>

#include <stdexcept>
#include <string>

#include "natsim/sim/ip_wire.hpp"

namespace natsim::sim {

namespace {

// `big`: the file was written big-endian (its magic says so).
std::uint32_t read32(const std::uint8_t* p, bool big) {
  return big ? boost::endian::load_big_u32(p) : boost::endian::load_little_u32(p);
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
  // Big-endian on every CPU (readers detect the order from the magic), so the same run
  // writes the same bytes everywhere.
  std::uint8_t header[kFileHeaderSize];
  boost::endian::store_big_u32(header, kPcapMagicNanos);
  boost::endian::store_big_u16(header + 4, 2);  // version 2.4
  boost::endian::store_big_u16(header + 6, 4);
  boost::endian::store_big_u32(header + 8, 0);   // thiszone
  boost::endian::store_big_u32(header + 12, 0);  // sigfigs
  boost::endian::store_big_u32(header + 16, kSnapLength);
  boost::endian::store_big_u32(header + 20, kLinktypeRaw);
  std::fwrite(header, 1, sizeof header, file_);
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
  std::uint8_t* header = buffer_.data();
  boost::endian::store_big_u32(header, static_cast<std::uint32_t>(ns / 1'000'000'000));
  boost::endian::store_big_u32(header + 4, static_cast<std::uint32_t>(ns % 1'000'000'000));
  boost::endian::store_big_u32(header + 8, static_cast<std::uint32_t>(size));
  boost::endian::store_big_u32(header + 12, static_cast<std::uint32_t>(size));
  encode_ip_packet(p, MutableByteView(buffer_.data() + kRecordHeaderSize, size));
  std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
  ++records_;
}

boost::system::result<PcapFile, PcapParseError> parse_pcap(ByteView file) {
  if (file.size() < kFileHeaderSize) return PcapParseError::truncated;
  PcapFile out;
  bool swap;  // true: big-endian
  const std::uint32_t little = boost::endian::load_little_u32(file.data());
  const std::uint32_t big = boost::endian::load_big_u32(file.data());
  if (little == kPcapMagicNanos || little == kPcapMagicMicros) {
    swap = false;
  } else if (big == kPcapMagicNanos || big == kPcapMagicMicros) {
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
