// The IGD on a simulated gateway (igd_server.hpp): SSDP over the LAN's multicast,
// NOTIFY rounds and reboots, HTTP over the simulator's TCP with its limits, all at
// simulated times; and the description documents read back with pugixml.
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "nat_world.hpp"
#include "natsim/nat_models/igd_description.hpp"
#include "natsim/nat_models/nat_gateway.hpp"
#include "natsim/traversal/ssdp.hpp"
#include "natsim/traversal/upnp_soap.hpp"

namespace natsim::nat::upnp {
namespace {

using nat::testing::bytes;
using nat::testing::ep;
using nat::testing::ip;
namespace ssdp = traversal::ssdp;
namespace tu = traversal::upnp;

constexpr Duration kLan = milliseconds(5);

// miniupnpc 2.2's search (traversal/test/ssdp_test.cpp).
const std::string kSearch =
    "M-SEARCH * HTTP/1.1\r\n"
    "HOST: 239.255.255.250:1900\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "MAN: \"ssdp:discover\"\r\n"
    "MX: 2\r\n"
    "\r\n";

struct Heard {
  TimePoint at;
  ssdp::Message m;
};

struct Lab {
  explicit Lab(PortMappingConfig c = {}, int hosts = 2) {
    SiteOptions o;
    o.hosts = hosts;
    o.lan_link.latency = kLan;
    site = std::make_unique<Site>(add_site(w.net, w.core, "home", o));
    c.upnp.enabled = true;
    site->gateway.enable_port_mapping(c);
  }
  sim::Host& host(int i = 0) { return *site->hosts[static_cast<std::size_t>(i)]; }
  // A socket on `port` of host i recording the SSDP messages it hears.
  sim::UdpSocket* listen(std::vector<Heard>& out, std::uint16_t port, int i = 0) {
    auto* s = host(i).udp_bind(port).value();
    s->on_receive([&out, this](const sim::Datagram& d) {
      auto m = ssdp::parse(d.payload);
      ASSERT_TRUE(m);
      out.push_back({w.net.now(), *m});
    });
    return s;
  }
  // An HTTP exchange over TCP: the bytes back and when the connection ended.
  struct Exchange {
    std::string received;
    std::optional<TimePoint> closed;
    bool failed = false;
  };
  std::shared_ptr<Exchange> http(const std::string& request, int i = 0) {
    auto x = std::make_shared<Exchange>();
    auto* s = host(i).tcp_connect(ep("10.0.0.1:5000")).value();
    s->on_receive(
        [x](ByteView b) { x->received.append(reinterpret_cast<const char*>(b.data()), b.size()); });
    s->on_close([x, this](Result<void> r) {
      x->closed = w.net.now();
      x->failed = !r;
    });
    if (!request.empty()) (void)s->send(bytes(request));
    return x;
  }
  const IgdService& igd() { return *site->gateway.upnp(); }
  testing::World w;
  std::unique_ptr<Site> site;
};

std::string post(const tu::Action& a, const std::string& path = "/ctl/IPConn") {
  const std::string body = tu::format_request(a);
  return "POST " + path +
         " HTTP/1.1\r\nHost: 10.0.0.1:5000\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n"
         "SOAPAction: " +
         tu::soap_action_header(a) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string body_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

TEST(IgdServer, AnswersAMulticastSearchOneLanRoundTripLater) {
  Lab lab;
  std::vector<Heard> heard;
  auto* s = lab.listen(heard, 50000);
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_TRUE(s->send_to(Endpoint{ssdp::kMulticastV4, ssdp::kPort}, bytes(kSearch)));
  lab.w.net.run_until(at(seconds(2)));
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].at, at(seconds(1)) + 2 * kLan);
  const ssdp::Message& m = heard[0].m;
  EXPECT_EQ(m.kind, ssdp::Kind::response);
  EXPECT_EQ(m.target, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
  // The device is an IGD:2; the answer names the version searched for.
  EXPECT_EQ(m.usn,
            lab.igd().identity().uuid + "::urn:schemas-upnp-org:device:InternetGatewayDevice:1");
  EXPECT_EQ(m.location, "http://10.0.0.1:5000/rootDesc.xml");
  EXPECT_EQ(lab.igd().counters().searches, 1u);
}

// UDA 1.1 §1.3.3: with answer_within_mx the answer waits a random time within MX (2 s
// here), the same in every run; two hosts searching get different waits.
TEST(IgdServer, AnswersWithinMxWhenAsked) {
  PortMappingConfig c;
  c.upnp.answer_within_mx = true;
  Lab lab(c);
  std::vector<Heard> first, second;
  auto* a = lab.listen(first, 50000, 0);
  auto* b = lab.listen(second, 50000, 1);
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_TRUE(a->send_to(Endpoint{ssdp::kMulticastV4, ssdp::kPort}, bytes(kSearch)));
  ASSERT_TRUE(b->send_to(Endpoint{ssdp::kMulticastV4, ssdp::kPort}, bytes(kSearch)));
  lab.w.net.run_until(at(seconds(4)));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  for (const Heard* h : {&first[0], &second[0]}) {
    EXPECT_GE(h->at, at(seconds(1)) + 2 * kLan);
    EXPECT_LT(h->at, at(seconds(3)) + 2 * kLan);
  }
  EXPECT_NE(first[0].at, second[0].at);
  EXPECT_EQ(first[0].at, at(seconds(1)) + 2 * kLan + milliseconds(1618));
  EXPECT_EQ(second[0].at, at(seconds(1)) + 2 * kLan + milliseconds(1029));
  EXPECT_EQ(lab.igd().counters().search_answers, 2u);
}

TEST(IgdServer, AnswersEachTargetItHas) {
  Lab lab;
  std::vector<Heard> heard;
  auto* s = lab.listen(heard, 50000);
  auto search = [&](const std::string& st) {
    std::string q = kSearch;
    q.replace(q.find("urn:schemas-upnp-org:device:InternetGatewayDevice:1"),
              std::string_view("urn:schemas-upnp-org:device:InternetGatewayDevice:1").size(), st);
    heard.clear();
    ASSERT_TRUE(s->send_to(ep("10.0.0.1:1900"), bytes(q)));  // unicast works too
    lab.w.net.run_for(seconds(1));
  };
  search("upnp:rootdevice");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].m.usn, lab.igd().identity().uuid + "::upnp:rootdevice");
  search("urn:schemas-upnp-org:device:InternetGatewayDevice:2");
  ASSERT_EQ(heard.size(), 1u);
  search("urn:schemas-upnp-org:service:WANIPConnection:2");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].m.usn,
            lab.igd().identity().uuid + "::urn:schemas-upnp-org:service:WANIPConnection:2");
  search("urn:schemas-upnp-org:service:WANIPConnection:1");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].m.target, "urn:schemas-upnp-org:service:WANIPConnection:1");
  search("urn:schemas-upnp-org:service:WANPPPConnection:1");
  EXPECT_EQ(heard.size(), 0u);  // no PPP service unless configured
  search("ssdp:all");
  EXPECT_EQ(heard.size(), 9u);

  PortMappingConfig c;
  c.upnp.ppp = true;
  c.upnp.v1_only = true;
  Lab ppp(c);
  std::vector<Heard> h2;
  auto* s2 = ppp.listen(h2, 50000);
  std::string q = kSearch;
  q.replace(q.find("device:InternetGatewayDevice:1"), 30, "service:WANPPPConnection:1");
  ASSERT_TRUE(s2->send_to(Endpoint{ssdp::kMulticastV4, ssdp::kPort}, bytes(q)));
  ppp.w.net.run_for(seconds(1));
  ASSERT_EQ(h2.size(), 1u);
  EXPECT_EQ(h2[0].m.usn,
            ppp.igd().identity().uuid + "::urn:schemas-upnp-org:service:WANPPPConnection:1");
  // v1 only: a search for :2 finds nothing.
  h2.clear();
  q = kSearch;
  q.replace(q.find("InternetGatewayDevice:1"), 23, "InternetGatewayDevice:2");
  ASSERT_TRUE(s2->send_to(Endpoint{ssdp::kMulticastV4, ssdp::kPort}, bytes(q)));
  ppp.w.net.run_for(seconds(1));
  EXPECT_EQ(h2.size(), 0u);
}

