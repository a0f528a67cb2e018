#pragma once
// Standard pcap files (nanosecond timestamps, LINKTYPE_RAW) that Wireshark and tshark
// dissect: every record is a synthesised IPv4 or IPv6 packet with correct checksums.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/base/result.hpp"
#include "natsim/base/time.hpp"
#include "natsim/sim/packet.hpp"

namespace natsim::sim {

// pcap file format (draft-ietf-opsawg-pcap): the nanosecond-resolution magic.
inline constexpr std::uint32_t kPcapMagicNanos = 0xa1b23c4d;
inline constexpr std::uint32_t kPcapMagicMicros = 0xa1b2c3d4;
inline constexpr std::uint32_t kLinktypeRaw = 101;  // raw IPv4/IPv6, version from first nibble

class PcapWriter {
 public:
  PcapWriter() = default;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();

  // Creates (truncates) `path` and writes the file header.
  Result<void> open(const std::string& path);
  void close();
  [[nodiscard]] bool is_open() const { return file_ != nullptr; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::uint64_t records() const { return records_; }

  // Appends `p` as seen at virtual time `t`.
  void write(TimePoint t, const Packet& p);

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  std::uint64_t records_ = 0;
  std::vector<std::uint8_t> buffer_;  // reused for every record
};

struct PcapRecord {
  std::int64_t t_ns = 0;
  std::uint32_t original_length = 0;
  ByteView data;  // points into the parsed file
};

struct PcapFile {
  std::uint32_t linktype = 0;
  bool nanosecond = false;
  std::vector<PcapRecord> records;
};

enum class PcapParseError : std::uint8_t { truncated, bad_magic, bad_record_length };
[[nodiscard]] const char* to_string(PcapParseError e);
[[noreturn]] void throw_exception_from_error(PcapParseError e, const boost::source_location& loc);

// Reads a whole pcap file image (either byte order, either resolution).
[[nodiscard]] boost::system::result<PcapFile, PcapParseError> parse_pcap(ByteView file);

}  // namespace natsim::sim
