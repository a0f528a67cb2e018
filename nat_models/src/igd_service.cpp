#include "natsim/nat_models/igd_service.hpp"

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>

#include "natsim/nat_models/igd_description.hpp"
#include "natsim/traversal/upnp_xml.hpp"

namespace natsim::nat::upnp {

namespace ssdp = traversal::ssdp;
namespace tu = traversal::upnp;

namespace {

constexpr std::string_view kXml = "text/xml; charset=\"utf-8\"";
// A lease far beyond any run: a "permanent" mapping (lease 0 in IGD:1).
constexpr Duration kPermanent = hours(24 * 365 * 10);
// answer_within_mx queues at most this many answers (a few hundred searches of the IGD's
// handful of targets; a real LAN has a few control points).
constexpr std::size_t kMaxDelayedAnswers = 1024;

std::string_view description_of(std::uint32_t c) {
  switch (c) {
    case code::invalid_action:
      return "Invalid Action";
    case code::invalid_args:
      return "Invalid Args";
    case code::action_failed:
      return "Action Failed";
    case code::not_authorized:
      return "Action not authorized";
    case code::array_index_invalid:
      return "SpecifiedArrayIndexInvalid";
    case code::no_such_entry:
      return "NoSuchEntryInArray";
    case code::wildcard_src_ip:
      return "WildCardNotPermittedInSrcIP";
    case code::wildcard_ext_port:
      return "WildCardNotPermittedInExtPort";
    case code::conflict:
      return "ConflictInMappingEntry";
    case code::same_port_values:
      return "SamePortValuesRequired";
    case code::only_permanent_leases:
      return "OnlyPermanentLeasesSupported";
    case code::remote_host_wildcard_only:
      return "RemoteHostOnlySupportsWildcard";
    case code::external_port_wildcard_only:
      return "ExternalPortOnlySupportsWildcard";
    case code::no_port_maps_available:
      return "NoPortMapsAvailable";
    case code::conflict_other_mechanism:
      return "ConflictWithOtherMechanisms";
    case code::port_mapping_not_found:
      return "PortMappingNotFound";
    case code::inconsistent_parameters:
      return "InconsistentParameters";
    default:
      return "Error";
  }
}

template <class T>
std::optional<T> number(const std::string* s) {
  if (s == nullptr || s->empty()) return std::nullopt;
  T v{};
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc{} || end != s->data() + s->size()) return std::nullopt;
  return v;
}

std::optional<IpProto> protocol(const std::string* s) {
  if (s == nullptr) return std::nullopt;
  if (*s == "UDP" || *s == "udp") return IpProto::udp;
  if (*s == "TCP" || *s == "tcp") return IpProto::tcp;
  return std::nullopt;
}

std::string_view protocol_name(IpProto p) {
  return p == IpProto::tcp ? "TCP" : "UDP";
}

// UDA 1.1 §2.5 boolean: "0", "1", "false", "true", "no", "yes".
std::optional<bool> boolean(const std::string* s) {
  if (s == nullptr) return std::nullopt;
  if (*s == "1" || *s == "true" || *s == "yes") return true;
  if (*s == "0" || *s == "false" || *s == "no") return false;
  return std::nullopt;
}

std::string_view owner_description(MappingOwner o) {
  switch (o) {
    case MappingOwner::pcp:
      return "PCP";
    case MappingOwner::natpmp:
      return "NAT-PMP";
    default:
      return "";
  }
}

std::string path_of(std::string_view target) {
  // An absolute-form target (http://host:port/path) is accepted too (RFC 9112 §3.2.2).
  if (target.starts_with("http://")) {
    const auto slash = target.find('/', 7);
    target = slash == std::string_view::npos ? "/" : target.substr(slash);
  }
  const auto query = target.find('?');
  return std::string(target.substr(0, query));
}

// GetListOfPortMappings' answer, its NewPortListing document in a CDATA section as
// miniupnpd writes it: miniupnpc's parser reads CDATA but does not decode entities.
std::string format_listing_response(const Action& out) {
  pugi::xml_document doc;
  auto r = tu::xml::append_envelope(doc).append_child(("u:" + out.name + "Response").c_str());
  r.append_attribute("xmlns:u") = out.service_type.c_str();
  for (const auto& a : out.arguments)
    r.append_child(a.name.c_str()).append_child(pugi::node_cdata).set_value(a.value.c_str());
  return tu::xml::to_text(doc);
}

}  // namespace

