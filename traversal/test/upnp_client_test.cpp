// The UPnP IGD client against a scripted gateway: SSDP answers, the device description
// over HTTP, and SOAP actions read and answered with nat_models' device-side codec
// (upnp_soap_device.hpp), the way the simulated gateway answers. Every exchange takes a
// 1 ms one-way LAN delay, so the tests pin when each step lands.
#include "natsim/traversal/upnp_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "igd_descriptions.hpp"
#include "natsim/nat_models/upnp_soap_device.hpp"
#include "natsim/traversal/pcp_wire.hpp"
#include "natsim/traversal/port_mapper.hpp"

namespace natsim::traversal::upnp {
namespace {

namespace http = boost::beast::http;

constexpr Duration kOneWay = milliseconds(1);
const IpAddress kGateway = IpAddress::v4(192, 168, 1, 1);
const IpAddress kExternal = IpAddress::v4(203, 0, 113, 7);
const Endpoint kHost{IpAddress::v4(192, 168, 1, 10), 50000};

// A WANIPConnection the way miniupnpd keeps one: mappings by (protocol, external port).
struct Igd {
  struct Entry {
    std::string client;
    std::uint16_t internal_port;
    std::uint32_t lease;
  };
  bool v2 = true;
  bool only_permanent = false;  // 725 for any lease but 0
  bool conflict_own = false;    // 718 for a port in use, even by the same client
  bool answer_ssdp = true;
  bool answer_http = true;
  bool refuse_pcp_natpmp = false;  // port 5351 answers "unsupported version"
  int refuse_control = 0;          // HTTP status for every POST (0: answer)
  std::string control_host = "";   // an absolute controlURL with this host
  std::string body_override;       // answers every POST with this body, 200
  std::set<std::uint16_t> taken;   // held by another host
  std::map<std::pair<std::string, std::uint16_t>, Entry> table;
  std::vector<std::pair<TimePoint, std::string>> log;  // actions, as received

  std::string description() const {
    std::string d(v2 ? testdata::kMiniupnpdV2 : testdata::kMiniupnpdV1);
    if (!control_host.empty())
      d.replace(d.find("<controlURL>/ctl/IPConn"), 23,
                "<controlURL>http://" + control_host + ":5000/ctl/IPConn");
    return d;
  }

  std::variant<Action, UpnpError> act(const Action& a) {
    const auto arg = [&](std::string_view n) {
      const std::string* v = a.argument(n);
      return v ? *v : std::string();
    };
    Action out{a.service_type, a.name, {}};
    const auto key = std::make_pair(
        arg("NewProtocol"), static_cast<std::uint16_t>(std::stoul("0" + arg("NewExternalPort"))));
    if (a.name == "GetExternalIPAddress") {
      out.arguments.push_back({"NewExternalIPAddress", kExternal.to_string()});
      return out;
    }
    if (a.name == "AddAnyPortMapping" || a.name == "AddPortMapping") {
      if (a.name == "AddAnyPortMapping" && !v2) return UpnpError{401, "Invalid Action"};
      if (only_permanent && arg("NewLeaseDuration") != "0")
        return UpnpError{725, "OnlyPermanentLeasesSupported"};
      auto port = key.second;
      const auto busy = [&](std::uint16_t p) {
        auto it = table.find({key.first, p});
        return taken.contains(p) ||
               (it != table.end() &&
                (conflict_own || it->second.client != arg("NewInternalClient")));
      };
      if (a.name == "AddAnyPortMapping") {
        while (busy(port))
          ++port;
        out.arguments.push_back({"NewReservedPort", std::to_string(port)});
      } else if (busy(port)) {
        return UpnpError{718, "ConflictInMappingEntry"};
      }
      table[{key.first, port}] = Entry{
          arg("NewInternalClient"), static_cast<std::uint16_t>(std::stoul(arg("NewInternalPort"))),
          static_cast<std::uint32_t>(std::stoul(arg("NewLeaseDuration")))};
      return out;
    }
    if (a.name == "GetSpecificPortMappingEntry" || a.name == "DeletePortMapping") {
      auto it = table.find(key);
      if (it == table.end()) return UpnpError{714, "NoSuchEntryInArray"};
      if (a.name == "DeletePortMapping") table.erase(it);
      return out;
    }
    return UpnpError{401, "Invalid Action"};
  }

