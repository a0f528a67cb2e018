// The device description parser against miniupnpd's and other routers' documents.
#include "natsim/traversal/igd_description.hpp"

#include <gtest/gtest.h>

#include <string>

#include "igd_descriptions.hpp"

namespace natsim::traversal::upnp {
namespace {

TEST(IgdDescription, MiniupnpdV1GivesWanIpConnection1) {
  auto s = parse_description(testdata::kMiniupnpdV1, "http://192.168.1.1:5000/rootDesc.xml");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_EQ(s->service_type, "urn:schemas-upnp-org:service:WANIPConnection:1");
  EXPECT_EQ(s->control, (HttpUrl{"192.168.1.1", 5000, "/ctl/IPConn"}));
  EXPECT_EQ(s->version(), 1);
  EXPECT_FALSE(s->is_ppp());
}

TEST(IgdDescription, MiniupnpdV2GivesWanIpConnection2) {
  auto s = parse_description(testdata::kMiniupnpdV2, "http://10.0.0.1:36841/rootDesc.xml");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_EQ(s->service_type, "urn:schemas-upnp-org:service:WANIPConnection:2");
  EXPECT_EQ(to_string(s->control), "http://10.0.0.1:36841/ctl/IPConn");
  EXPECT_EQ(s->version(), 2);
}

TEST(IgdDescription, IpBeforePppAndUrlBaseBeforeLocation) {
  // The PPP service comes first in the document; IP is chosen. URLBase wins over the
  // LOCATION the description came from.
  auto s = parse_description(testdata::kDslRouterV1, "http://192.168.178.1:49000/igddesc.xml");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_EQ(s->service_type, "urn:schemas-upnp-org:service:WANIPConnection:1");
  EXPECT_EQ(s->control, (HttpUrl{"192.168.178.1", 49000, "/igdupnp/control/WANIPConn1"}));
  auto other = parse_description(testdata::kDslRouterV1, "http://10.9.9.9:1/x.xml");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->control.host, "192.168.178.1");
}

TEST(IgdDescription, V2BeforeV1WhereverTheyAre) {
  std::string both(testdata::kMiniupnpdV2);
  // Add a WANIPConnection:1 before the :2 in the same list.
  const std::string v1 =
      "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
      "<controlURL>/ctl/v1</controlURL></service>";
  both.insert(both.find("<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2"),
              v1);
  auto s = parse_description(both, "http://10.0.0.1:5000/rootDesc.xml");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->control.path, "/ctl/IPConn");
}

TEST(IgdDescription, PppOnlyWithRelativeUrlAndPrefixes) {
  auto s = parse_description(testdata::kPppOnlyRelative, "http://192.168.0.1:1900/desc/igd.xml");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_TRUE(s->is_ppp());
  EXPECT_EQ(s->service_type, "urn:schemas-upnp-org:service:WANPPPConnection:1");
  // RFC 3986 §5.2.3: relative to the description's directory.
  EXPECT_EQ(s->control, (HttpUrl{"192.168.0.1", 1900, "/desc/upnp/control/WANPPPConn1"}));
}

TEST(IgdDescription, ErrorsAreNamed) {
  const std::string_view loc = "http://192.168.1.1:5000/rootDesc.xml";
  EXPECT_EQ(parse_description("<root", loc).error(), DescriptionError::not_xml);
  EXPECT_EQ(parse_description("<scpd/>", loc).error(), DescriptionError::no_root);
  EXPECT_EQ(parse_description("<root/>", loc).error(), DescriptionError::no_device);
  std::string no_wan(testdata::kMiniupnpdV1);
  no_wan.replace(no_wan.find("WANIPConnection:1"), 17, "WANIPConnection:x");
  EXPECT_EQ(parse_description(no_wan, loc).error(), DescriptionError::no_wan_connection);
  std::string ftp(testdata::kMiniupnpdV1);
  ftp.replace(ftp.find("/ctl/IPConn"), 11, "ftp://x/ctl");
  EXPECT_EQ(parse_description(ftp, loc).error(), DescriptionError::bad_url);
  EXPECT_EQ(parse_description(testdata::kMiniupnpdV1, "not a url").error(),
            DescriptionError::bad_url);
  EXPECT_EQ(parse_description(std::string(kMaxDescriptionSize + 1, ' '), loc).error(),
            DescriptionError::too_large);
  // Entities are not expanded: a billion laughs stays text and the document has no root.
  EXPECT_FALSE(parse_description(
      R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><root>&b;</root>)",
      loc));
}

TEST(IgdDescription, HttpUrls) {
  EXPECT_EQ(parse_http_url("http://192.168.1.1:5000/rootDesc.xml"),
            (HttpUrl{"192.168.1.1", 5000, "/rootDesc.xml"}));
  EXPECT_EQ(parse_http_url("HTTP://10.0.0.1"), (HttpUrl{"10.0.0.1", 80, "/"}));
  EXPECT_EQ(parse_http_url("http://[fe80::1]:49152/d.xml?x=1"),
            (HttpUrl{"[fe80::1]", 49152, "/d.xml?x=1"}));
  EXPECT_FALSE(parse_http_url("https://10.0.0.1/"));
  EXPECT_FALSE(parse_http_url("http://10.0.0.1:0/"));
  EXPECT_FALSE(parse_http_url("http://10.0.0.1:70000/"));
  EXPECT_FALSE(parse_http_url("http://:80/"));
  EXPECT_FALSE(parse_http_url("http://10.0.0.1/a\r\nHost: evil"));  // no header injection
  const HttpUrl base{"10.0.0.1", 5000, "/dir/desc.xml"};
  EXPECT_EQ(resolve_url(base, "/ctl/IPConn")->path, "/ctl/IPConn");
  EXPECT_EQ(resolve_url(base, "ctl")->path, "/dir/ctl");
  EXPECT_EQ(*resolve_url(base, "http://10.0.0.2:80/c"), (HttpUrl{"10.0.0.2", 80, "/c"}));
  EXPECT_EQ(*resolve_url(base, "//10.0.0.3:81/c"), (HttpUrl{"10.0.0.3", 81, "/c"}));
  EXPECT_FALSE(resolve_url(base, ""));
  EXPECT_FALSE(resolve_url(base, "file:///etc/passwd"));
}

}  // namespace
}  // namespace natsim::traversal::upnp
