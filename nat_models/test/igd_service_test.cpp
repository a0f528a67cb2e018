// The IGD's WANIPConnection control (igd_service.hpp), sans-I/O: each action, each UPnP
// error code, secure mode, the misbehaviour knobs, and mappings shared with PCP in one
// NAT table. Requests are the client codec's envelopes (traversal/upnp_soap.hpp, the
// shape miniupnpc sends); answers are read back with its parser.
#include <gtest/gtest.h>

#include <memory>
#include <pugixml.hpp>

#include "nat_world.hpp"
#include "natsim/nat_models/igd_description.hpp"
#include "natsim/nat_models/igd_service.hpp"

namespace natsim::nat::upnp {
namespace {

using nat::testing::ep;
using nat::testing::ip;
namespace tu = traversal::upnp;

const TimePoint t0 = at(seconds(10));
const std::string kV1(tu::kWanIpConnection1);
const std::string kV2(tu::kWanIpConnection2);

tu::PortMappingEntry entry(std::uint16_t external, std::uint16_t internal,
                           const char* client = "10.0.0.2", std::uint32_t lease = 3600) {
  tu::PortMappingEntry e;
  e.external_port = external;
  e.internal_port = internal;
  e.internal_client = client;
  e.description = "test";
  e.lease_duration = lease;
  return e;
}

Action action(const std::string& service, const char* name, std::vector<tu::Argument> args = {}) {
  Action a;
  a.service_type = service;
  a.name = name;
  a.arguments = std::move(args);
  return a;
}

struct Igd {
  explicit Igd(PortMappingConfig c = {}, bool with_pool = true)
      : table(*preset("symmetric"),
              with_pool ? std::vector<IpAddress>{ip("203.0.113.2")} : std::vector<IpAddress>{},
              true, sim::Rng(1)),
        config(c) {
    config.upnp.enabled = true;
    service = std::make_unique<IgdService>(table, config, ip("10.0.0.1"), at(seconds(0)));
  }
  // The answer's out arguments, or its UPnP error code.
  struct Reply {
    std::uint32_t code = 0;  // 0: success
    Action out;
    [[nodiscard]] std::string arg(const char* n) const {
      const std::string* v = out.argument(n);
      return v ? *v : "<missing>";
    }
  };
  Reply call(const Action& a, const char* from = "10.0.0.2", TimePoint now = t0,
             std::string_view path = kWanIpControlPath) {
    auto r =
        service->control(now, ip(from), path, tu::soap_action_header(a), tu::format_request(a));
    auto p = tu::parse_response(r.body, a.name);
    EXPECT_TRUE(p) << r.body;
    Reply out;
    if (!p) return out;
    if (auto* e = std::get_if<UpnpError>(&*p)) {
      EXPECT_EQ(r.status, 500u);
      out.code = e->code;
    } else {
      EXPECT_EQ(r.status, 200u);
      out.out = std::get<Action>(*p);
    }
    return out;
  }
  std::uint32_t add(const tu::PortMappingEntry& e, const char* from = "10.0.0.2",
                    const std::string& service_type = kV1, TimePoint now = t0) {
    return call(tu::add_port_mapping(e, service_type), from, now).code;
  }
  NatTable table;
  PortMappingConfig config;
  std::unique_ptr<IgdService> service;
};

Action specific(std::uint16_t port, const char* proto = "UDP", const std::string& s = kV1) {
  return action(
      s, "GetSpecificPortMappingEntry",
      {{"NewRemoteHost", ""}, {"NewExternalPort", std::to_string(port)}, {"NewProtocol", proto}});
}
Action generic(int index) {
  return action(kV1, "GetGenericPortMappingEntry",
                {{"NewPortMappingIndex", std::to_string(index)}});
}

TEST(IgdControl, AddGetListAndDeleteAMapping) {
  Igd igd;
  ASSERT_EQ(igd.add(entry(40000, 4000)), 0u);
  // An explicit mapping in the NAT table, owned by UPnP, for exactly the lease.
  auto m = igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.2:4000"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->owner, MappingOwner::upnp);
  EXPECT_EQ(m->external, ep("203.0.113.2:40000"));
  EXPECT_EQ(m->expires, t0 + seconds(3600));

  auto s = igd.call(specific(40000), "10.0.0.2", t0 + seconds(100));
  ASSERT_EQ(s.code, 0u);
  EXPECT_EQ(s.arg("NewInternalPort"), "4000");
  EXPECT_EQ(s.arg("NewInternalClient"), "10.0.0.2");
  EXPECT_EQ(s.arg("NewEnabled"), "1");
  EXPECT_EQ(s.arg("NewPortMappingDescription"), "test");
  EXPECT_EQ(s.arg("NewLeaseDuration"), "3500");  // what is left at t0 + 100 s

  auto g = igd.call(generic(0));
  ASSERT_EQ(g.code, 0u);
  EXPECT_EQ(g.arg("NewExternalPort"), "40000");
  EXPECT_EQ(g.arg("NewProtocol"), "UDP");
  EXPECT_EQ(g.arg("NewRemoteHost"), "");
  EXPECT_EQ(igd.call(generic(1)).code, code::array_index_invalid);  // 713 ends upnpc -l

  auto x = igd.call(tu::get_external_ip_address());
  EXPECT_EQ(x.arg("NewExternalIPAddress"), "203.0.113.2");

  EXPECT_EQ(igd.call(tu::delete_port_mapping("", 40000, "UDP")).code, 0u);
  EXPECT_FALSE(igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.2:4000")));
  EXPECT_EQ(igd.call(specific(40000)).code, code::no_such_entry);
  EXPECT_EQ(igd.call(tu::delete_port_mapping("", 40000, "UDP")).code, code::no_such_entry);
  EXPECT_EQ(igd.service->counters().mapped, 1u);
  EXPECT_EQ(igd.service->counters().deleted, 1u);
  EXPECT_EQ(igd.service->counters().errors.at(code::no_such_entry), 2u);
}

TEST(IgdControl, TheLeaseRunsOutInSimulatedTime) {
  Igd igd;
  ASSERT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 60)), 0u);
  EXPECT_EQ(igd.call(specific(40000), "10.0.0.2", t0 + seconds(59)).code, 0u);
  EXPECT_EQ(igd.call(specific(40000), "10.0.0.2", t0 + seconds(60)).code, code::no_such_entry);
  // Lease 0 is permanent in IGD:1 (reported as 0).
  ASSERT_EQ(igd.add(entry(40001, 4001, "10.0.0.2", 0)), 0u);
  auto s = igd.call(specific(40001), "10.0.0.2", t0 + hours(24 * 365));
  EXPECT_EQ(s.arg("NewLeaseDuration"), "0");
}