  // An HTTP request, whole; the answer's bytes (empty: no answer at all).
  std::string serve(TimePoint now, const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(11);
    res.set(http::field::server, "OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.3");
    res.set(http::field::connection, "close");
    if (req.method() == http::verb::get) {
      log.emplace_back(now, "GET " + std::string(req.target()));
      if (req.target() == "/rootDesc.xml") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/xml; charset=\"utf-8\"");
        res.body() = description();
      } else {
        res.result(http::status::not_found);
      }
    } else {
      auto q = nat::upnp::parse_request(req.body(), std::string(req["SOAPAction"]));
      log.emplace_back(now, q ? q->name : std::string("?"));
      if (refuse_control != 0) {
        res.result(static_cast<http::status>(refuse_control));
      } else if (!body_override.empty()) {
        res.result(http::status::ok);
        res.body() = body_override;
      } else if (!q) {
        res.result(http::status::internal_server_error);
        res.body() = nat::upnp::format_fault(q.error());
      } else {
        auto r = act(*q);
        if (auto* e = std::get_if<UpnpError>(&r)) {
          res.result(http::status::internal_server_error);  // UDA 1.1 §3.2.2
          res.body() = nat::upnp::format_fault(*e);
        } else {
          res.result(http::status::ok);
          res.body() = nat::upnp::format_response(std::get<Action>(r));
        }
      }
    }
    res.prepare_payload();
    std::ostringstream s;
    s << res;
    return s.str();
  }

  [[nodiscard]] std::vector<std::string> actions() const {
    std::vector<std::string> out;
    for (const auto& [t, a] : log)
      out.push_back(a);
    return out;
  }
};

// The client (or a PortMapper carrying one), the gateway and the LAN between them, in
// virtual time. The gateway has no PCP / NAT-PMP server: those datagrams are lost.
template <class Machine, class Event>
struct LanOf {
  Machine client;
  Igd igd;
  TimePoint now = kTimeZero;
  std::vector<Event> events;
  std::vector<TimePoint> event_times;
  std::multimap<TimePoint, std::function<void()>> wire;
  std::map<std::pair<Endpoint, Endpoint>, std::string> streams;
  std::array<std::uint8_t, 70000> buffer{};
  int udp_sent = 0;
  int searches_sent = 0;
  // When set, takes every datagram to port 5351 (a scripted PCP server).
  std::function<void(const Transmit&, const std::string&)> port_5351;

  template <class Config>
  explicit LanOf(Config c) : client(std::move(c)) {}
  static ClientConfig config() {
    ClientConfig c;
    c.local = kHost;
    return c;
  }

  void drain() {
    while (auto t = client.poll_transmit(buffer)) {
      std::string bytes(reinterpret_cast<const char*>(buffer.data()), t->size);
      if (t->transport == Transport::udp) {
        ++udp_sent;
        if (t->remote.port == 5351 && port_5351) {
          port_5351(*t, bytes);
          continue;
        }
        if (t->remote.port == 5351 && igd.refuse_pcp_natpmp && !bytes.empty()) {
          // A gateway with neither PCP nor NAT-PMP answers "unsupported version" in
          // NAT-PMP's format (RFC 6886 §3.5, RFC 6887 §9): 12 octets for the address
          // opcode and a PCP request, 16 for a map opcode echoing the internal port.
          std::string r = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
          const auto op = static_cast<std::uint8_t>(bytes[0] == 0 ? bytes[1] : 0);
          r[1] = static_cast<char>(128 + op);
          if (op != 0) r = r.substr(0, 8) + bytes.substr(4, 2) + std::string(6, '\0');
          wire.emplace(now + 2 * kOneWay, [this, tr = *t, r] {
            client.handle_datagram(
                now, tr.local, tr.remote,
                ByteView(reinterpret_cast<const std::uint8_t*>(r.data()), r.size()));
          });
          continue;
        }
        if (t->remote != Endpoint{ssdp::kMulticastV4, ssdp::kPort}) continue;
        ++searches_sent;
        if (!igd.answer_ssdp) continue;
        wire.emplace(now + kOneWay, [this, local = t->local] { answer_search(local); });
        continue;
      }
      if (t->close) continue;
      wire.emplace(now + kOneWay, [this, tr = *t, bytes] { receive(tr.local, tr.remote, bytes); });
    }
    while (auto e = client.poll_event()) {
      events.push_back(*e);
      event_times.push_back(now);
    }
  }

