// ICE descriptions as they arrive from another agent's signalling: every line either
// fails with an error or parses, and what parses formats back to a line that parses to
// the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "natsim/traversal/ice_sdp.hpp"

using namespace natsim::traversal::ice;

namespace {

void round_trip(std::string_view line) {
  const auto a = parse_attribute(line);
  if (!a) {
    if (to_string(a.error()).empty()) std::abort();
    return;
  }
  if (const auto* c = std::get_if<Candidate>(&*a)) {
    const auto back = parse_candidate(format_candidate(*c));
    if (!back || *back != *c) std::abort();
  } else if (const auto* u = std::get_if<IceUfrag>(&*a)) {
    const auto back = parse_attribute(format_ufrag(u->value));
    if (!back || std::get<IceUfrag>(*back).value != u->value) std::abort();
  } else if (const auto* p = std::get_if<IcePwd>(&*a)) {
    const auto back = parse_attribute(format_pwd(p->value));
    if (!back || std::get<IcePwd>(*back).value != p->value) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  DescriptionReader reader;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto nl = text.find('\n', start);
    const std::string_view line =
        text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    round_trip(line);
    (void)reader.add_line(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // A complete description formats to text the reader takes back whole.
  const Description& d = reader.description();
  if (reader.complete()) {
    DescriptionReader again;
    const std::string out = format_description(d);
    std::size_t s = 0;
    while (s < out.size()) {
      const auto nl = out.find('\n', s);
      if (!again.add_line(std::string_view(out).substr(s, nl - s))) std::abort();
      s = nl + 1;
    }
    if (!again.complete() || again.description().candidates != d.candidates) std::abort();
  }
  return 0;
}
