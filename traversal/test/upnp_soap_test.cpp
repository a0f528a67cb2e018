// UPnP control envelopes (UDA 1.1 §3.2) for WANIPConnection, client side: the requests
// a control point sends, a device's answers as miniupnpd writes them, UPnP errors.
#include "natsim/traversal/upnp_soap.hpp"

#include <gtest/gtest.h>

namespace natsim::traversal::upnp {
namespace {

TEST(UpnpSoap, AddPortMappingRequest) {
  PortMappingEntry e;
  e.external_port = 40000;
  e.internal_port = 4000;
  e.internal_client = "192.168.1.20";
  e.description = "natsim & co";  // escaped in XML
  e.lease_duration = 3600;
  const Action a = add_port_mapping(e);
  EXPECT_EQ(soap_action_header(a),
            "\"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"");
  EXPECT_EQ(format_request(a),
            "<?xml version=\"1.0\"?>"
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
            "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
            "<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
            "<NewRemoteHost></NewRemoteHost><NewExternalPort>40000</NewExternalPort>"
            "<NewProtocol>UDP</NewProtocol><NewInternalPort>4000</NewInternalPort>"
            "<NewInternalClient>192.168.1.20</NewInternalClient><NewEnabled>1</NewEnabled>"
            "<NewPortMappingDescription>natsim &amp; co</NewPortMappingDescription>"
            "<NewLeaseDuration>3600</NewLeaseDuration>"
            "</u:AddPortMapping></s:Body></s:Envelope>");
}

TEST(UpnpSoap, DeleteAndGetExternalAddressRequests) {
  const Action d = delete_port_mapping("", 40000, "TCP", kWanIpConnection2);
  EXPECT_EQ(soap_action_header(d),
            "\"urn:schemas-upnp-org:service:WANIPConnection:2#DeletePortMapping\"");
  ASSERT_EQ(d.arguments.size(), 3u);
  EXPECT_EQ(*d.argument("NewProtocol"), "TCP");
  EXPECT_NE(format_request(get_external_ip_address()).find("<u:GetExternalIPAddress xmlns:u"),
            std::string::npos);
}

// miniupnpd's answers (upnpsoap.c): prefix u, the service type as its namespace.
TEST(UpnpSoap, ParsesAnAnswerWithOutArguments) {
  const std::string xml =
      "<?xml version=\"1.0\"?>\r\n"
      "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
      "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
      "<u:GetExternalIPAddressResponse "
      "xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\">"
      "<NewExternalIPAddress>203.0.113.7</NewExternalIPAddress>"
      "</u:GetExternalIPAddressResponse></s:Body></s:Envelope>\r\n";
  auto r = parse_response(xml, "GetExternalIPAddress");
  ASSERT_TRUE(r) << to_string(r.error());
  const auto& a = std::get<Action>(*r);
  EXPECT_EQ(a.name, "GetExternalIPAddressResponse");
  EXPECT_EQ(a.service_type, kWanIpConnection1);
  ASSERT_NE(a.argument("NewExternalIPAddress"), nullptr);
  EXPECT_EQ(*a.argument("NewExternalIPAddress"), "203.0.113.7");
  // Another prefix, an empty answer.
  auto add = parse_response(
      "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>"
      "<m:AddPortMappingResponse xmlns:m=\"urn:schemas-upnp-org:service:WANIPConnection:1\"/>"
      "</S:Body></S:Envelope>",
      "AddPortMapping");
  ASSERT_TRUE(add);
  EXPECT_TRUE(std::get<Action>(*add).arguments.empty());
}

TEST(UpnpSoap, ParsesAUpnpError) {
  const std::string xml =
      "<?xml version=\"1.0\"?>\r\n"
      "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
      "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><s:Fault>"
      "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
      "<UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode>"
      "<errorDescription>ConflictInMappingEntry</errorDescription></UPnPError>"
      "</detail></s:Fault></s:Body></s:Envelope>\r\n";
  auto r = parse_response(xml, "AddPortMapping");
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<UpnpError>(*r), (UpnpError{718, "ConflictInMappingEntry"}));
}

TEST(UpnpSoap, MalformedAnswersAreNamed) {
  const auto err = [](std::string_view xml) {
    auto r = parse_response(xml, "AddPortMapping");
    EXPECT_FALSE(r);
    return r ? SoapError::not_xml : r.error();
  };
  EXPECT_EQ(err("<a><b></a>"), SoapError::not_xml);
  EXPECT_EQ(err(""), SoapError::not_xml);
  EXPECT_EQ(err("<Body/>"), SoapError::no_envelope);
  EXPECT_EQ(err("<s:Envelope xmlns:s=\"x\"/>"), SoapError::no_body);
  EXPECT_EQ(err("<s:Envelope><s:Body>text</s:Body></s:Envelope>"), SoapError::empty_body);
  EXPECT_EQ(err("<s:Envelope><s:Body><u:DeletePortMappingResponse/></s:Body></s:Envelope>"),
            SoapError::wrong_action);
  EXPECT_EQ(err("<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>71x</errorCode>"
                "</UPnPError></detail></s:Fault></s:Body></s:Envelope>"),
            SoapError::bad_fault);
  EXPECT_EQ(err(std::string(kMaxEnvelopeSize + 1, ' ')), SoapError::too_large);
  // An entity bomb's references are not expanded (pugixml reads no DTD entities).
  auto bomb = parse_response(
      "<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
      "<s:Envelope><s:Body><u:AddPortMappingResponse><X>&b;</X>"
      "</u:AddPortMappingResponse></s:Body></s:Envelope>",
      "AddPortMapping");
  ASSERT_TRUE(bomb);
  EXPECT_LT(std::get<Action>(*bomb).arguments.at(0).value.size(), 8u);
}

}  // namespace
}  // namespace natsim::traversal::upnp