TEST(IgdControl, StatusAndConnectionInfo) {
  Igd igd;
  auto s = igd.call(action(kV1, "GetStatusInfo"), "10.0.0.2", at(seconds(75)));
  EXPECT_EQ(s.arg("NewConnectionStatus"), "Connected");
  EXPECT_EQ(s.arg("NewLastConnectionError"), "ERROR_NONE");
  EXPECT_EQ(s.arg("NewUptime"), "75");
  EXPECT_EQ(igd.call(action(kV1, "GetConnectionTypeInfo")).arg("NewConnectionType"), "IP_Routed");
  EXPECT_EQ(igd.call(action(kV1, "GetNATRSIPStatus")).arg("NewNATEnabled"), "1");
  auto l = igd.call(action(std::string(kWanCommonInterfaceConfig1), "GetCommonLinkProperties"),
                    "10.0.0.2", t0, kWanCommonControlPath);
  EXPECT_EQ(l.arg("NewPhysicalLinkStatus"), "Up");
}

TEST(IgdControl, ConflictsAre718AndTheOwnMappingIsRefreshed) {
  Igd igd;
  ASSERT_EQ(igd.add(entry(40000, 4000)), 0u);
  // Another host (mapping to itself) wants the same external port.
  EXPECT_EQ(igd.add(entry(40000, 5000, "10.0.0.3"), "10.0.0.3"), code::conflict);
  // The same host, same internal endpoint: a refresh with the new lease.
  EXPECT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 7200)), 0u);
  EXPECT_EQ(igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.2:4000"))->expires,
            t0 + seconds(7200));
  // The same internal endpoint on another external port: the table holds one.
  EXPECT_EQ(igd.add(entry(40002, 4000)), code::conflict);
  // The other protocol is another port space.
  auto tcp = entry(40000, 4000);
  tcp.protocol = "TCP";
  EXPECT_EQ(igd.add(tcp), 0u);
}