TEST(IgdServer, NotifiesAtBootOnItsTimerAndAcrossAReboot) {
  Lab lab;
  std::vector<Heard> heard;
  // A host listening on port 1900 hears the boot round one LAN hop after time 0, then
  // one every notify_interval (900 s).
  lab.listen(heard, ssdp::kPort, 1);
  lab.w.net.run_until(at(seconds(901)));
  ASSERT_EQ(heard.size(), 18u);
  for (std::size_t i = 0; i < heard.size(); ++i) {
    EXPECT_EQ(heard[i].at, (i < 9 ? at(seconds(0)) : at(seconds(900))) + kLan);
    EXPECT_EQ(heard[i].m.kind, ssdp::Kind::alive);
    EXPECT_EQ(heard[i].m.max_age, 1800u);
    EXPECT_EQ(heard[i].m.location, "http://10.0.0.1:5000/rootDesc.xml");
  }
  heard.clear();
  lab.site->gateway.reboot(seconds(30));
  lab.w.net.run_until(at(seconds(1000)));
  ASSERT_EQ(heard.size(), 18u);
  EXPECT_EQ(heard[0].m.kind, ssdp::Kind::byebye);
  EXPECT_EQ(heard[0].at, at(seconds(901)) + kLan);
  EXPECT_EQ(heard[9].m.kind, ssdp::Kind::alive);
  EXPECT_EQ(heard[9].at, at(seconds(931)) + kLan);
  // The timer restarted with the boot.
  heard.clear();
  lab.w.net.run_until(at(seconds(931 + 900)) + seconds(1));
  ASSERT_EQ(heard.size(), 9u);
  EXPECT_EQ(heard[0].at, at(seconds(931 + 900)) + kLan);
}