  void answer_search(const Endpoint& to) {
    ssdp::Message m;
    m.kind = ssdp::Kind::response;
    m.target = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
    m.usn = "uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d21::" + m.target;
    m.location = "http://192.168.1.1:5000/rootDesc.xml";
    m.server = "OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.3";
    m.max_age = 120;
    const std::string text = ssdp::format(m);
    wire.emplace(now + kOneWay, [this, to, text] {
      client.handle_datagram(
          now, to, Endpoint{kGateway, ssdp::kPort},
          ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    });
  }

  // A datagram for the client, `delay` from now.
  void inject(Duration delay, const Endpoint& local, const Endpoint& remote, std::string bytes) {
    wire.emplace(now + delay, [this, local, remote, bytes] {
      client.handle_datagram(
          now, local, remote,
          ByteView(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    });
  }
  // An SSDP answer from `from` naming `location`, as answer_search's.
  static std::string search_answer(const std::string& location) {
    ssdp::Message m;
    m.kind = ssdp::Kind::response;
    m.target = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
    m.usn = "uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d21::" + m.target;
    m.location = location;
    m.server = "OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.3";
    m.max_age = 120;
    return ssdp::format(m);
  }
  // The gateway's upnp:rootdevice NOTIFY (the uuid is the one its answers carry).
  static std::string notify(bool alive, const std::string& location) {
    ssdp::Message m;
    m.kind = alive ? ssdp::Kind::alive : ssdp::Kind::byebye;
    m.target = "upnp:rootdevice";
    m.usn = "uuid:a52e6a8c-8a4b-4c5e-9d1a-0c8e9e3f6d21::upnp:rootdevice";
    if (alive) {
      m.location = location;
      m.server = "OpenWrt/23.05 UPnP/1.1 MiniUPnPd/2.3.3";
      m.max_age = 120;
    }
    return ssdp::format(m);
  }
  // When each action was received.
  [[nodiscard]] std::vector<TimePoint> times_of(const std::string& action) const {
    std::vector<TimePoint> out;
    for (const auto& [t, a] : igd.log)
      if (a == action) out.push_back(t);
    return out;
  }

  void receive(const Endpoint& local, const Endpoint& remote, const std::string& bytes) {
    if (remote != Endpoint{kGateway, 5000}) {
      // Nobody listens there: the connection is refused (RST) one round trip later.
      wire.emplace(now + kOneWay,
                   [this, local, remote] { client.handle_stream_closed(now, local, remote); });
      return;
    }
    std::string& buf = streams[{local, remote}];
    buf += bytes;
    http::request_parser<http::string_body> p;
    p.eager(true);
    boost::beast::error_code ec;
    p.put(boost::asio::const_buffer(buf.data(), buf.size()), ec);
    if (!p.is_done()) return;
    buf.clear();
    if (!igd.answer_http) return;
    const std::string answer = igd.serve(now, p.get());
    wire.emplace(now + kOneWay, [this, local, remote, answer] {
      client.handle_stream(
          now, local, remote,
          ByteView(reinterpret_cast<const std::uint8_t*>(answer.data()), answer.size()));
      client.handle_stream_closed(now, local, remote);  // miniupnpd closes after answering
    });
  }

  void run_until(TimePoint end) {
    drain();
    for (;;) {
      TimePoint next = client.poll_timeout().value_or(kTimeNever);
      const bool wire_first = !wire.empty() && wire.begin()->first <= next;
      if (wire_first) next = wire.begin()->first;
      if (next > end) break;
      now = next;
      if (wire_first) {
        auto f = std::move(wire.begin()->second);
        wire.erase(wire.begin());
        f();
      } else {
        client.handle_timeout(now);
      }
      drain();
    }
    now = end;
  }

  template <class Kind>
  const Event* find(Kind k, std::size_t id, TimePoint* at = nullptr) const {
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].kind == k && events[i].id == id) {
        if (at) *at = event_times[i];
        return &events[i];
      }
    }
    return nullptr;
  }
};

struct Lan : LanOf<UpnpClient, ClientEvent> {
  explicit Lan(ClientConfig c = config()) : LanOf(std::move(c)) {}
};

TEST(UpnpClient, DiscoversMapsRefreshesAndDeletesOnMiniupnpdV2) {
  Lan lan;
  const auto id = lan.client.add(lan.now, 17, 50000, 3600);
  lan.run_until(at(seconds(1)));
  // M-SEARCH out at 0, its answer at 2 ms; the description at 4 ms; the external
  // address at 6 ms; AddAnyPortMapping answered at 8 ms.
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::discovered, ClientEvent::kNoMapping, &t));
  EXPECT_EQ(t, at(milliseconds(4)));
  ASSERT_TRUE(lan.client.service());
  EXPECT_EQ(lan.client.service()->service_type, "urn:schemas-upnp-org:service:WANIPConnection:2");
  const ClientEvent* m = lan.find(ClientEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(t, at(milliseconds(8)));
  EXPECT_EQ(m->external, (Endpoint{kExternal, 50000}));
  EXPECT_EQ(m->lease, 3600u);
  EXPECT_FALSE(m->permanent);
  EXPECT_EQ(
      lan.igd.actions(),
      (std::vector<std::string>{"GET /rootDesc.xml", "GetExternalIPAddress", "AddAnyPortMapping"}));
  EXPECT_EQ(lan.igd.table.at({"UDP", 50000}).client, "192.168.1.10");
  // Half the lease later: the mapping is checked and renewed.
  lan.run_until(at(seconds(1801)));
  const ClientEvent* r = lan.find(ClientEvent::Kind::refreshed, id, &t);
  ASSERT_TRUE(r);
  EXPECT_EQ(t, at(seconds(1800) + milliseconds(12)));
  lan.client.remove(lan.now, id);
  lan.run_until(at(seconds(1802)));
  ASSERT_TRUE(lan.find(ClientEvent::Kind::deleted, id, &t));
  EXPECT_EQ(t, at(seconds(1801) + milliseconds(2)));
  EXPECT_TRUE(lan.igd.table.empty());
  EXPECT_EQ(lan.igd.actions().back(), "DeletePortMapping");
}