TEST(IgdControl, AKnobAnswers718EvenForTheOwnMapping) {
  PortMappingConfig c;
  c.upnp.conflict_on_any_port_in_use = true;
  Igd igd(c);
  ASSERT_EQ(igd.add(entry(40000, 4000)), 0u);
  EXPECT_EQ(igd.add(entry(40000, 4000)), code::conflict);
}

TEST(IgdControl, SecureModeMapsAndDeletesOnlyTheCallersOwn) {
  Igd igd;
  // 10.0.0.3 asks for a mapping to 10.0.0.2.
  EXPECT_EQ(igd.add(entry(40000, 4000, "10.0.0.2"), "10.0.0.3"), code::not_authorized);
  ASSERT_EQ(igd.add(entry(40000, 4000, "10.0.0.2"), "10.0.0.2"), 0u);
  EXPECT_EQ(igd.call(tu::delete_port_mapping("", 40000, "UDP"), "10.0.0.3").code,
            code::not_authorized);
  // Reading is allowed to all (as miniupnpd).
  EXPECT_EQ(igd.call(specific(40000), "10.0.0.3").code, 0u);

  PortMappingConfig open;
  open.upnp.secure_mode = false;
  Igd lax(open);
  EXPECT_EQ(lax.add(entry(40000, 4000, "10.0.0.2"), "10.0.0.3"), 0u);
  EXPECT_EQ(lax.call(tu::delete_port_mapping("", 40000, "UDP"), "10.0.0.3").code, 0u);
}

TEST(IgdControl, PcpMappingsAreSeenAndConflictWithOtherMechanisms) {
  Igd igd;
  MapRequest r;
  r.internal = ep("10.0.0.5:6000");
  r.suggested_port = 40000;
  r.lifetime = seconds(600);
  r.owner = MappingOwner::pcp;
  ASSERT_TRUE(igd.table.map(t0, r));
  EXPECT_EQ(igd.add(entry(40000, 4000)), code::conflict);                                   // IGD:1
  EXPECT_EQ(igd.add(entry(40000, 4000), "10.0.0.2", kV2), code::conflict_other_mechanism);  // :2
  auto g = igd.call(generic(0));
  EXPECT_EQ(g.arg("NewExternalPort"), "40000");
  EXPECT_EQ(g.arg("NewInternalClient"), "10.0.0.5");
  EXPECT_EQ(g.arg("NewPortMappingDescription"), "PCP");
  EXPECT_EQ(g.arg("NewLeaseDuration"), "600");
  // Not UPnP's to delete.
  EXPECT_EQ(igd.call(tu::delete_port_mapping("", 40000, "UDP"), "10.0.0.5").code,
            code::not_authorized);
  // And a PCP request for UPnP's internal endpoint is refused by the table (not_owner).
  ASSERT_EQ(igd.add(entry(40001, 4001)), 0u);
  r.internal = ep("10.0.0.2:4001");
  r.suggested_port = 0;
  EXPECT_EQ(igd.table.map(t0, r).error(), MapError::not_owner);
}