TEST(IgdServer, ARebootThatForgetsSilentlySaysNothing) {
  PortMappingConfig c;
  c.on_reboot = RebootMappings::forget_silently;
  Lab lab(c);
  std::vector<Heard> heard;
  lab.listen(heard, ssdp::kPort, 1);
  lab.w.net.run_until(at(seconds(10)));
  EXPECT_EQ(heard.size(), 9u);  // the boot round
  heard.clear();
  lab.site->gateway.reboot(seconds(5));
  lab.w.net.run_until(at(seconds(100)));
  EXPECT_TRUE(heard.empty());
}

TEST(IgdServer, ServesTheDescriptionOverTcp) {
  Lab lab;
  lab.w.net.run_until(at(seconds(1)));
  auto x = lab.http("GET /rootDesc.xml HTTP/1.1\r\nHost: 10.0.0.1:5000\r\n\r\n");
  lab.w.net.run_until(at(seconds(2)));
  ASSERT_TRUE(x->closed);
  EXPECT_FALSE(x->failed);
  // Handshake (one round trip), request and answer (another), FIN: well within 30 ms.
  EXPECT_LE(*x->closed, at(seconds(1)) + 6 * kLan);
  EXPECT_TRUE(x->received.starts_with("HTTP/1.1 200 OK\r\n")) << x->received;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(body_of(x->received).c_str()));
  auto igd = doc.child("root").child("device");
  EXPECT_STREQ(igd.child_value("deviceType"),
               "urn:schemas-upnp-org:device:InternetGatewayDevice:2");
  EXPECT_STREQ(igd.child_value("UDN"), lab.igd().identity().uuid.c_str());
  auto conn = igd.child("deviceList").child("device").child("deviceList").child("device");
  auto svc = conn.child("serviceList").child("service");
  EXPECT_STREQ(svc.child_value("serviceType"), "urn:schemas-upnp-org:service:WANIPConnection:2");
  EXPECT_STREQ(svc.child_value("controlURL"), "/ctl/IPConn");
  EXPECT_STREQ(svc.child_value("SCPDURL"), "/WANIPCn.xml");

  auto scpd = lab.http("GET /WANIPCn.xml HTTP/1.1\r\nHost: 10.0.0.1:5000\r\n\r\n");
  auto missing = lab.http("GET /nothing HTTP/1.1\r\n\r\n");
  auto method = lab.http("SUBSCRIBE /evt/IPConn HTTP/1.1\r\n\r\n");
  lab.w.net.run_until(at(seconds(3)));
  ASSERT_TRUE(doc.load_string(body_of(scpd->received).c_str()));
  int actions = 0;
  for (auto a = doc.child("scpd").child("actionList").child("action"); a; a = a.next_sibling())
    ++actions;
  EXPECT_EQ(actions, 11);
  EXPECT_TRUE(missing->received.starts_with("HTTP/1.1 404")) << missing->received;
  EXPECT_TRUE(method->received.starts_with("HTTP/1.1 405")) << method->received;
}