TEST(UpnpClient, V1DeviceGetsAddPortMapping) {
  Lan lan;
  lan.igd.v2 = false;
  const auto id = lan.client.add(lan.now, 6, 8080, 600);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const ClientEvent* m = lan.find(ClientEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(t, at(milliseconds(8)));
  EXPECT_EQ(lan.igd.actions(), (std::vector<std::string>{
                                   "GET /rootDesc.xml", "GetExternalIPAddress", "AddPortMapping"}));
  EXPECT_TRUE(lan.igd.table.contains({"TCP", 8080}));
}

TEST(UpnpClient, AddAnyRefusedFallsBackToAddPortMapping) {
  Lan lan;
  // A v2 description whose device lacks AddAnyPortMapping (401), as some firmware has.
  lan.igd.v2 = true;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  // Make the device refuse AddAny by answering it as a v1 device would.
  lan.run_until(at(milliseconds(6)));
  lan.igd.v2 = false;  // the description was v2; actions are now answered as v1
  lan.run_until(at(seconds(1)));
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(10)));
  EXPECT_EQ(lan.igd.actions(),
            (std::vector<std::string>{"GET /rootDesc.xml", "GetExternalIPAddress",
                                      "AddAnyPortMapping", "AddPortMapping"}));
  // A second mapping goes straight to AddPortMapping.
  const auto id2 = lan.client.add(lan.now, 17, 50001, 600);
  lan.run_until(at(seconds(2)));
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id2, &t));
  EXPECT_EQ(t, at(seconds(1) + milliseconds(2)));
}

TEST(UpnpClient, ConflictTriesTheNextPorts) {
  Lan lan;
  lan.igd.v2 = false;
  lan.igd.taken = {40000, 40001};
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 40000);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const ClientEvent* m = lan.find(ClientEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->external.port, 40002);
  EXPECT_EQ(t, at(milliseconds(12)));  // two 718s, one round trip each
}

TEST(UpnpClient, ConflictOnEveryPortFails) {
  ClientConfig c = Lan::config();
  c.port_attempts = 3;
  Lan lan(c);
  lan.igd.v2 = false;
  lan.igd.taken = {50000, 50001, 50002, 50003};
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::conflict);
  EXPECT_EQ(f->upnp_error, 718u);
}

TEST(UpnpClient, OnlyPermanentLeasesGivesLeaseZeroAndDeleteOnClose) {
  Lan lan;
  lan.igd.v2 = false;
  lan.igd.only_permanent = true;
  const auto id = lan.client.add(lan.now, 17, 50000, 3600);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const ClientEvent* m = lan.find(ClientEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(t, at(milliseconds(10)));  // 725, then lease 0
  EXPECT_EQ(m->lease, 0u);
  EXPECT_TRUE(m->permanent);
  EXPECT_EQ(lan.igd.table.at({"UDP", 50000}).lease, 0u);
  // Checked every permanent_check (60 s), not renewed.
  lan.run_until(at(seconds(61)));
  EXPECT_EQ(lan.igd.actions().back(), "AddPortMapping");
  EXPECT_EQ(lan.igd.actions()[lan.igd.actions().size() - 2], "GetSpecificPortMappingEntry");
  lan.client.close(lan.now);
  lan.run_until(at(seconds(62)));
  ASSERT_TRUE(lan.find(ClientEvent::Kind::deleted, id));
  EXPECT_TRUE(lan.igd.table.empty());
}

TEST(UpnpClient, ForgottenMappingIsDetectedAndRecreated) {
  Lan lan;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(100)));
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id));
  lan.igd.table.clear();  // the gateway rebooted and forgot
  lan.run_until(at(seconds(400)));
  TimePoint lost, recreated;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::lost, id, &lost));
  const ClientEvent* r = lan.find(ClientEvent::Kind::recreated, id, &recreated);
  ASSERT_TRUE(r);
  // Found at the half-lease check (300 s after the 8 ms grant), re-added one RTT later.
  EXPECT_EQ(lost, at(seconds(300) + milliseconds(10)));
  EXPECT_EQ(recreated, at(seconds(300) + milliseconds(12)));
  EXPECT_EQ(r->external, (Endpoint{kExternal, 50000}));
  EXPECT_TRUE(lan.igd.table.contains({"UDP", 50000}));
}

TEST(UpnpClient, RouterRefusingItsOwnClientsRenewalIsReclaimed) {
  Lan lan;
  lan.igd.v2 = false;
  lan.igd.conflict_own = true;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(301)));
  TimePoint t;
  const ClientEvent* r = lan.find(ClientEvent::Kind::refreshed, id, &t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->external.port, 50000);
  // check, 718 to the renewal, delete, add: four round trips after 300.008 s.
  EXPECT_EQ(t, at(seconds(300) + milliseconds(16)));
}

TEST(UpnpClient, WrongControlHostFallsBackToTheDescriptionsHost) {
  Lan lan;
  lan.igd.control_host = "203.0.113.7";  // the WAN address: nothing listens there
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(10)));  // one refused connection first
  EXPECT_EQ(lan.client.service()->control.host, "192.168.1.1");
}

