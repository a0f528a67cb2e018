// The IGD's side of the UPnP codecs: SOAP action requests read, answers and UPnP errors
// written (and read back by the client codec), SSDP search answers and NOTIFY sets.
#include <gtest/gtest.h>

#include "natsim/nat_models/igd_ssdp.hpp"
#include "natsim/nat_models/upnp_soap_device.hpp"

namespace natsim::nat::upnp {
namespace {

namespace soap = traversal::upnp;
namespace ssdp = traversal::ssdp;

TEST(UpnpDevice, ReadsTheClientsRequest) {
  soap::PortMappingEntry e;
  e.external_port = 40000;
  e.internal_port = 4000;
  e.internal_client = "192.168.1.20";
  const Action sent = soap::add_port_mapping(e);
  auto got = parse_request(soap::format_request(sent), soap::soap_action_header(sent));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, sent);
  // The header without quotes is accepted; one naming another action is not.
  EXPECT_TRUE(parse_request(soap::format_request(sent),
                            "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"));
  EXPECT_EQ(parse_request(soap::format_request(sent),
                          "\"urn:schemas-upnp-org:service:WANIPConnection:1#DeletePortMapping\"")
                .error(),
            kInvalidAction);
}

TEST(UpnpDevice, HostileRequestsAreInvalidActionOrArgs) {
  EXPECT_EQ(parse_request("<not xml", "").error().code, 401u);
  EXPECT_EQ(parse_request("<Envelope><Body/></Envelope>", "").error().code, 401u);
  EXPECT_EQ(parse_request("<s:Envelope><s:Body><u:X xmlns:u=\"s\"><A><B/></A></u:X>"
                          "</s:Body></s:Envelope>",
                          "")
                .error()
                .code,
            402u);
}

TEST(UpnpDevice, AnswersAndErrorsReadBackByTheClient) {
  Action out{std::string(soap::kWanIpConnection1),
             "GetExternalIPAddress",
             {{"NewExternalIPAddress", "203.0.113.7"}}};
  auto r = soap::parse_response(format_response(out), "GetExternalIPAddress");
  ASSERT_TRUE(r);
  const auto& a = std::get<Action>(*r);
  EXPECT_EQ(a.service_type, soap::kWanIpConnection1);
  EXPECT_EQ(*a.argument("NewExternalIPAddress"), "203.0.113.7");
  const UpnpError conflict{718, "ConflictInMappingEntry"};
  auto f = soap::parse_response(format_fault(conflict), "AddPortMapping");
  ASSERT_TRUE(f);
  EXPECT_EQ(std::get<UpnpError>(*f), conflict);
}

ssdp::Message search(const char* target) {
  ssdp::Message m;
  m.target = target;
  m.mx = 2;
  return m;
}

TEST(UpnpDevice, AnswersSearchesForWhatItHas) {
  const IgdIdentity id;
  EXPECT_EQ(igd_search_answers(id, search("ssdp:all")).size(), 9u);
  auto igd = igd_search_answers(id, search("urn:schemas-upnp-org:device:InternetGatewayDevice:1"));
  ASSERT_EQ(igd.size(), 1u);
  EXPECT_EQ(igd[0].kind, ssdp::Kind::response);
  EXPECT_EQ(igd[0].usn, id.uuid + "::urn:schemas-upnp-org:device:InternetGatewayDevice:1");
  EXPECT_EQ(igd[0].location, id.location);
  EXPECT_EQ(igd[0].max_age, 1800u);
  // What goes on the wire parses back to the same answer.
  auto wire = ssdp::format(igd[0]);
  auto back =
      ssdp::parse(ByteView(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, igd[0]);
  auto ip = igd_search_answers(id, search("urn:schemas-upnp-org:service:WANIPConnection:1"));
  ASSERT_EQ(ip.size(), 1u);
  EXPECT_TRUE(
      igd_search_answers(id, search("urn:schemas-upnp-org:service:WANIPConnection:2")).empty());
  EXPECT_TRUE(igd_search_answers(id, search("urn:dial-multiscreen-org:service:dial:1")).empty());
  EXPECT_EQ(igd_search_answers(id, search(id.uuid.c_str())).size(), 1u);
}

TEST(UpnpDevice, NotifiesEveryTargetAliveAndByebye) {
  const IgdIdentity id;
  auto alive = igd_notifications(id, true);
  auto bye = igd_notifications(id, false);
  ASSERT_EQ(alive.size(), 9u);  // 3 for the root, 2 per embedded device, 2 services
  ASSERT_EQ(bye.size(), 9u);
  EXPECT_EQ(alive[0].target, "upnp:rootdevice");
  EXPECT_EQ(alive[0].usn, id.uuid + "::upnp:rootdevice");
  EXPECT_EQ(bye[0].kind, ssdp::Kind::byebye);
  EXPECT_TRUE(bye[0].location.empty());
  for (const auto& m : alive) {
    auto wire = ssdp::format(m);
    auto back =
        ssdp::parse(ByteView(reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()));
    ASSERT_TRUE(back) << wire;
    EXPECT_EQ(*back, m);
  }
}

}  // namespace
}  // namespace natsim::nat::upnp