TEST(IgdServer, MapsOverHttpIntoTheGatewaysTable) {
  Lab lab;
  tu::PortMappingEntry e;
  e.external_port = 40000;
  e.internal_port = 4000;
  e.internal_client = "10.0.0.2";
  e.lease_duration = 3600;
  auto x = lab.http(post(tu::add_port_mapping(e)));
  lab.w.net.run_until(at(seconds(1)));
  ASSERT_TRUE(x->received.starts_with("HTTP/1.1 200 OK")) << x->received;
  auto r = tu::parse_response(body_of(x->received), "AddPortMapping");
  ASSERT_TRUE(r);
  EXPECT_TRUE(std::holds_alternative<tu::Action>(*r));
  bool found = false;
  for (const MappingInfo& m : lab.site->gateway.mappings())
    found |= m.owner == MappingOwner::upnp && m.external == ep("203.0.113.2:40000");
  EXPECT_TRUE(found);
  // The other host, mapping to itself on the same port: 718 with HTTP 500.
  e.internal_client = "10.0.0.3";
  auto y = lab.http(post(tu::add_port_mapping(e)), 1);
  lab.w.net.run_until(at(seconds(2)));
  ASSERT_TRUE(y->received.starts_with("HTTP/1.1 500")) << y->received;
  r = tu::parse_response(body_of(y->received), "AddPortMapping");
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<tu::UpnpError>(*r).code, 718u);
  // A request on the wrong control URL is 404.
  auto z = lab.http(post(tu::get_external_ip_address(), "/ctl/Other"));
  lab.w.net.run_until(at(seconds(3)));
  EXPECT_TRUE(z->received.starts_with("HTTP/1.1 404")) << z->received;
}

TEST(IgdServer, ABodyOverTheCapIs413) {
  PortMappingConfig c;
  c.upnp.max_body = 1024;
  Lab lab(c);
  auto x = lab.http("POST /ctl/IPConn HTTP/1.1\r\nContent-Length: 2000\r\n\r\n" +
                    std::string(2000, '<'));
  auto y = lab.http("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n");
  auto z = lab.http("NOT HTTP AT ALL\r\n\r\n");
  lab.w.net.run_until(at(seconds(1)));
  EXPECT_TRUE(x->received.starts_with("HTTP/1.1 413")) << x->received;
  EXPECT_TRUE(y->received.starts_with("HTTP/1.1 431")) << y->received;
  EXPECT_TRUE(z->received.starts_with("HTTP/1.1 400")) << z->received;
  EXPECT_EQ(lab.igd().counters().http_errors, 3u);
  EXPECT_EQ(lab.site->gateway.mappings().size(), 0u);
}