TEST(UpnpClient, RefusedControlIsAnHttpError) {
  Lan lan;
  lan.igd.refuse_control = 403;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::http_error);
  EXPECT_NE(f->detail.find("HTTP 403"), std::string::npos);
  EXPECT_FALSE(lan.client.external_address());
}

TEST(UpnpClient, NoGatewayAfterThreeSearches) {
  Lan lan;
  lan.igd.answer_ssdp = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(20)));
  TimePoint t;
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::no_gateway);
  EXPECT_EQ(t, at(seconds(9)));  // 3 x (MX 2 s + 1 s)
  // Later mappings fail at once.
  const auto id2 = lan.client.add(lan.now, 17, 50001, 600);
  lan.drain();
  ASSERT_TRUE(lan.find(ClientEvent::Kind::failed, id2));
}

TEST(UpnpClient, SilentGatewayTimesOut) {
  Lan lan;
  lan.igd.answer_http = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(20)));
  TimePoint t;
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::timeout);
  EXPECT_EQ(t, at(milliseconds(2) + seconds(5)));
}

TEST(UpnpClient, GarbageAnswersAreBadAnswers) {
  Lan lan;
  lan.igd.body_override = "<not-soap";
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::bad_answer);
}

TEST(UpnpClient, DescriptionUrlSkipsSsdp) {
  ClientConfig c = Lan::config();
  c.description_url = "http://192.168.1.1:5000/rootDesc.xml";
  Lan lan(c);
  lan.igd.answer_ssdp = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(6)));
}

TEST(UpnpClient, MissingDescriptionIsNamed) {
  ClientConfig c = Lan::config();
  c.description_url = "http://192.168.1.1:5000/other.xml";
  Lan lan(c);
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(1)));
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::http_error);
}

const Endpoint kSsdpGroup{ssdp::kMulticastV4, ssdp::kPort};
const std::string kLocation = "http://192.168.1.1:5000/rootDesc.xml";
const Endpoint kIntruder{IpAddress::v4(192, 168, 1, 66), ssdp::kPort};
const std::string kIntruderLocation = "http://192.168.1.66:5000/rootDesc.xml";

TEST(UpnpClient, NotifyFromAnotherHostOrToAnotherHostIsIgnored) {
  Lan lan;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(10)));
  ASSERT_TRUE(lan.find(ClientEvent::Kind::mapped, id));
  // A LAN host replays the gateway's uuid: byebye, then alive with LOCATION at itself,
  // and (spoofing nothing) an alive pointing at nowhere; the gateway itself announcing
  // a LOCATION on another host is refused too.
  lan.inject(milliseconds(1), kSsdpGroup, kIntruder, Lan::notify(false, ""));
  lan.inject(milliseconds(2), kSsdpGroup, kIntruder, Lan::notify(true, kIntruderLocation));
  lan.inject(milliseconds(3), kSsdpGroup, kIntruder,
             Lan::notify(true, "http://192.168.1.66:9/none.xml"));
  lan.inject(milliseconds(4), kSsdpGroup, Endpoint{kGateway, ssdp::kPort},
             Lan::notify(true, kIntruderLocation));
  // Nor does a replayed byebye/alive with the gateway's own LOCATION bring checks forward.
  lan.inject(milliseconds(5), kSsdpGroup, kIntruder, Lan::notify(false, ""));
  lan.inject(milliseconds(6), kSsdpGroup, kIntruder, Lan::notify(true, kLocation));
  lan.run_until(at(seconds(400)));
  // One description fetch (the first), and the renewal at half the lease, not earlier.
  EXPECT_EQ(lan.times_of("GET /rootDesc.xml").size(), 1u);
  EXPECT_EQ(lan.times_of("GetSpecificPortMappingEntry"),
            (std::vector<TimePoint>{at(seconds(300) + milliseconds(9))}));
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::refreshed, id, &t));
  EXPECT_EQ(t, at(seconds(300) + milliseconds(12)));
  EXPECT_FALSE(lan.find(ClientEvent::Kind::failed, id));
}

TEST(UpnpClient, GatewayNotifyFloodChecksOncePerFiveSeconds) {
  Lan lan;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(10)));
  // 100 byebye/alive pairs from the gateway, 10 ms apart, from 10 s; then alives whose
  // LOCATION cannot be read (not a move).
  for (int i = 0; i < 100; ++i) {
    lan.inject(milliseconds(10 * i), kSsdpGroup, Endpoint{kGateway, ssdp::kPort},
               Lan::notify(false, ""));
    lan.inject(milliseconds(10 * i + 5), kSsdpGroup, Endpoint{kGateway, ssdp::kPort},
               Lan::notify(true, kLocation));
  }
  lan.inject(seconds(30), kSsdpGroup, Endpoint{kGateway, ssdp::kPort},
             Lan::notify(true, "ftp://nowhere"));
  lan.run_until(at(seconds(60)));
  // The first alive (10.005 s) checks at once (answered 2 ms later, renewed 2 ms after);
  // alives during that check add nothing; those after it bring one more check to 15.005 s
  // (five seconds after the first). The unreadable LOCATION fetches nothing.
  EXPECT_EQ(lan.times_of("GetSpecificPortMappingEntry"),
            (std::vector<TimePoint>{at(seconds(10) + milliseconds(6)),
                                    at(seconds(15) + milliseconds(6))}));
  EXPECT_EQ(lan.times_of("GET /rootDesc.xml").size(), 1u);
  TimePoint t;
  ASSERT_TRUE(lan.find(ClientEvent::Kind::refreshed, id, &t));
  EXPECT_EQ(t, at(seconds(10) + milliseconds(9)));
}