TEST(IgdControl, InvalidArgsAndActions) {
  Igd igd;
  auto bad = tu::add_port_mapping(entry(40000, 4000));
  bad.arguments[2].value = "ICMP";  // NewProtocol
  EXPECT_EQ(igd.call(bad).code, code::invalid_args);
  bad = tu::add_port_mapping(entry(40000, 4000));
  bad.arguments[1].value = "70000";  // NewExternalPort
  EXPECT_EQ(igd.call(bad).code, code::invalid_args);
  bad = tu::add_port_mapping(entry(40000, 0));
  EXPECT_EQ(igd.call(bad).code, code::invalid_args);  // internal port 0
  bad = tu::add_port_mapping(entry(40000, 4000, "not-an-address"));
  EXPECT_EQ(igd.call(bad).code, code::invalid_args);
  bad = tu::add_port_mapping(entry(40000, 4000));
  bad.arguments.erase(bad.arguments.begin() + 4);  // no NewInternalClient
  EXPECT_EQ(igd.call(bad).code, code::invalid_args);
  EXPECT_EQ(igd.call(generic(-1)).code, code::invalid_args);

  EXPECT_EQ(igd.call(action(kV1, "Reboot")).code, code::invalid_action);
  // v2 actions are not in WANIPConnection:1.
  EXPECT_EQ(igd.call(action(kV1, "GetListOfPortMappings")).code, code::invalid_action);
  // A service type the control URL does not serve.
  EXPECT_EQ(
      igd.call(action("urn:schemas-upnp-org:service:Layer3Forwarding:1", "GetExternalIPAddress"))
          .code,
      code::invalid_action);
}

TEST(IgdControl, MalformedEnvelopesAreRefusedWithoutACrash) {
  Igd igd;
  for (std::string body :
       {std::string("<s:Envelope"), std::string("not xml at all"), std::string("<a><b/></a>"),
        std::string(), std::string(70 * 1024, 'x')}) {
    auto r = igd.service->control(t0, ip("10.0.0.2"), kWanIpControlPath, "", body);
    EXPECT_EQ(r.status, 500u);
    auto p = tu::parse_response(r.body, "AddPortMapping");
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<UpnpError>(*p).code, code::invalid_action);
  }
  // Larger than the configured cap, even though it is well-formed.
  PortMappingConfig c;
  c.upnp.max_body = 512;
  Igd small(c);
  auto a = tu::add_port_mapping(entry(40000, 4000));
  a.arguments[6].value = std::string(600, 'd');
  EXPECT_EQ(small.call(a).code, code::invalid_action);
  EXPECT_FALSE(small.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.2:4000")));
}

TEST(IgdControl, WildcardsAndPortRules) {
  Igd igd;
  EXPECT_EQ(igd.add(entry(0, 4000)), code::wildcard_ext_port);  // 716
  PortMappingConfig c;
  c.upnp.same_port_only = true;
  EXPECT_EQ(Igd(c).add(entry(40000, 4000)), code::same_port_values);  // 724
  EXPECT_EQ(Igd(c).add(entry(4000, 4000)), 0u);
  c = {};
  c.upnp.external_port_wildcard_only = true;
  Igd wild(c);
  EXPECT_EQ(wild.add(entry(40000, 4000)), code::external_port_wildcard_only);  // 727
  EXPECT_EQ(wild.add(entry(0, 4000)), 0u);                                     // the gateway picks
  c = {};
  c.upnp.remote_host = RemoteHostSupport::wildcard_only;
  auto remote = entry(40000, 4000);
  remote.remote_host = "198.51.100.10";
  EXPECT_EQ(Igd(c).add(remote), code::remote_host_wildcard_only);  // 726
  c.upnp.remote_host = RemoteHostSupport::specific_only;
  EXPECT_EQ(Igd(c).add(entry(40000, 4000)), code::wildcard_src_ip);  // 715
  EXPECT_EQ(Igd(c).add(remote), 0u);
}

TEST(IgdControl, ARemoteHostFiltersTheMapping) {
  Igd igd;
  auto remote = entry(40000, 4000);
  remote.remote_host = "198.51.100.10";
  ASSERT_EQ(igd.add(remote), 0u);
  EXPECT_EQ(igd.call(generic(0)).arg("NewRemoteHost"), "198.51.100.10");
  EXPECT_TRUE(igd.table.inbound(t0, IpProto::udp, ep("198.51.100.10:9"), ep("203.0.113.2:40000")));
  EXPECT_FALSE(igd.table.inbound(t0, IpProto::udp, ep("198.51.100.20:9"), ep("203.0.113.2:40000")));
}

TEST(IgdControl, OnlyPermanentLeases) {
  PortMappingConfig c;
  c.upnp.only_permanent_leases = true;
  Igd igd(c);
  EXPECT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 3600)), code::only_permanent_leases);  // 725
  EXPECT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 0)), 0u);
}