TEST(IgdServer, SilentAndExcessConnectionsAreReset) {
  PortMappingConfig c;
  c.upnp.max_connections = 2;
  c.upnp.idle_timeout = 10;
  Lab lab(c);
  lab.w.net.run_until(at(seconds(1)));
  auto a = lab.http("GET /rootDesc.xml HTTP/1.1\r\n");  // never ends its header
  auto b = lab.http("");
  auto extra = lab.http("");
  lab.w.net.run_until(at(seconds(2)));
  ASSERT_TRUE(extra->closed);
  EXPECT_TRUE(extra->failed);
  EXPECT_EQ(lab.igd().counters().http_refused, 1u);
  EXPECT_FALSE(a->closed);
  lab.w.net.run_until(at(seconds(20)));
  ASSERT_TRUE(a->closed);
  EXPECT_TRUE(a->failed);
  // Accepted when the handshake's ACK arrives (three LAN hops), reset idle_timeout
  // later, heard one LAN hop after.
  EXPECT_EQ(*a->closed, at(seconds(1)) + 3 * kLan + seconds(10) + kLan);
  EXPECT_EQ(lab.igd().counters().http_timeouts, 2u);
  EXPECT_TRUE(a->received.empty());
}

TEST(IgdServer, RebootForgetsOrKeepsUpnpMappingsAsPcpDoes) {
  for (auto keep : {RebootMappings::forget, RebootMappings::persist}) {
    PortMappingConfig c;
    c.on_reboot = keep;
    Lab lab(c);
    tu::PortMappingEntry e;
    e.external_port = 40000;
    e.internal_port = 4000;
    e.internal_client = "10.0.0.2";
    e.lease_duration = 3600;
    (void)lab.http(post(tu::add_port_mapping(e)));
    lab.w.net.run_until(at(seconds(1)));
    ASSERT_EQ(lab.site->gateway.mappings().size(), 1u);
    lab.site->gateway.reboot(seconds(5));
    lab.w.net.run_until(at(seconds(10)));
    EXPECT_EQ(lab.site->gateway.mappings().size(), keep == RebootMappings::persist ? 1u : 0u);
  }
}

TEST(IgdDescription, WrongControlUrlHostAndVersions) {
  IgdIdentity id;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(device_description(id, "http://192.0.2.7:5000").c_str()));
  auto svc =
      doc.select_node("//service[serviceType='urn:schemas-upnp-org:service:WANIPConnection:1']");
  ASSERT_TRUE(svc);
  EXPECT_STREQ(svc.node().child_value("controlURL"), "http://192.0.2.7:5000/ctl/IPConn");
  EXPECT_STREQ(svc.node().child_value("eventSubURL"), "http://192.0.2.7:5000/evt/IPConn");
  ASSERT_TRUE(doc.load_string(wan_ip_connection_scpd(1).c_str()));
  int actions = 0;
  for (auto a = doc.child("scpd").child("actionList").child("action"); a; a = a.next_sibling())
    ++actions;
  EXPECT_EQ(actions, 8);
  auto add = doc.select_node("//action[name='AddPortMapping']/argumentList");
  ASSERT_TRUE(add);
  std::vector<std::string> names;
  for (auto a = add.node().child("argument"); a; a = a.next_sibling())
    names.push_back(a.child_value("name"));
  EXPECT_EQ(names, (std::vector<std::string>{"NewRemoteHost", "NewExternalPort", "NewProtocol",
                                             "NewInternalPort", "NewInternalClient", "NewEnabled",
                                             "NewPortMappingDescription", "NewLeaseDuration"}));
  ASSERT_TRUE(doc.load_string(wan_common_interface_config_scpd().c_str()));
  EXPECT_TRUE(doc.select_node("//action[name='GetCommonLinkProperties']"));
}

TEST(IgdServer, TheDescriptionAnnouncesAWrongControlHostWhenConfigured) {
  PortMappingConfig c;
  c.upnp.control_url_host = "192.0.2.7";
  Lab lab(c);
  auto x = lab.http("GET /rootDesc.xml HTTP/1.1\r\n\r\n");
  lab.w.net.run_until(at(seconds(1)));
  EXPECT_NE(x->received.find("<controlURL>http://192.0.2.7:5000/ctl/IPConn</controlURL>"),
            std::string::npos);
}

}  // namespace
}  // namespace natsim::nat::upnp