TEST(UpnpClient, MovedLocationThatFailsReportsTheMappings) {
  Lan lan;
  const auto id = lan.client.add(lan.now, 17, 50000, 600);
  lan.run_until(at(seconds(10)));
  // The gateway says alive with its description on another port, where nothing listens.
  lan.inject(milliseconds(1), kSsdpGroup, Endpoint{kGateway, ssdp::kPort},
             Lan::notify(true, "http://192.168.1.1:5001/rootDesc.xml"));
  lan.run_until(at(seconds(20)));
  // The connection is refused at 10.003 s: the mapping is reported, not left waiting.
  TimePoint t;
  const ClientEvent* f = lan.find(ClientEvent::Kind::failed, id, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->outcome, Outcome::unreachable);
  EXPECT_EQ(t, at(seconds(10) + milliseconds(3)));
  EXPECT_FALSE(lan.client.poll_timeout());
}

static_assert(StreamMachine<UpnpClient>);
static_assert(StreamMachine<PortMapper>);

PortMapperConfig mapper_config(bool upnp, std::optional<MappingProtocol> only = std::nullopt) {
  PortMapperConfig c;
  c.local = kHost;
  c.gateway = Endpoint{kGateway, 5351};
  if (upnp) c.protocols.push_back(MappingProtocol::upnp);
  if (only) c.protocols = {*only};
  return c;
}

using MapperLan = LanOf<PortMapper, PortMapperEvent>;

TEST(PortMapperUpnp, AutoTriesUpnpAfterPcpAndNatPmp) {
  MapperLan lan(mapper_config(true));
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(400)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  EXPECT_EQ(m->external, (Endpoint{kExternal, 50000}));
  EXPECT_FALSE(m->double_nat);
  // PCP: 3 requests, 3 + 6 + 12 s; NAT-PMP: 9, 0.25 s doubling (127.75 s); then UPnP's
  // four round trips.
  EXPECT_EQ(t, at(seconds(21) + milliseconds(127750) + milliseconds(8)));
  lan.client.remove(lan.now, id);
  lan.run_until(at(seconds(401)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::deleted, id));
  EXPECT_TRUE(lan.igd.table.empty());
}

TEST(PortMapperUpnp, AutoGoesToUpnpWhenPcpAndNatPmpAreRefusedAsUnsupported) {
  MapperLan lan(mapper_config(true));
  lan.igd.refuse_pcp_natpmp = true;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(10)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  // PCP refused (2 ms), NAT-PMP refused (2 ms), then UPnP's four round trips (8 ms).
  EXPECT_EQ(t, at(milliseconds(12)));
}

TEST(PortMapperUpnp, WithoutUpnpAutoStillFailsAfterNatPmp) {
  MapperLan lan(mapper_config(false));
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(400)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::failed, id));
  EXPECT_TRUE(lan.igd.log.empty());
}

TEST(PortMapperUpnp, UpnpOnlyMapsAtOnceAndReportsReboots) {
  MapperLan lan(mapper_config(true, MappingProtocol::upnp));
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(100)));
  TimePoint t;
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(8)));
  lan.igd.table.clear();
  lan.run_until(at(seconds(400)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::gateway_rebooted, id, &t));
  EXPECT_EQ(t, at(seconds(300) + milliseconds(10)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::recreated, id, &t));
  EXPECT_EQ(t, at(seconds(300) + milliseconds(12)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::upnp);
}

TEST(PortMapperUpnp, OrderStartingWithUpnpMapsAtOnce) {
  // The same UPnP-only gateway as above: 148.758 s with the default order, 8 ms with UPnP
  // first.
  PortMapperConfig c = mapper_config(false);
  c.protocols = {MappingProtocol::upnp, MappingProtocol::pcp, MappingProtocol::natpmp};
  MapperLan lan(c);
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  EXPECT_EQ(t, at(milliseconds(8)));
}

TEST(PortMapperUpnp, SearchingTheSsdpGroupTakesTheGatewayThatAnswers) {
  // natsim probe --upnp gives the mapper the SSDP group to search, not a gateway: the
  // answer from the gateway's own address is taken (8 ms, as with the gateway known).
  PortMapperConfig c = mapper_config(false, MappingProtocol::upnp);
  c.gateway = kSsdpGroup;
  MapperLan lan(c);
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(8)));
}

