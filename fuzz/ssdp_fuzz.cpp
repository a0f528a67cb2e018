// SSDP datagrams (traversal/ssdp.hpp): parse must answer with a message or an error; a
// parsed message formats to text that parses back to the same message, and the IGD's
// answers to a parsed search parse too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "natsim/nat_models/igd_ssdp.hpp"
#include "natsim/traversal/ssdp.hpp"

using namespace natsim;
namespace ssdp = natsim::traversal::ssdp;

namespace {
ByteView view(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto m = ssdp::parse(ByteView(data, size));
  if (!m) return 0;
  // Beast refuses line breaks in values, so every parsed value can be written back.
  auto back = ssdp::parse(view(ssdp::format(*m)));
  if (!back || !(*back == *m)) std::abort();
  for (const auto& a : nat::upnp::igd_search_answers({}, *m)) {
    if (!ssdp::parse(view(ssdp::format(a)))) std::abort();
  }
  return 0;
}
