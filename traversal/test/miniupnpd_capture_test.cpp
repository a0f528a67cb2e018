// What Debian's miniupnpd really sends (captured by scripts/capture-miniupnpd.sh into
// traversal/test/data/miniupnpd/), read by natsim's parsers and its UPnP client; and
// natsim's own gateway documents read by the same code, with the actions and arguments
// miniupnpd's SCPD lists.
#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "natsim/nat_models/igd_description.hpp"
#include "natsim/nat_models/igd_ssdp.hpp"
#include "natsim/traversal/igd_description.hpp"
#include "natsim/traversal/ssdp.hpp"
#include "natsim/traversal/upnp_client.hpp"
#include "natsim/traversal/upnp_soap.hpp"

namespace natsim::traversal::upnp {
namespace {

std::string captured(const std::string& name) {
  std::ifstream in(std::string(NATSIM_MINIUPNPD_CAPTURES) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ByteView bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

constexpr std::string_view kLocation = "http://192.168.78.1:5000/rootDesc.xml";
constexpr std::string_view kService = "urn:schemas-upnp-org:service:WANIPConnection:2";

TEST(MiniupnpdCapture, SsdpAnswerParses) {
  const std::string text = captured("ssdp-response.txt");
  auto m = ssdp::parse(bytes_of(text));
  ASSERT_TRUE(m) << ssdp::to_string(m.error());
  EXPECT_EQ(m->kind, ssdp::Kind::response);
  EXPECT_EQ(m->target, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
  EXPECT_EQ(m->location, kLocation);
  // The lab's miniupnpd.conf sets the UUID.
  EXPECT_EQ(m->usn, "uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c::" + m->target);
  EXPECT_NE(m->server.find("MiniUPnPd/2.3"), std::string::npos) << m->server;
  EXPECT_GE(m->max_age, 120u);
  EXPECT_TRUE(ssdp::matches("urn:schemas-upnp-org:device:InternetGatewayDevice:1", m->target));
}

TEST(MiniupnpdCapture, DescriptionGivesWanIpConnection2) {
  auto s = parse_description(captured("rootDesc.xml"), kLocation);
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_EQ(s->service_type, kService);
  EXPECT_EQ(s->control, (HttpUrl{"192.168.78.1", 5000, "/ctl/IPConn"}));
  EXPECT_EQ(s->version(), 2);
}

TEST(MiniupnpdCapture, SoapAnswersParse) {
  auto ip = parse_response(captured("GetExternalIPAddress.xml"), "GetExternalIPAddress");
  ASSERT_TRUE(ip) << to_string(ip.error());
  const auto* a = std::get_if<Action>(&*ip);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->argument("NewExternalIPAddress"));
  EXPECT_EQ(*a->argument("NewExternalIPAddress"), "10.78.0.1");

  auto add = parse_response(captured("AddPortMapping.xml"), "AddPortMapping");
  ASSERT_TRUE(add) << to_string(add.error());
  ASSERT_TRUE(std::holds_alternative<Action>(*add));
  EXPECT_TRUE(std::get<Action>(*add).arguments.empty());  // AddPortMapping has no out args

  auto any = parse_response(captured("AddAnyPortMapping.xml"), "AddAnyPortMapping");
  ASSERT_TRUE(any) << to_string(any.error());
  ASSERT_TRUE(std::holds_alternative<Action>(*any));
  ASSERT_TRUE(std::get<Action>(*any).argument("NewReservedPort"));
  EXPECT_EQ(*std::get<Action>(*any).argument("NewReservedPort"), "44001");

  auto conflict = parse_response(captured("AddPortMapping-718.xml"), "AddPortMapping");
  ASSERT_TRUE(conflict) << to_string(conflict.error());
  const auto* e = std::get_if<UpnpError>(&*conflict);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 718u);
  EXPECT_EQ(e->description, "ConflictInMappingEntry");

  auto entry =
      parse_response(captured("GetGenericPortMappingEntry.xml"), "GetGenericPortMappingEntry");
  ASSERT_TRUE(entry) << to_string(entry.error());
  const auto* g = std::get_if<Action>(&*entry);
  ASSERT_TRUE(g);
  const std::vector<std::pair<std::string, std::string>> want{
      {"NewRemoteHost", ""},
      {"NewExternalPort", "44000"},
      {"NewProtocol", "UDP"},
      {"NewInternalPort", "44000"},
      {"NewInternalClient", "192.168.78.2"},
      {"NewEnabled", "1"},
      {"NewPortMappingDescription", "natsim-capture"}};
  for (const auto& [name, value] : want) {
    ASSERT_TRUE(g->argument(name)) << name;
    EXPECT_EQ(*g->argument(name), value) << name;
  }
  ASSERT_TRUE(g->argument("NewLeaseDuration"));
  const int lease = std::stoi(*g->argument("NewLeaseDuration"));
  EXPECT_GT(lease, 500);  // 600 s asked, a little gone by the time it is listed
  EXPECT_LE(lease, 600);

  auto end =
      parse_response(captured("GetGenericPortMappingEntry-713.xml"), "GetGenericPortMappingEntry");
  ASSERT_TRUE(end) << to_string(end.error());
  ASSERT_TRUE(std::holds_alternative<UpnpError>(*end));
  EXPECT_EQ(std::get<UpnpError>(*end).code, 713u);

  for (const char* f : {"DeletePortMapping-44000.xml", "DeletePortMapping-44001.xml"}) {
    auto d = parse_response(captured(f), "DeletePortMapping");
    ASSERT_TRUE(d) << f << ": " << to_string(d.error());
    EXPECT_TRUE(std::holds_alternative<Action>(*d)) << f;
  }
}

// name -> its arguments (name, direction) in order, from an SCPD.
using Actions = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;

Actions scpd_actions(const std::string& xml) {
  pugi::xml_document doc;
  EXPECT_TRUE(doc.load_string(xml.c_str()));
  Actions out;
  for (pugi::xml_node a : doc.child("scpd").child("actionList").children("action")) {
    auto& args = out[a.child_value("name")];
    for (pugi::xml_node g : a.child("argumentList").children("argument"))
      args.emplace_back(g.child_value("name"), g.child_value("direction"));
  }
  return out;
}

TEST(MiniupnpdCapture, NatsimsScpdHasMiniupnpdsPortMappingActionsWithTheirArguments) {
  const Actions theirs = scpd_actions(captured("WANIPCn.xml"));
  const Actions ours = scpd_actions(nat::upnp::wan_ip_connection_scpd(2));
  ASSERT_FALSE(theirs.empty());
  for (const char* name :
       {"AddPortMapping", "AddAnyPortMapping", "DeletePortMapping", "DeletePortMappingRange",
        "GetExternalIPAddress", "GetSpecificPortMappingEntry", "GetGenericPortMappingEntry",
        "GetListOfPortMappings", "GetStatusInfo"}) {
    ASSERT_TRUE(theirs.count(name)) << "miniupnpd lacks " << name;
    ASSERT_TRUE(ours.count(name)) << "natsim lacks " << name;
    if (std::string_view(name) == "AddAnyPortMapping") continue;  // below
    EXPECT_EQ(ours.at(name), theirs.at(name)) << name;
  }
  // miniupnpd 2.3.1's SCPD names AddAnyPortMapping's out argument NewExternalPort, yet
  // its answer (AddAnyPortMapping.xml) says NewReservedPort, as WANIPConnection:2
  // §2.5.18 does and natsim's SCPD lists: the in arguments agree.
  auto any_theirs = theirs.at("AddAnyPortMapping");
  auto any_ours = ours.at("AddAnyPortMapping");
  ASSERT_EQ(any_theirs.size(), 9u);
  EXPECT_EQ(any_theirs.back(), (std::pair<std::string, std::string>{"NewExternalPort", "out"}));
  EXPECT_EQ(any_ours.back(), (std::pair<std::string, std::string>{"NewReservedPort", "out"}));
  any_theirs.pop_back();
  any_ours.pop_back();
  EXPECT_EQ(any_ours, any_theirs);
}

TEST(MiniupnpdCapture, NatsimsGatewayDocumentsParseWithTheSameCode) {
  nat::upnp::IgdIdentity id;
  id.location = "http://10.0.0.1:5000/rootDesc.xml";
  for (std::uint8_t version : {1, 2}) {
    id.version = version;
    auto s = parse_description(nat::upnp::device_description(id), id.location);
    ASSERT_TRUE(s) << to_string(s.error());
    EXPECT_EQ(s->version(), version);
    EXPECT_EQ(to_string(s->control), "http://10.0.0.1:5000/ctl/IPConn");
    // Its search answers read as miniupnpd's do.
    ssdp::Message search;
    search.target = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
    search.mx = 2;
    const auto answers = nat::upnp::igd_search_answers(id, search);
    ASSERT_EQ(answers.size(), 1u);
    const std::string text = ssdp::format(answers.front());
    auto m = ssdp::parse(bytes_of(text));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->location, id.location);
  }
}

// The client, driven by the captured answers: SSDP, description, GetExternalIPAddress,
// AddAnyPortMapping, DeletePortMapping.
TEST(MiniupnpdCapture, ClientMapsAndDeletesOnTheCapturedAnswers) {
  ClientConfig c;
  c.local = Endpoint{*IpAddress::parse("192.168.78.2"), 40000};
  UpnpClient client(c);
  std::map<std::string, std::string> answers{
      {"GET /rootDesc.xml", captured("rootDesc.xml")},
      {"GetExternalIPAddress", captured("GetExternalIPAddress.xml")},
      {"AddAnyPortMapping", captured("AddAnyPortMapping.xml")},
      {"DeletePortMapping", captured("DeletePortMapping-44001.xml")}};
  std::vector<std::string> asked;
  std::vector<ClientEvent> events;
  std::map<std::pair<Endpoint, Endpoint>, std::string> streams;
  std::array<std::uint8_t, 70000> buffer{};
  TimePoint now = kTimeZero;
  const std::string ssdp_answer = captured("ssdp-response.txt");
  auto pump = [&] {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      while (auto t = client.poll_transmit(buffer)) {
        any = true;
        now += milliseconds(1);
        if (t->transport == Transport::udp) {
          client.handle_datagram(now, t->local, Endpoint{*IpAddress::parse("192.168.78.1"), 1900},
                                 bytes_of(ssdp_answer));
          continue;
        }
        if (t->close) continue;
        std::string& buf = streams[{t->local, t->remote}];
        buf.append(reinterpret_cast<const char*>(buffer.data()), t->size);
        namespace http = boost::beast::http;
        http::request_parser<http::string_body> p;
        p.eager(true);
        boost::beast::error_code ec;
        p.put(boost::asio::const_buffer(buf.data(), buf.size()), ec);
        if (!p.is_done()) continue;
        const auto& req = p.get();
        std::string key = std::string(req.method_string()) + " " + std::string(req.target());
        if (req.method() == http::verb::post) {
          const std::string action(req["SOAPACTION"]);
          key = action.substr(action.find('#') + 1);
          key.pop_back();  // the closing quote
        }
        asked.push_back(key);
        const auto it = answers.find(key);
        ASSERT_NE(it, answers.end()) << key;
        const std::string status = it->second.find("UPnPError") != std::string::npos
                                       ? "500 Internal Server Error"
                                       : "200 OK";
        const std::string response = "HTTP/1.1 " + status +
                                     "\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n"
                                     "Connection: close\r\nContent-Length: " +
                                     std::to_string(it->second.size()) + "\r\n\r\n" + it->second;
        streams.erase({t->local, t->remote});
        client.handle_stream(now, t->local, t->remote, bytes_of(response));
        client.handle_stream_closed(now, t->local, t->remote);
      }
      while (auto e = client.poll_event())
        events.push_back(*e);
      if (!any) return;
    }
  };
  const std::size_t id = client.add(now, 17, 44001, 600, 44001);
  pump();
  ASSERT_TRUE(client.service());
  EXPECT_EQ(client.service()->service_type, kService);
  const ClientEvent* mapped = nullptr;
  for (const ClientEvent& e : events) {
    if (e.kind == ClientEvent::Kind::mapped && e.id == id) mapped = &e;
  }
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->external.to_string(), "10.78.0.1:44001");
  EXPECT_EQ(mapped->lease, 600u);
  client.remove(now, id);
  pump();
  EXPECT_EQ(events.back().kind, ClientEvent::Kind::deleted);
  EXPECT_EQ(asked, (std::vector<std::string>{"GET /rootDesc.xml", "GetExternalIPAddress",
                                             "AddAnyPortMapping", "DeletePortMapping"}));
}

}  // namespace
}  // namespace natsim::traversal::upnp
