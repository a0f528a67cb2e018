// SSDP messages (UPnP Device Architecture 1.1 §1): the search a control point multicasts,
// an IGD's answer as miniupnpd writes it, NOTIFY alive and byebye, and the errors.
#include "natsim/traversal/ssdp.hpp"

#include <gtest/gtest.h>

#include <string>

namespace natsim::traversal::ssdp {
namespace {

ByteView view(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
auto parse_text(const std::string& s) {
  return parse(view(s));
}
Error err(const std::string& s) {
  auto r = parse_text(s);
  EXPECT_FALSE(r);
  return r ? Error::not_http : r.error();
}

const std::string kIgd = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";

// As miniupnpc's upnpDiscover sends it.
const std::string kSearch =
    "M-SEARCH * HTTP/1.1\r\n"
    "HOST: 239.255.255.250:1900\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "MAN: \"ssdp:discover\"\r\n"
    "MX: 2\r\n"
    "\r\n";

// miniupnpd 2.3's answer (minissdp.c), with its UDA 1.1 extension headers.
const std::string kAnswer =
    "HTTP/1.1 200 OK\r\n"
    "CACHE-CONTROL: max-age=120\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "USN: uuid:9cdc3dd2-aa6d-4c1b-9d4a-0c6d8f0c9a01::"
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "EXT:\r\n"
    "SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
    "LOCATION: http://192.168.78.1:5000/rootDesc.xml\r\n"
    "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
    "01-NLS: 1700000000\r\n"
    "BOOTID.UPNP.ORG: 1700000000\r\n"
    "CONFIGID.UPNP.ORG: 1337\r\n"
    "\r\n";

TEST(Ssdp, ParsesASearch) {
  auto m = parse_text(kSearch);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_EQ(m->kind, Kind::search);
  EXPECT_EQ(m->host, "239.255.255.250:1900");
  EXPECT_EQ(m->target, kIgd);
  EXPECT_EQ(m->mx, 2u);
}

TEST(Ssdp, ParsesMiniupnpdsAnswer) {
  auto m = parse_text(kAnswer);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_EQ(m->kind, Kind::response);
  EXPECT_EQ(m->target, kIgd);
  EXPECT_EQ(m->usn, "uuid:9cdc3dd2-aa6d-4c1b-9d4a-0c6d8f0c9a01::" + kIgd);
  EXPECT_EQ(m->location, "http://192.168.78.1:5000/rootDesc.xml");
  EXPECT_EQ(m->server, "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1");
  EXPECT_EQ(m->max_age, 120u);
}

TEST(Ssdp, ParsesNotifyAliveAndByebye) {
  const std::string alive =
      "NOTIFY * HTTP/1.1\r\n"
      "HOST: 239.255.255.250:1900\r\n"
      "CACHE-CONTROL: max-age = 1800\r\n"  // spaces around '=' occur in the wild
      "LOCATION: http://192.168.1.1:49152/igd.xml\r\n"
      "NT: upnp:rootdevice\r\n"
      "NTS: ssdp:alive\r\n"
      "SERVER: Linux/3.4 UPnP/1.0 router/1.0\r\n"
      "USN: uuid:abc::upnp:rootdevice\r\n"
      "\r\n";
  auto a = parse_text(alive);
  ASSERT_TRUE(a) << to_string(a.error());
  EXPECT_EQ(a->kind, Kind::alive);
  EXPECT_EQ(a->target, "upnp:rootdevice");
  EXPECT_EQ(a->max_age, 1800u);
  EXPECT_EQ(a->location, "http://192.168.1.1:49152/igd.xml");
  const std::string byebye =
      "NOTIFY * HTTP/1.1\r\n"
      "Host: 239.255.255.250:1900\r\n"  // header names are case-insensitive
      "nt: upnp:rootdevice\r\n"
      "nts: ssdp:byebye\r\n"
      "usn: uuid:abc::upnp:rootdevice\r\n"
      "\r\n";
  auto b = parse_text(byebye);
  ASSERT_TRUE(b) << to_string(b.error());
  EXPECT_EQ(b->kind, Kind::byebye);
  EXPECT_EQ(b->usn, "uuid:abc::upnp:rootdevice");
  EXPECT_TRUE(b->location.empty());
}

TEST(Ssdp, FormatThenParseGivesTheSameMessage) {
  Message s;
  s.target = kIgd;
  s.mx = 3;
  Message r;
  r.kind = Kind::response;
  r.host.clear();
  r.target = kIgd;
  r.usn = "uuid:x::" + kIgd;
  r.location = "http://10.0.0.1:5000/rootDesc.xml";
  r.server = "natsim/1 UPnP/1.1 natsim-igd/1";
  r.max_age = 1800;
  Message a = r;
  a.kind = Kind::alive;
  a.host = "239.255.255.250:1900";
  Message b;
  b.kind = Kind::byebye;
  b.target = kIgd;
  b.usn = r.usn;
  for (const Message& m : {s, r, a, b}) {
    auto back = parse_text(format(m));
    ASSERT_TRUE(back) << format(m);
    EXPECT_EQ(*back, m) << format(m);
  }
  EXPECT_EQ(format(s),
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
            "MAN: \"ssdp:discover\"\r\nMX: 3\r\nST: " +
                kIgd + "\r\n\r\n");
}

TEST(Ssdp, MxIsCappedAndRequiredWhenMulticast) {
  std::string s = kSearch;
  s.replace(s.find("MX: 2"), 5, "MX: 120");
  EXPECT_EQ(parse_text(s)->mx, kMaxMx);  // UDA 1.1 §1.3.2: more than 5 counts as 5
  s.replace(s.find("MX: 120"), 7, "MX: 0");
  EXPECT_EQ(err(s), Error::bad_mx);
  s.replace(s.find("MX: 0"), 5, "MX: x");
  EXPECT_EQ(err(s), Error::bad_mx);
  s.replace(s.find("MX: x\r\n"), 7, "");
  EXPECT_EQ(err(s), Error::bad_mx);
  // A unicast search needs no MX.
  s.replace(s.find("239.255.255.250:1900"), 20, "192.168.1.1:1900");
  ASSERT_TRUE(parse_text(s));
  EXPECT_EQ(parse_text(s)->mx, 0u);
}

TEST(Ssdp, ErrorsAreNamed) {
  std::string s = kSearch;
  EXPECT_EQ(err(std::string(s).replace(s.find("\"ssdp:discover\""), 15, "ssdp:discover")),
            Error::bad_man);
  EXPECT_EQ(err(std::string(s).replace(0, 8, "GET")), Error::unknown_method);
  EXPECT_EQ(err(std::string(s).replace(9, 1, "/")), Error::bad_target);
  EXPECT_EQ(err(std::string(s).replace(s.find("ST: "), 4, "XX: ")), Error::missing_header);
  EXPECT_EQ(err(s + "trailing"), Error::has_body);
  EXPECT_EQ(err(std::string(s).insert(s.size() - 2, "Content-Length: 3\r\n") + "abc"),
            Error::has_body);
  EXPECT_EQ(err("hello"), Error::not_http);
  EXPECT_EQ(err(""), Error::not_http);
  EXPECT_EQ(err(std::string(kMaxMessageSize + 1, 'a')), Error::too_large);
  std::string a = kAnswer;
  EXPECT_EQ(err(std::string(a).replace(9, 6, "404 Not Found")), Error::bad_status);
  EXPECT_EQ(err(std::string(a).replace(a.find("max-age=120"), 11, "no-cache")),
            Error::bad_cache_control);
  EXPECT_EQ(err(std::string(a).replace(a.find("LOCATION"), 8, "LOCATIOX")), Error::missing_header);
  const std::string notify =
      "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
      "NTS: ssdp:update\r\nUSN: uuid:abc\r\n\r\n";
  EXPECT_EQ(err(notify), Error::bad_nts);
}

TEST(Ssdp, SearchTargetsMatchTheSameTypeAtThatVersionOrLater) {
  EXPECT_TRUE(matches("ssdp:all", kIgd));
  EXPECT_TRUE(matches(kIgd, kIgd));
  EXPECT_TRUE(matches(kIgd, "urn:schemas-upnp-org:device:InternetGatewayDevice:2"));
  EXPECT_FALSE(matches("urn:schemas-upnp-org:device:InternetGatewayDevice:2", kIgd));
  EXPECT_FALSE(matches("urn:schemas-upnp-org:device:WANDevice:1", kIgd));
  EXPECT_FALSE(matches("upnp:rootdevice", kIgd));
  EXPECT_FALSE(matches("urn:x:y", "urn:x:z"));
}

}  // namespace
}  // namespace natsim::traversal::ssdp
