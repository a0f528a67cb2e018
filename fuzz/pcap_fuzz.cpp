// Whole pcap images: the reader bounds every record by the file, whatever lengths claim.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "natsim/sim/ip_wire.hpp"
#include "natsim/sim/pcap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const natsim::ByteView file(data, size);
  auto parsed = natsim::sim::parse_pcap(file);
  if (!parsed) return 0;
  for (const auto& r : parsed->records) {
    if (r.data.data() < data || r.data.data() + r.data.size() > data + size) std::abort();
    (void)natsim::sim::parse_ip_packet(r.data);
  }
  return 0;
}