UpnpError error(std::uint32_t c) {
  return UpnpError{c, std::string(description_of(c))};
}

IgdService::IgdService(NatTable& table, const PortMappingConfig& config, IpAddress lan,
                       TimePoint now)
    : table_(table), config_(config), lan_(lan), booted_(now) {
  const UpnpConfig& u = config_.upnp;
  id_.location = "http://" + lan.to_string() + ":" + std::to_string(u.http_port) +
                 std::string(kDescriptionPath);
  id_.max_age = u.max_age;
  id_.version = u.v1_only ? 1 : 2;
  id_.ppp = u.ppp;
}

// --- SSDP

void IgdService::notify_round(bool alive) {
  const Endpoint from{IpAddress::v4(0), ssdp::kPort};
  const Endpoint to{ssdp::kMulticastV4, ssdp::kPort};
  for (const ssdp::Message& m : igd_notifications(id_, alive)) {
    const std::string text = ssdp::format(m);
    out_.push(from, to, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    ++counters_.notifies;
  }
}

void IgdService::boot(TimePoint now) {
  booted_ = now;
  // UDA 1.1 §1.2.2: advertise on joining the network, then before max-age runs out.
  notify_round(true);
  next_notify_ = now + seconds(std::max<std::uint32_t>(1, config_.upnp.notify_interval));
}

void IgdService::shutdown() {
  // UDA 1.1 §1.2.3: ssdp:byebye when the device leaves the network.
  notify_round(false);
  next_notify_.reset();
  delayed_.clear();  // a device going down answers nothing more
}

std::optional<TimePoint> IgdService::poll_timeout() const {
  std::optional<TimePoint> t = next_notify_;
  if (!delayed_.empty() && (!t || delayed_.front().at < *t)) t = delayed_.front().at;
  return t;
}

void IgdService::handle_timeout(TimePoint now) {
  std::size_t due = 0;
  while (due < delayed_.size() && delayed_[due].at <= now) {
    const DelayedAnswer& d = delayed_[due++];
    out_.push(d.from, d.to,
              ByteView(reinterpret_cast<const std::uint8_t*>(d.text.data()), d.text.size()));
    ++counters_.search_answers;
  }
  delayed_.erase(delayed_.begin(), delayed_.begin() + static_cast<std::ptrdiff_t>(due));
  if (!next_notify_ || *next_notify_ > now) return;
  notify_round(true);
  next_notify_ = now + seconds(std::max<std::uint32_t>(1, config_.upnp.notify_interval));
}

bool IgdService::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  auto m = ssdp::parse(bytes);
  if (!m || m->kind != ssdp::Kind::search) {
    // NOTIFYs of other devices, answers, and what is not SSDP.
    ++counters_.ssdp_dropped;
    return true;
  }
  ++counters_.searches;
  const Endpoint from{local.address.is_multicast() ? lan_ : local.address, ssdp::kPort};
  std::optional<TimePoint> at;
  // UDA 1.1 §1.3.3: the delay is for multicast searches (many devices answering at once);
  // a unicast M-SEARCH is answered at once.
  if (config_.upnp.answer_within_mx && m->mx > 0 && local.address.is_multicast()) {
    // UDA 1.1 §1.3.3: a random delay in [0, MX) seconds, MX counted as at most 5; a
    // hash of who asked and how many searches came before, so a run repeats.
    std::uint64_t z =
        (std::uint64_t{remote.address.is_v4() ? remote.address.v4_value() : 0} << 16) ^
        remote.port ^ (counters_.searches * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    at = now + milliseconds(static_cast<std::int64_t>(z % (std::min(m->mx, 5u) * 1000)));
  }
  for (const ssdp::Message& a : igd_search_answers(id_, *m)) {
    const std::string text = ssdp::format(a);
    if (at) {
      // A LAN flooding M-SEARCH must not grow the queue (and its O(n) inserts) without
      // bound: beyond the cap the answer is dropped and counted.
      if (delayed_.size() >= kMaxDelayedAnswers) {
        ++counters_.search_answers_dropped;
        continue;
      }
      // One search's answers leave together; later searches' after them or earlier.
      auto pos = std::upper_bound(delayed_.begin(), delayed_.end(), *at,
                                  [](TimePoint t, const DelayedAnswer& d) { return t < d.at; });
      delayed_.insert(pos, DelayedAnswer{*at, from, remote, text});
      continue;
    }
    out_.push(from, remote,
              ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    ++counters_.search_answers;
  }
  return true;
}

// --- HTTP

std::string IgdService::answer_unreadable(HttpRequestReader::State state, bool header_too_large) {
  ++counters_.http_errors;
  if (state == HttpRequestReader::State::too_large) {
    // RFC 9110 §15.5.14, RFC 6585 §5.
    return format_http_response(header_too_large ? 431 : 413, {}, {}, id_.server);
  }
  return format_http_response(400, {}, {}, id_.server);
}

std::string IgdService::answer_http(TimePoint now, const Endpoint& client,
                                    const HttpRequest& request) {
  ++counters_.http_requests;
  const std::string path = path_of(request.target);
  const UpnpConfig& u = config_.upnp;
  if (request.method == "GET") {
    std::string body;
    if (path == kDescriptionPath) {
      const std::string base = u.control_url_host.empty() ? std::string()
                                                          : "http://" + u.control_url_host + ":" +
                                                                std::to_string(u.http_port);
      body = device_description(id_, base);
    } else if (path == kWanIpScpdPath) {
      body = wan_ip_connection_scpd(id_.version);
    } else if (path == kWanPppScpdPath && id_.ppp) {
      body = wan_ip_connection_scpd(1);
    } else if (path == kWanCommonScpdPath) {
      body = wan_common_interface_config_scpd();
    } else {
      ++counters_.http_errors;
      return format_http_response(404, {}, {}, id_.server);
    }
    return format_http_response(200, kXml, body, id_.server);
  }
  if (request.method == "POST") {
    if (path != kWanIpControlPath && path != kWanCommonControlPath &&
        !(path == kWanPppControlPath && id_.ppp)) {
      ++counters_.http_errors;
      return format_http_response(404, {}, {}, id_.server);
    }
    auto a = control(now, client.address, path, request.soap_action, request.body);
    return format_http_response(a.status, kXml, a.body, id_.server);
  }
  // SUBSCRIBE (eventing) and anything else.
  ++counters_.http_errors;
  return format_http_response(405, {}, {}, id_.server);
}

// --- SOAP control

IgdService::ControlAnswer IgdService::control(TimePoint now, const IpAddress& client,
                                              std::string_view path, std::string_view soap_action,
                                              std::string_view body) {
  ++counters_.actions;
  auto fail = [this](const UpnpError& e) {
    ++counters_.errors[e.code];
    return ControlAnswer{500, format_fault(e)};
  };
  if (body.size() > config_.upnp.max_body) return fail(error(code::invalid_action));
  auto req = parse_request(body, soap_action);
  if (!req) return fail(req.error());
  const Action& a = *req;
  // Which service the path serves, and at which version the request speaks to it.
  const std::string urn = "urn:schemas-upnp-org:service:";
  int version = 0;
  bool common = false;
  if (path == kWanIpControlPath) {
    if (a.service_type == tu::kWanIpConnection1) version = 1;
    if (a.service_type == tu::kWanIpConnection2 && id_.version >= 2) version = 2;
  } else if (path == kWanPppControlPath) {
    if (a.service_type == kWanPppConnection1) version = 1;
  } else if (path == kWanCommonControlPath && a.service_type == kWanCommonInterfaceConfig1) {
    common = true;
  }
  if (version == 0 && !common) return fail(error(code::invalid_action));
  if (config_.upnp.refuse_control) return fail(error(code::not_authorized));

  Outcome out = Action{};
  const std::string& n = a.name;
  if (common) {
    Action r;
    if (n == "GetCommonLinkProperties") {
      r.arguments = {{"NewWANAccessType", "Ethernet"},
                     {"NewLayer1UpstreamMaxBitRate", "1000000000"},
                     {"NewLayer1DownstreamMaxBitRate", "1000000000"},
                     {"NewPhysicalLinkStatus", "Up"}};
    } else if (n == "GetTotalBytesSent" || n == "GetTotalBytesReceived" ||
               n == "GetTotalPacketsSent" || n == "GetTotalPacketsReceived") {
      // Not counted by the model: 0, as routers without counters answer.
      r.arguments = {{"New" + n.substr(3), "0"}};
    } else {
      return fail(error(code::invalid_action));
    }
    out = std::move(r);
  } else if (n == "AddPortMapping") {
    out = add(now, client, a, false);
  } else if (n == "AddAnyPortMapping" && version >= 2) {
    out = add(now, client, a, true);
  } else if (n == "DeletePortMapping") {
    out = remove(now, client, a);
  } else if (n == "DeletePortMappingRange" && version >= 2) {
    out = remove_range(now, client, a);
  } else if (n == "GetSpecificPortMappingEntry") {
    out = specific(now, a);
  } else if (n == "GetGenericPortMappingEntry") {
    out = generic(now, a);
  } else if (n == "GetListOfPortMappings" && version >= 2) {
    out = list(now, client, a);
  } else if (n == "GetExternalIPAddress") {
    if (!table_.translates() || table_.pool().empty()) {
      out = error(code::action_failed);
    } else {
      Action r;
      r.arguments = {{"NewExternalIPAddress", table_.pool().front().to_string()}};
      out = std::move(r);
    }
  } else if (n == "GetStatusInfo") {
    Action r;
    r.arguments = {{"NewConnectionStatus", "Connected"},
                   {"NewLastConnectionError", "ERROR_NONE"},
                   {"NewUptime", std::to_string((now - booted_) / seconds(1))}};
    out = std::move(r);
  } else if (n == "GetConnectionTypeInfo") {
    Action r;
    r.arguments = {{"NewConnectionType", "IP_Routed"}, {"NewPossibleConnectionTypes", "IP_Routed"}};
    out = std::move(r);
  } else if (n == "GetNATRSIPStatus") {
    Action r;
    r.arguments = {{"NewRSIPAvailable", "0"}, {"NewNATEnabled", table_.translates() ? "1" : "0"}};
    out = std::move(r);
  } else {
    return fail(error(code::invalid_action));
  }
  if (!out) return fail(out.error());
  out->service_type = a.service_type;
  out->name = a.name;
  if (n == "GetListOfPortMappings") return ControlAnswer{200, format_listing_response(*out)};
  return ControlAnswer{200, format_response(*out)};
}

std::vector<MappingInfo> IgdService::explicit_mappings(TimePoint now) const {
  std::vector<MappingInfo> all = table_.mappings(now);
  std::erase_if(all, [](const MappingInfo& m) { return m.owner == MappingOwner::traffic; });
  std::sort(all.begin(), all.end(), [](const MappingInfo& x, const MappingInfo& y) {
    return std::pair(x.proto, x.external.port) < std::pair(y.proto, y.external.port);
  });
  return all;
}

std::optional<MappingInfo> IgdService::holder(TimePoint now, IpProto proto,
                                              std::uint16_t external_port) const {
  for (MappingInfo& m : table_.mappings(now)) {
    if (m.proto == proto && m.external.port == external_port) return std::move(m);
  }
  return std::nullopt;
}

std::uint32_t IgdService::conflict_code(bool v2, MappingOwner other) const {
  // WANIPConnection:2 §2.5.16: 729 when another mechanism (PCP, NAT-PMP) holds the port;
  // IGD:1 has only 718.
  return v2 && (other == MappingOwner::pcp || other == MappingOwner::natpmp)
             ? code::conflict_other_mechanism
             : code::conflict;
}

IgdService::Outcome IgdService::add(TimePoint now, const IpAddress& client, const Action& a,
                                    bool any) {
  const UpnpConfig& u = config_.upnp;
  const bool v2 = a.service_type == tu::kWanIpConnection2;
  const auto external_port = number<std::uint16_t>(a.argument("NewExternalPort"));
  const auto proto = protocol(a.argument("NewProtocol"));
  const auto internal_port = number<std::uint16_t>(a.argument("NewInternalPort"));
  const std::string* internal_client = a.argument("NewInternalClient");
  const auto internal_address =
      internal_client != nullptr ? IpAddress::parse(*internal_client) : std::nullopt;
  const std::string* remote_host = a.argument("NewRemoteHost");
  const std::string* lease_text = a.argument("NewLeaseDuration");
  std::optional<std::uint32_t> lease =
      lease_text == nullptr || lease_text->empty() ? 0u : number<std::uint32_t>(lease_text);
  const std::string* enabled_text = a.argument("NewEnabled");
  const auto enabled = enabled_text == nullptr ? std::optional<bool>(true) : boolean(enabled_text);
  if (!external_port || !proto || !internal_port || *internal_port == 0 || !internal_address ||
      !internal_address->is_v4() || !lease || !enabled)
    return error(code::invalid_args);
  std::optional<IpAddress> remote;
  if (remote_host != nullptr && !remote_host->empty() && *remote_host != "*") {
    remote = IpAddress::parse(*remote_host);
    if (!remote || !remote->is_v4()) return error(code::invalid_args);
  }
  if (remote && u.remote_host == RemoteHostSupport::wildcard_only)
    return error(code::remote_host_wildcard_only);
  if (!remote && u.remote_host == RemoteHostSupport::specific_only)
    return error(code::wildcard_src_ip);
  if (*external_port == 0 && !any && !u.external_port_wildcard_only)
    return error(code::wildcard_ext_port);  // WANIPConnection:1 §2.4.16: 716
  if (*external_port != 0 && !any && u.external_port_wildcard_only)
    return error(code::external_port_wildcard_only);
  if (u.same_port_only && *external_port != 0 && *external_port != *internal_port)
    return error(code::same_port_values);
  if (u.only_permanent_leases && *lease != 0) return error(code::only_permanent_leases);
  // Secure mode (WANIPConnection:2 §2.3.14): a control point maps only to itself.
  if (u.secure_mode && *internal_address != client) return error(code::not_authorized);
  if (!table_.translates() || table_.pool().empty()) return error(code::action_failed);

  bool permanent = *lease == 0;
  if (v2) {
    // WANIPConnection:2 §2.3.16: no permanent leases; 0 is the maximum, a week.
    if (*lease == 0 || *lease > kMaxLeaseV2) lease = kMaxLeaseV2;
    permanent = false;
  }
  if (u.ignores_lease) permanent = true;
  const Endpoint internal{*internal_address, *internal_port};

  std::uint16_t suggested = *external_port;
  if (suggested != 0) {
    if (auto h = holder(now, *proto, suggested)) {
      const bool own = h->owner == MappingOwner::upnp && h->internal == internal;
      if (u.conflict_on_any_port_in_use || !own) {
        if (!any) return error(conflict_code(v2, h->owner));
        suggested = 0;  // AddAnyPortMapping: another port (WANIPConnection:2 §2.5.15)
      }
    }
  }
  if (auto e = table_.explicit_mapping(now, *proto, internal)) {
    // The table holds one explicit mapping per internal endpoint.
    if (e->owner != MappingOwner::upnp) return error(conflict_code(v2, e->owner));
    if (suggested != 0 && e->external.port != suggested && !any) return error(code::conflict);
    suggested = e->external.port;
  }
  std::array<RemoteFilter, 1> filter;
  MapRequest m;
  m.proto = *proto;
  m.internal = internal;
  m.suggested_port = suggested;
  m.require_suggested = !any && suggested != 0;
  m.lifetime = permanent ? kPermanent : seconds(*lease);
  m.owner = MappingOwner::upnp;
  m.quota = config_.quota_per_host;
  if (remote) {
    // NewRemoteHost: only that host may come in (as PCP's FILTER, RFC 6887 §13.3).
    filter[0] = RemoteFilter{*remote, 32, 0};
    m.filters = std::span<const RemoteFilter>(filter.data(), 1);
  }
  auto mapped = table_.map(now, m);
  if (!mapped) {
    switch (mapped.error()) {
      case MapError::unavailable:
        return error(code::conflict);
      case MapError::not_owner:
        return error(conflict_code(v2, MappingOwner::pcp));
      default:
        return error(code::no_port_maps_available);  // quota, exhausted: 728
    }
  }
  Meta& meta = meta_[Key{static_cast<std::uint8_t>(*proto), mapped->external.port}];
  const std::string* description = a.argument("NewPortMappingDescription");
  meta.description = description != nullptr ? *description : std::string();
  meta.remote_host = remote ? remote->to_string() : std::string();
  meta.enabled = *enabled;
  meta.permanent = permanent;
  ++counters_.mapped;
  Action r;
  if (any) r.arguments = {{"NewReservedPort", std::to_string(mapped->external.port)}};
  return r;
}

IgdService::Outcome IgdService::remove(TimePoint now, const IpAddress& client, const Action& a) {
  const auto external_port = number<std::uint16_t>(a.argument("NewExternalPort"));
  const auto proto = protocol(a.argument("NewProtocol"));
  if (!external_port || !proto) return error(code::invalid_args);
  auto h = holder(now, *proto, *external_port);
  if (!h || h->owner == MappingOwner::traffic) return error(code::no_such_entry);
  // Only UPnP's own mappings, and in secure mode only the caller's.
  if (h->owner != MappingOwner::upnp) return error(code::not_authorized);
  if (config_.upnp.secure_mode && h->internal.address != client) return error(code::not_authorized);
  if (!table_.unmap(now, *proto, h->internal, MappingOwner::upnp))
    return error(code::no_such_entry);
  meta_.erase(Key{static_cast<std::uint8_t>(*proto), *external_port});
  ++counters_.deleted;
  return Action{};
}

IgdService::Outcome IgdService::remove_range(TimePoint now, const IpAddress& client,
                                             const Action& a) {
  const auto start = number<std::uint16_t>(a.argument("NewStartPort"));
  const auto end = number<std::uint16_t>(a.argument("NewEndPort"));
  const auto proto = protocol(a.argument("NewProtocol"));
  const auto manage = boolean(a.argument("NewManage"));
  if (!start || !end || !proto || !manage) return error(code::invalid_args);
  if (*start > *end) return error(code::inconsistent_parameters);  // :2 §2.5.17
  const bool everyone = *manage && !config_.upnp.secure_mode;
  std::size_t removed = 0;
  for (const MappingInfo& m : explicit_mappings(now)) {
    if (m.owner != MappingOwner::upnp || m.proto != *proto || m.external.port < *start ||
        m.external.port > *end || (!everyone && m.internal.address != client))
      continue;
    if (!table_.unmap(now, m.proto, m.internal, MappingOwner::upnp)) continue;
    meta_.erase(Key{static_cast<std::uint8_t>(m.proto), m.external.port});
    ++counters_.deleted;
    ++removed;
  }
  if (removed == 0) return error(code::port_mapping_not_found);
  return Action{};
}

void IgdService::entry_arguments(TimePoint now, const MappingInfo& m, Action& out,
                                 bool with_key) const {
  const Key key{static_cast<std::uint8_t>(m.proto), m.external.port};
  const auto it = m.owner == MappingOwner::upnp ? meta_.find(key) : meta_.end();
  const Meta* meta = it == meta_.end() ? nullptr : &it->second;
  const bool permanent = meta != nullptr && meta->permanent;
  const auto left = m.expires > now ? (m.expires - now + seconds(1) - nanoseconds(1)) / seconds(1)
                                    : std::int64_t{0};
  if (with_key) {
    out.arguments.push_back({"NewRemoteHost", meta ? meta->remote_host : std::string()});
    out.arguments.push_back({"NewExternalPort", std::to_string(m.external.port)});
    out.arguments.push_back({"NewProtocol", std::string(protocol_name(m.proto))});
  }
  out.arguments.push_back({"NewInternalPort", std::to_string(m.internal.port)});
  out.arguments.push_back({"NewInternalClient", m.internal.address.to_string()});
  out.arguments.push_back({"NewEnabled", meta == nullptr || meta->enabled ? "1" : "0"});
  out.arguments.push_back({"NewPortMappingDescription",
                           meta ? meta->description : std::string(owner_description(m.owner))});
  out.arguments.push_back({"NewLeaseDuration", permanent ? "0" : std::to_string(left)});
}

IgdService::Outcome IgdService::specific(TimePoint now, const Action& a) {
  const auto external_port = number<std::uint16_t>(a.argument("NewExternalPort"));
  const auto proto = protocol(a.argument("NewProtocol"));
  if (!external_port || !proto) return error(code::invalid_args);
  auto h = holder(now, *proto, *external_port);
  if (!h || h->owner == MappingOwner::traffic) return error(code::no_such_entry);
  Action r;
  entry_arguments(now, *h, r, false);
  return r;
}

IgdService::Outcome IgdService::generic(TimePoint now, const Action& a) {
  const auto index = number<std::uint16_t>(a.argument("NewPortMappingIndex"));
  if (!index) return error(code::invalid_args);
  const auto all = explicit_mappings(now);
  // WANIPConnection:1 §2.4.14: an index past the end is 713, which is how control
  // points (upnpc -l) learn where the list ends.
  if (*index >= all.size()) return error(code::array_index_invalid);
  Action r;
  entry_arguments(now, all[*index], r, true);
  return r;
}

IgdService::Outcome IgdService::list(TimePoint now, const IpAddress& client, const Action& a) {
  const auto start = number<std::uint16_t>(a.argument("NewStartPort"));
  const auto end = number<std::uint16_t>(a.argument("NewEndPort"));
  const auto proto = protocol(a.argument("NewProtocol"));
  const auto manage = boolean(a.argument("NewManage"));
  const auto count = number<std::uint16_t>(a.argument("NewNumberOfPorts"));
  if (!start || !end || !proto || !manage || !count) return error(code::invalid_args);
  if (*start > *end) return error(code::inconsistent_parameters);
  // WANIPConnection:2 §2.5.20: the listing is an XML document in a string argument.
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  auto root = doc.append_child("p:PortMappingList");
  root.append_attribute("xmlns:p") = "urn:schemas-upnp-org:gw:WANIPConnection";
  root.append_attribute("xmlns:xsi") = "http://www.w3.org/2001/XMLSchema-instance";
  root.append_attribute("xsi:schemaLocation") =
      "urn:schemas-upnp-org:gw:WANIPConnection "
      "http://www.upnp.org/schemas/gw/WANIPConnection-v2.xsd";
  std::size_t listed = 0;
  for (const MappingInfo& m : explicit_mappings(now)) {
    if (m.proto != *proto || m.external.port < *start || m.external.port > *end) continue;
    if (!*manage && m.internal.address != client) continue;
    if (*count != 0 && listed == *count) break;  // 0: as many as there are
    Action entry;
    entry_arguments(now, m, entry, true);
    auto e = root.append_child("p:PortMappingEntry");
    for (const auto& arg : entry.arguments) {
      // The listing's element names differ from the action's arguments in two places.
      std::string name = arg.name;
      if (name == "NewPortMappingDescription") name = "NewDescription";
      if (name == "NewLeaseDuration") name = "NewLeaseTime";
      e.append_child(("p:" + name).c_str()).text().set(arg.value.c_str());
    }
    ++listed;
  }
  if (listed == 0) return error(code::port_mapping_not_found);
  Action r;
  r.arguments = {{"NewPortListing", tu::xml::to_text(doc)}};
  return r;
}

std::vector<std::pair<std::string, std::uint64_t>> igd_metrics(const IgdCounters& c, bool all) {
  std::vector<std::pair<std::string, std::uint64_t>> out{
      {"upnp.searches", c.searches},
      {"upnp.search_answers", c.search_answers},
      {"upnp.notifies", c.notifies},
      {"upnp.ssdp_dropped", c.ssdp_dropped},
      {"upnp.http_requests", c.http_requests},
      {"upnp.http_errors", c.http_errors},
      {"upnp.http_refused", c.http_refused},
      {"upnp.http_timeouts", c.http_timeouts},
      {"upnp.actions", c.actions},
      {"upnp.mapped", c.mapped},
      {"upnp.deleted", c.deleted},
  };
  if (all || c.search_answers_dropped != 0)
    out.emplace_back("upnp.search_answers_dropped", c.search_answers_dropped);
  if (all) {
    for (std::uint32_t k : {code::invalid_action, code::invalid_args, code::action_failed,
                            code::not_authorized, code::array_index_invalid, code::no_such_entry,
                            code::wildcard_src_ip, code::wildcard_ext_port, code::conflict,
                            code::same_port_values, code::only_permanent_leases,
                            code::remote_host_wildcard_only, code::external_port_wildcard_only,
                            code::no_port_maps_available, code::conflict_other_mechanism,
                            code::port_mapping_not_found, code::inconsistent_parameters}) {
      const auto it = c.errors.find(k);
      out.emplace_back("upnp.errors." + std::to_string(k), it == c.errors.end() ? 0 : it->second);
    }
    return out;
  }
  for (const auto& [k, v] : c.errors)
    if (v != 0) out.emplace_back("upnp.errors." + std::to_string(k), v);
  return out;
}

}  // namespace natsim::nat::upnp
