// The gateway's UPnP IGD service (nat_models/igd_service.hpp) driven with arbitrary
// bytes: an HTTP request stream cut at an arbitrary point (Beast's parser under the size
// caps, then the description server or SOAP control against a real NAT table), the same
// bytes as a SOAP body and as an SSDP datagram; and the description writer given
// arbitrary UDNs and control hosts, whose documents must stay well-formed XML.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "natsim/nat_models/igd_description.hpp"
#include "natsim/nat_models/igd_service.hpp"

using namespace natsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t cut = std::min<std::size_t>(data[0] % (size - 1) + 1, size - 2);
  const bool secure = (data[1] & 1) != 0;
  const ByteView in(data + 2, size - 2);
  nat::NatTable table(*nat::preset("symmetric"), {IpAddress::v4(203, 0, 113, 2)}, true,
                      sim::Rng(1));
  nat::PortMappingConfig config;
  config.upnp.enabled = true;
  config.upnp.secure_mode = secure;
  config.upnp.max_body = 4096;
  config.upnp.v1_only = (data[1] & 2) != 0;
  config.upnp.ppp = (data[1] & 4) != 0;
  const TimePoint now = TimePoint{} + seconds(5);
  nat::upnp::IgdService igd(table, config, IpAddress::v4(10, 0, 0, 1), TimePoint{});
  const Endpoint client{IpAddress::v4(10, 0, 0, 2), 50000};

  // HTTP in two pieces.
  nat::upnp::HttpRequestReader reader(config.upnp.max_body);
  auto state = reader.feed(in.first(cut));
  if (state == nat::upnp::HttpRequestReader::State::more && cut < in.size())
    state = reader.feed(in.subspan(cut));
  std::string answer;
  if (state == nat::upnp::HttpRequestReader::State::done) {
    answer = igd.answer_http(now, client, reader.request());
  } else if (state != nat::upnp::HttpRequestReader::State::more) {
    answer = igd.answer_unreadable(state, reader.header_too_large());
  }
  if (!answer.empty() && !answer.starts_with("HTTP/1.1 ")) std::abort();

  // The bytes as a SOAP body on each control URL; an answer is always an envelope.
  const std::string_view body(reinterpret_cast<const char*>(in.data()), in.size());
  for (std::string_view path : {nat::upnp::kWanIpControlPath, nat::upnp::kWanCommonControlPath}) {
    auto a = igd.control(now, client.address, path, "", body);
    pugi::xml_document doc;
    if (!doc.load_string(a.body.c_str())) std::abort();
  }

  // As an SSDP datagram.
  (void)igd.handle_datagram(now, Endpoint{traversal::ssdp::kMulticastV4, 1900}, client, in);
  std::array<std::uint8_t, 4096> out{};
  while (igd.poll_transmit(out)) {
  }

  // The description writer with an arbitrary UDN and control host.
  nat::upnp::IgdIdentity id;
  id.uuid = std::string(body.substr(0, cut));
  id.version = (data[1] & 2) != 0 ? 1 : 2;
  const std::string doc_text =
      nat::upnp::device_description(id, "http://" + std::string(body.substr(cut)));
  pugi::xml_document doc;
  // pugixml writes any bytes; what it cannot escape (control characters) may not read
  // back, but it must never crash, and plain text must round trip.
  const bool plain = std::all_of(body.begin(), body.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  // parse_ws_pcdata: a UDN of spaces is text too.
  const unsigned options = pugi::parse_default | pugi::parse_ws_pcdata;
  if (!doc.load_string(doc_text.c_str(), options) && plain) std::abort();
  if (plain && std::string_view(doc.child("root").child("device").child_value("UDN")) != id.uuid)
    std::abort();
  return 0;
}