TEST(PortMapperUpnp, UpnpFirstFallsToPcpWhenSsdpIsUnanswered) {
  PortMapperConfig c = mapper_config(false);
  c.protocols = {MappingProtocol::upnp, MappingProtocol::pcp};
  MapperLan lan(c);
  lan.igd.answer_ssdp = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(8)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::upnp);
  lan.run_until(at(seconds(100)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::pcp);
  // M-SEARCH at 0, 3, 6 s (MX 2 + 1 s apart): no gateway at 9 s; PCP at 9, 12, 18 s;
  // failed at 30 s, reported as PCP's timeout (no result code), once.
  TimePoint t;
  const PortMapperEvent* f = lan.find(PortMapperEvent::Kind::failed, id, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->protocol, MappingProtocol::pcp);
  EXPECT_EQ(f->result, 0);
  EXPECT_EQ(t, at(seconds(30)));
  EXPECT_EQ(std::count_if(
                lan.events.begin(), lan.events.end(),
                [](const PortMapperEvent& e) { return e.kind == PortMapperEvent::Kind::failed; }),
            1);
}

TEST(PortMapperUpnp, ParallelProbeTakesUpnpOnAUpnpOnlyGateway) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  EXPECT_TRUE(lan.client.probing());
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  EXPECT_FALSE(lan.client.probing());
  // SSDP and the description (4 ms) while PCP and NAT-PMP go unanswered, then
  // GetExternalIPAddress and AddAnyPortMapping: as fast as UPnP alone.
  EXPECT_EQ(t, at(milliseconds(8)));
  // One round of probes (PCP ANNOUNCE, NAT-PMP address request, M-SEARCH): the next was
  // due at 250 ms.
  EXPECT_EQ(lan.udp_sent, 3);
}

TEST(PortMapperUpnp, ParallelProbeIgnoresUnsupportedVersionAnswers) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  lan.igd.refuse_pcp_natpmp = true;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  EXPECT_EQ(t, at(milliseconds(8)));
}

TEST(PortMapperUpnp, ParallelProbeFailsWhenNothingAnswers) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  lan.igd.answer_ssdp = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(400)));
  TimePoint t;
  const PortMapperEvent* f = lan.find(PortMapperEvent::Kind::failed, id, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->result, 0);
  // The PCP and NAT-PMP probes at NAT-PMP's 250 ms doubling, 9 rounds: 127.75 s (UPnP
  // gave up at 9 s).
  EXPECT_EQ(t, at(milliseconds(127750)));
}

TEST(PortMapperUpnp, RemovedWhileProbingIsDeletedWithoutAsking) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  lan.igd.answer_ssdp = false;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(milliseconds(100)));
  lan.client.remove(lan.now, id);
  lan.run_until(at(milliseconds(200)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::deleted, id));
  EXPECT_TRUE(lan.igd.table.empty());
}

TEST(PortMapperUpnp, UpnpFailuresCarryTheOutcome) {
  MapperLan lan(mapper_config(true, MappingProtocol::upnp));
  lan.igd.v2 = false;
  lan.igd.refuse_control = 500;
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(10)));
  const PortMapperEvent* f = lan.find(PortMapperEvent::Kind::failed, id);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->protocol, MappingProtocol::upnp);
  EXPECT_EQ(f->upnp_outcome, Outcome::http_error);
}

TEST(PortMapperUpnp, ParallelProbeIgnoresAFakeIgd) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  // Before the gateway's answer (2 ms): another host's, and one from the gateway's
  // address (spoofed) with a LOCATION elsewhere.
  lan.inject(milliseconds(1), kHost, kIntruder, MapperLan::search_answer(kIntruderLocation));
  lan.inject(milliseconds(1), kHost, Endpoint{kGateway, ssdp::kPort},
             MapperLan::search_answer(kIntruderLocation));
  lan.run_until(at(seconds(1)));
  TimePoint t;
  const PortMapperEvent* m = lan.find(PortMapperEvent::Kind::mapped, id, &t);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol, MappingProtocol::upnp);
  EXPECT_EQ(t, at(milliseconds(8)));
  EXPECT_TRUE(lan.streams.size() == 3u);  // the description and two actions, all the gateway's
  for (const auto& [k, v] : lan.streams)
    EXPECT_EQ(k.second, (Endpoint{kGateway, 5000}));
}

// A PCP server answering the ANNOUNCE probe with success 1 ms later; MAP requests are
// answered UNSUPP_VERSION from `refuse_map_from` on (a server downgraded).
void pcp_server(MapperLan& lan, TimePoint refuse_map_from) {
  lan.port_5351 = [&lan, refuse_map_from](const Transmit& t, const std::string& bytes) {
    const ByteView b(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    auto q = pcp::parse_request(b);
    if (!q) return;
    std::array<std::uint8_t, 1100> out{};
    std::optional<std::size_t> n;
    if (q->opcode == pcp::Opcode::announce) {
      pcp::Response r;
      r.opcode = pcp::Opcode::announce;
      r.epoch = 100;
      n = pcp::emit_response(r, out);
    } else if (lan.now >= refuse_map_from) {
      n = pcp::emit_error(b, pcp::ResultCode::unsupp_version, 0, 100, out);
    }
    if (!n) return;
    lan.inject(milliseconds(1), t.local, t.remote,
               std::string(reinterpret_cast<const char*>(out.data()), *n));
  };
}

TEST(PortMapperUpnp, PcpWinningTheRaceStopsUpnp) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  pcp_server(lan, kTimeNever);
  lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(20)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::pcp);
  // PCP answered at 1 ms; the IGD's SSDP answer (2 ms) is not followed, and M-SEARCH is
  // not repeated at 3 s.
  EXPECT_TRUE(lan.igd.log.empty());
  EXPECT_EQ(lan.searches_sent, 1);
}