TEST(IgdControl, IgnoringTheLeaseKeepsTheMappingForever) {
  PortMappingConfig c;
  c.upnp.ignores_lease = true;
  Igd igd(c);
  ASSERT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 60)), 0u);
  auto s = igd.call(specific(40000), "10.0.0.2", t0 + hours(24));
  ASSERT_EQ(s.code, 0u);
  EXPECT_EQ(s.arg("NewLeaseDuration"), "0");
}

TEST(IgdControl, TheMappingCapIs728) {
  PortMappingConfig c;
  c.quota_per_host = 2;
  Igd igd(c);
  EXPECT_EQ(igd.add(entry(40000, 4000)), 0u);
  EXPECT_EQ(igd.add(entry(40001, 4001)), 0u);
  EXPECT_EQ(igd.add(entry(40002, 4002)), code::no_port_maps_available);
  // Another host has its own allowance.
  EXPECT_EQ(igd.add(entry(40003, 4000, "10.0.0.3"), "10.0.0.3"), 0u);
}

TEST(IgdControl, WithoutAnExternalAddressActionsFail) {
  Igd igd({}, false);
  EXPECT_EQ(igd.call(tu::get_external_ip_address()).code, code::action_failed);  // 501
  EXPECT_EQ(igd.add(entry(40000, 4000)), code::action_failed);
}

TEST(IgdControl, RefusingControlAnswers606ToEveryAction) {
  PortMappingConfig c;
  c.upnp.refuse_control = true;
  Igd igd(c);
  EXPECT_EQ(igd.call(tu::get_external_ip_address()).code, code::not_authorized);
  EXPECT_EQ(igd.add(entry(40000, 4000)), code::not_authorized);
}

