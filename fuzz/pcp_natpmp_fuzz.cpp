// PCP and NAT-PMP parsers: arbitrary bytes as requests and responses of both protocols.
// What parses must emit again and parse to the same values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "natsim/traversal/natpmp_wire.hpp"
#include "natsim/traversal/pcp_client.hpp"
#include "natsim/traversal/pcp_wire.hpp"

using namespace natsim;
using namespace natsim::traversal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView bytes(data, size);
  std::uint8_t out[pcp::kMaxMessageSize];
  if (auto q = pcp::parse_request(bytes)) {
    auto n = pcp::emit_request(*q, out);
    if (!q->options.too_many_filters) {
      if (!n) std::abort();
      auto again = pcp::parse_request(ByteView(out, *n));
      if (!again || !(again->data == q->data) || !(again->options == q->options)) std::abort();
    }
  }
  if (auto r = pcp::parse_response(bytes)) {
    if (auto n = pcp::emit_response(*r, out); n && *n > sizeof out) std::abort();
  }
  (void)pcp::emit_error(bytes, pcp::ResultCode::malformed_request, 1800, 7, out);
  if (auto q = natpmp::parse_request(bytes)) {
    auto n = natpmp::emit_request(*q, out);
    if (!n) std::abort();
    auto again = natpmp::parse_request(ByteView(out, *n));
    if (!again || !(*again == *q)) std::abort();
  } else if (auto n = natpmp::emit_error(bytes, q.error(), 7, out); n && *n > sizeof out) {
    std::abort();
  }
  if (auto r = natpmp::parse_response(bytes)) (void)natpmp::emit_response(*r, out);
  MappingAsk ask;
  ask.internal_port = 4000;
  (void)pcp_client::read(bytes, ask);
  (void)natpmp_client::read(bytes, &ask);
  return 0;
}