TEST(PortMapperUpnp, UnsupportedVersionAfterTheRaceFallsBack) {
  PortMapperConfig c = mapper_config(true);
  c.parallel = true;
  MapperLan lan(c);
  // The MAP request goes out at 1 ms and unanswered; its retransmission at 3.001 s is
  // answered UNSUPP_VERSION at 3.002 s, past the race's 2 s grace: NAT-PMP takes over.
  pcp_server(lan, at(seconds(1)));
  lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(3)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::pcp);
  lan.run_until(at(seconds(3) + milliseconds(3)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::natpmp);
}

TEST(PortMapperUpnp, DowngradeOntoUpnpReportsRecreated) {
  PortMapperConfig c = mapper_config(false);
  c.protocols = {MappingProtocol::pcp, MappingProtocol::upnp};
  MapperLan lan(c);
  // A PCP server granting MAP requests 1 ms later, until it is downgraded at 100 s: from
  // then on, UNSUPP_VERSION (RFC 6887 §9).
  lan.port_5351 = [&lan](const Transmit& t, const std::string& bytes) {
    const ByteView b(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    auto q = pcp::parse_request(b);
    if (!q || q->opcode != pcp::Opcode::map) return;
    std::array<std::uint8_t, 1100> out{};
    std::optional<std::size_t> n;
    if (lan.now < at(seconds(100))) {
      pcp::Response r;
      r.opcode = pcp::Opcode::map;
      r.lifetime = q->lifetime;
      r.epoch = 100 + static_cast<std::uint32_t>((lan.now - kTimeZero) / seconds(1));
      r.data = q->data;
      r.data.external_address = kExternal;
      n = pcp::emit_response(r, out);
    } else {
      n = pcp::emit_error(b, pcp::ResultCode::unsupp_version, 0, 400, out);
    }
    if (!n) return;
    lan.inject(milliseconds(1), t.local, t.remote,
               std::string(reinterpret_cast<const char*>(out.data()), *n));
  };
  const auto id = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(1)));
  TimePoint t;
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::mapped, id, &t));
  EXPECT_EQ(t, at(milliseconds(1)));
  // The refresh leaves at 300.001 s and is refused at 300.002 s: the mapping the old
  // server granted is re-created over UPnP after its four round trips, on its port.
  lan.run_until(at(seconds(400)));
  const PortMapperEvent* r = lan.find(PortMapperEvent::Kind::recreated, id, &t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->protocol, MappingProtocol::upnp);
  EXPECT_EQ(r->external, (Endpoint{kExternal, 50000}));
  EXPECT_EQ(t, at(seconds(300) + milliseconds(10)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::upnp);
  EXPECT_EQ(lan.events.size(), 2u);  // mapped, recreated: no `mapped` for the re-creation
}

TEST(PortMapperUpnp, OneUpnpFailureDoesNotMoveGrantedMappings) {
  PortMapperConfig c = mapper_config(false);
  c.protocols = {MappingProtocol::upnp, MappingProtocol::pcp};
  MapperLan lan(c);
  const auto a = lan.client.add(lan.now, 17, 50000, 600, 50000);
  lan.run_until(at(seconds(1)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::mapped, a));
  // B's AddPortMapping meets an HTTP 500 (the kind of failure that, before anything was
  // granted, means UPnP is unusable).
  lan.igd.refuse_control = 500;
  const auto b = lan.client.add(lan.now, 17, 50001, 600, 50001);
  lan.run_until(at(seconds(2)));
  TimePoint t;
  const PortMapperEvent* f = lan.find(PortMapperEvent::Kind::failed, b, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->protocol, MappingProtocol::upnp);
  EXPECT_EQ(f->upnp_outcome, Outcome::http_error);
  EXPECT_EQ(t, at(seconds(1) + milliseconds(2)));
  EXPECT_EQ(lan.client.protocol(), MappingProtocol::upnp);
  // A is still renewed over UPnP at half its lease (mapped at 8 ms).
  lan.igd.refuse_control = 0;
  lan.run_until(at(seconds(400)));
  ASSERT_TRUE(lan.find(PortMapperEvent::Kind::refreshed, a, &t));
  EXPECT_EQ(t, at(seconds(300) + milliseconds(12)));
}

}  // namespace
}  // namespace natsim::traversal::upnp