TEST(IgdControl, Version2LeasesAddAnyRangesAndListings) {
  Igd igd;
  // :2 has no permanent leases: 0 is a week (WANIPConnection:2 §2.3.16).
  ASSERT_EQ(igd.add(entry(40000, 4000, "10.0.0.2", 0), "10.0.0.2", kV2), 0u);
  EXPECT_EQ(igd.call(specific(40000, "UDP", kV2)).arg("NewLeaseDuration"), "604800");
  // AddAnyPortMapping on a taken port gets another one.
  auto any = tu::add_port_mapping(entry(40000, 5000, "10.0.0.3"), kV2);
  any.name = "AddAnyPortMapping";
  auto r = igd.call(any, "10.0.0.3");
  ASSERT_EQ(r.code, 0u);
  const std::string reserved = r.arg("NewReservedPort");
  EXPECT_NE(reserved, "40000");
  EXPECT_TRUE(igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.3:5000")));

  auto list = [&](const char* start, const char* end, const char* manage, const char* from) {
    return igd.call(action(kV2, "GetListOfPortMappings",
                           {{"NewStartPort", start},
                            {"NewEndPort", end},
                            {"NewProtocol", "UDP"},
                            {"NewManage", manage},
                            {"NewNumberOfPorts", "0"}}),
                    from);
  };
  auto l = list("0", "65535", "1", "10.0.0.2");
  ASSERT_EQ(l.code, 0u);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(l.arg("NewPortListing").c_str()));
  auto root = doc.child("p:PortMappingList");
  ASSERT_TRUE(root);
  int n = 0;
  for (auto e = root.child("p:PortMappingEntry"); e; e = e.next_sibling("p:PortMappingEntry"))
    ++n;
  EXPECT_EQ(n, 2);
  auto mine = doc.select_node("//p:PortMappingEntry[p:NewInternalClient='10.0.0.2']");
  ASSERT_TRUE(mine);
  EXPECT_STREQ(mine.node().child_value("p:NewExternalPort"), "40000");
  EXPECT_STREQ(mine.node().child_value("p:NewLeaseTime"), "604800");
  // Without NewManage, only the caller's.
  ASSERT_TRUE(doc.load_string(list("0", "65535", "0", "10.0.0.3").arg("NewPortListing").c_str()));
  EXPECT_STREQ(
      doc.child("p:PortMappingList").child("p:PortMappingEntry").child_value("p:NewInternalClient"),
      "10.0.0.3");
  EXPECT_EQ(list("50000", "40000", "1", "10.0.0.2").code, code::inconsistent_parameters);  // 733
  EXPECT_EQ(list("1", "100", "1", "10.0.0.2").code, code::port_mapping_not_found);         // 730

  auto range = [&](const char* start, const char* end, const char* from) {
    return igd.call(action(kV2, "DeletePortMappingRange",
                           {{"NewStartPort", start},
                            {"NewEndPort", end},
                            {"NewProtocol", "UDP"},
                            {"NewManage", "1"}}),
                    from);
  };
  EXPECT_EQ(range("2", "1", "10.0.0.2").code, code::inconsistent_parameters);
  // Secure mode: 10.0.0.2 deletes only its own, even with NewManage.
  EXPECT_EQ(range("1", "65535", "10.0.0.2").code, 0u);
  EXPECT_FALSE(igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.2:4000")));
  EXPECT_TRUE(igd.table.explicit_mapping(t0, IpProto::udp, ep("10.0.0.3:5000")));
  EXPECT_EQ(range("1", "65535", "10.0.0.2").code, code::port_mapping_not_found);
}

TEST(IgdControl, V1OnlyRefusesVersion2) {
  PortMappingConfig c;
  c.upnp.v1_only = true;
  Igd igd(c);
  EXPECT_EQ(igd.add(entry(40000, 4000), "10.0.0.2", kV2), code::invalid_action);
  EXPECT_EQ(igd.add(entry(40000, 4000), "10.0.0.2", kV1), 0u);
  EXPECT_EQ(igd.service->identity().version, 1);
}

TEST(IgdControl, MetricsNameEveryCounter) {
  Igd igd;
  (void)igd.add(entry(0, 4000));
  const auto m = igd_metrics(igd.service->counters());
  EXPECT_EQ(m.back(), (std::pair<std::string, std::uint64_t>{"upnp.errors.716", 1}));
  EXPECT_EQ(igd_metrics({}, true).size(), 12u + 17u);
}

// answer_within_mx: UDA 1.1 §1.3.3's delay is for multicast searches; a unicast M-SEARCH
// is answered at once, and a flood of multicast ones is capped, not queued without bound.
TEST(IgdSsdp, DelayOnlyForMulticastAndTheQueueIsCapped) {
  PortMappingConfig c;
  c.upnp.answer_within_mx = true;
  Igd igd(c);
  IgdService& s = *igd.service;
  const std::string search =
      "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
      "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
      "MAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n";
  const ByteView b(reinterpret_cast<const std::uint8_t*>(search.data()), search.size());
  std::array<std::uint8_t, 4096> out{};
  const TimePoint searched_at = at(seconds(1));
  while (s.poll_transmit(out)) {
  }
  // Unicast (to 10.0.0.1:1900): the answer is out at once.
  ASSERT_TRUE(s.handle_datagram(searched_at, Endpoint{ip("10.0.0.1"), 1900},
                                Endpoint{ip("10.0.0.10"), 50000}, b));
  EXPECT_TRUE(s.poll_transmit(out));
  EXPECT_EQ(s.counters().search_answers, 1u);
  EXPECT_FALSE(s.poll_timeout());
  // 3000 multicast searches at once: 1024 answers wait (within MX, 2 s), the rest are
  // dropped and counted.
  for (std::uint16_t i = 0; i < 3000; ++i)
    s.handle_datagram(searched_at, Endpoint{ip("239.255.255.250"), 1900},
                      Endpoint{ip("10.0.0.10"), static_cast<std::uint16_t>(20000 + i)}, b);
  EXPECT_FALSE(s.poll_transmit(out));
  EXPECT_EQ(s.counters().search_answers_dropped, 3000u - 1024u);
  ASSERT_TRUE(s.poll_timeout());
  EXPECT_GE(*s.poll_timeout(), searched_at);
  EXPECT_LT(*s.poll_timeout(), searched_at + seconds(2));
  s.handle_timeout(searched_at + seconds(2));
  int sent = 0;
  while (s.poll_transmit(out))
    ++sent;
  EXPECT_EQ(sent, 1024);
  EXPECT_EQ(s.counters().search_answers, 1u + 1024u);
}

}  // namespace
}  // namespace natsim::nat::upnp
