#include "natsim/traversal/upnp_client.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <charconv>
#include <sstream>
#include <variant>

#include "natsim/traversal/upnp_soap.hpp"

namespace natsim::traversal::upnp {

namespace http = boost::beast::http;

namespace {

// Headers beyond this are refused (miniupnpd's are under 300 octets).
constexpr std::uint32_t kMaxHeaderSize = 8 * 1024;

std::optional<std::uint32_t> number(std::string_view s) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The next external port to try after a 718: up, wrapping below 1024 (ports under 1024
// are refused by miniupnpd's default rules).
std::uint16_t next_port(std::uint16_t p) {
  return p >= 65535 || p < 1024 ? std::uint16_t{1024} : static_cast<std::uint16_t>(p + 1);
}

bool is_ip_service(const WanService& s) {
  return !s.is_ppp();
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A NOTIFY re-checks a mapping at most this often: a byebye/alive flood (or a gateway
// that announces every few seconds) cannot queue checks without bound.
constexpr Duration kNotifyRecheckGap = seconds(5);

}  // namespace

struct UpnpClient::Http {
  Endpoint local;
  Endpoint remote;
  TimePoint deadline = kTimeNever;
  std::string received;
  http::response_parser<http::string_body> parser;
  Http() {
    parser.header_limit(kMaxHeaderSize);
    parser.body_limit(std::max<std::uint64_t>(kMaxDescriptionSize, kMaxEnvelopeSize));
    parser.eager(true);
  }
};

std::string_view to_string(Outcome o) {
  constexpr std::array<std::string_view, 12> kNames = {"ok",
                                                       "no gateway answered SSDP",
                                                       "unreachable",
                                                       "timeout",
                                                       "HTTP error",
                                                       "bad description",
                                                       "no WAN connection service",
                                                       "bad SOAP answer",
                                                       "refused",
                                                       "conflict on every port tried",
                                                       "no port mappings available",
                                                       "not authorized"};
  return kNames[static_cast<std::size_t>(o)];
}

UpnpClient::UpnpClient(ClientConfig config) : config_(std::move(config)) {
  if (config_.tcp_port_base == 0) config_.tcp_port_base = config_.local.port;
  if (config_.tcp_ports == 0) config_.tcp_ports = 1;
}

UpnpClient::~UpnpClient() = default;

void UpnpClient::start(TimePoint now) {
  if (discovery_ != Discovery::idle && discovery_ != Discovery::failed) return;
  searches_ = 0;
  if (!config_.description_url.empty()) {
    location_ = parse_http_url(config_.description_url);
    if (!location_)
      return discovery_failed(Outcome::bad_description, "description URL is not http://");
    if (auto e = endpoint_of(*location_)) device_host_ = config_.gateway.value_or(e->address);
    discovery_ = Discovery::fetching;
    return fetch_description(now, *location_);
  }
  discovery_ = Discovery::searching;
  search(now);
}

void UpnpClient::search(TimePoint now) {
  ssdp::Message m;
  m.kind = ssdp::Kind::search;
  m.host = "239.255.255.250:1900";
  m.mx = config_.mx;
  m.target = config_.search_target;
  const std::string text = ssdp::format(m);
  out_.push(config_.local, config_.ssdp_group,
            ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  ++searches_;
  // UDA 1.1 §1.3.3: answers come within MX seconds; one more for the path.
  search_deadline_ = now + seconds(config_.mx + 1);
}

std::optional<Endpoint> UpnpClient::endpoint_of(const HttpUrl& u) const {
  auto a = IpAddress::parse(u.host.starts_with('[') ? u.host.substr(1, u.host.size() - 2) : u.host);
  if (!a) return std::nullopt;  // names are not resolved: devices give addresses
  return Endpoint{*a, u.port};
}

void UpnpClient::fetch_description(TimePoint now, const HttpUrl& url) {
  const auto remote = endpoint_of(url);
  if (!remote) return discovery_failed(Outcome::bad_description, "LOCATION host is not an address");
  http::request<http::string_body> req{http::verb::get, url.path, 11};
  req.set(http::field::host, url.host + ":" + std::to_string(url.port));
  req.set(http::field::connection, "close");
  req.set(http::field::user_agent, "natsim UPnP/1.1");
  std::ostringstream s;
  s << req;
  fetching_ = true;
  start_http(now, *remote, s.str());
}

void UpnpClient::start_http(TimePoint now, const Endpoint& remote, std::string bytes) {
  http_ = std::make_unique<Http>();
  http_->local = Endpoint{
      config_.local.address,
      static_cast<std::uint16_t>(config_.tcp_port_base + connections_++ % config_.tcp_ports)};
  http_->remote = remote;
  http_->deadline = now + config_.http_timeout;
  ++http_requests_;
  out_.push(http_->local, remote,
            ByteView(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
            Transport::tcp);
}

void UpnpClient::send_action(TimePoint now, const Op& op) {
  const std::string& type = service_->service_type;
  PortMappingEntry e;
  Action a;
  if (op.step == Step::external_ip) {
    a = get_external_ip_address(type);
  } else {
    Mapping& m = mappings_[op.id];
    e.external_port = m.external_port;
    e.protocol = m.protocol;
    e.internal_port = m.internal_port;
    e.internal_client = config_.local.address.to_string();
    e.description = config_.description;
    e.lease_duration = m.lease;
    switch (op.step) {
      case Step::add_any:
        a = add_any_port_mapping(e, type);
        break;
      case Step::add:
      case Step::refresh:
        a = add_port_mapping(e, type);
        break;
      case Step::check:
        a = get_specific_port_mapping_entry("", m.external_port, m.protocol, type);
        break;
      case Step::remove:
      case Step::reclaim:
        a = delete_port_mapping("", m.external_port, m.protocol, type);
        break;
      case Step::external_ip:
        break;
    }
  }
  const HttpUrl& url = service_->control;
  http::request<http::string_body> req{http::verb::post, url.path, 11};
  req.set(http::field::host, url.host + ":" + std::to_string(url.port));
  req.set(http::field::connection, "close");
  req.set(http::field::content_type, "text/xml; charset=\"utf-8\"");
  req.set("SOAPAction", soap_action_header(a));  // UDA 1.1 §3.2.1
  req.body() = format_request(a);
  req.prepare_payload();
  std::ostringstream s;
  s << req;
  in_flight_ = op;
  start_http(now, *control_, s.str());
}

bool UpnpClient::handle_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  if (local.port != config_.local.port && local.port != ssdp::kPort) return false;
  auto m = ssdp::parse(bytes);
  if (!m) return false;
  if (m->kind == ssdp::Kind::alive || m->kind == ssdp::Kind::byebye) {
    notified(now, remote, *m);
    return true;
  }
  if (m->kind != ssdp::Kind::response) return true;  // other searches: not ours
  if (discovery_ != Discovery::searching || local.port != config_.local.port) return true;
  // Any answer naming the IGD or its WAN connection services gives the description.
  if (!ssdp::matches(config_.search_target, m->target) &&
      m->target.find(":WANIPConnection:") == std::string::npos &&
      m->target.find(":WANPPPConnection:") == std::string::npos &&
      m->target.find(":InternetGatewayDevice:") == std::string::npos)
    return true;
  auto loc = parse_http_url(m->location);
  if (!loc) return true;  // another device may answer with a usable one
  if (config_.gateway) {
    // The gateway is known (PCP's and NAT-PMP's answers must come from it too): another
    // LAN host answering SSDP, or a LOCATION elsewhere, is not that gateway's IGD.
    const auto at = endpoint_of(*loc);
    if (remote.address != *config_.gateway || !at || at->address != *config_.gateway) return true;
  }
  location_ = std::move(*loc);
  device_host_ = remote.address;
  device_uuid_ = m->usn.substr(0, m->usn.find("::"));
  discovery_ = Discovery::fetching;
  search_deadline_ = kTimeNever;
  fetch_description(now, *location_);
  return true;
}

void UpnpClient::handle_stream(TimePoint now, const Endpoint& local, const Endpoint& remote,
                               ByteView bytes) {
  if (!http_ || local.port != http_->local.port || remote != http_->remote) return;
  Http& h = *http_;
  h.received.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < h.received.size() && !h.parser.is_done()) {
    const std::size_t n = h.parser.put(
        boost::asio::const_buffer(h.received.data() + used, h.received.size() - used), ec);
    used += n;
    if (ec == http::error::need_more) break;
    if (ec) {
      out_.push_close(h.local, h.remote);
      return http_failed(now, Outcome::http_error, "bad HTTP answer: " + ec.message());
    }
    if (n == 0) break;
  }
  h.received.erase(0, used);
  if (!h.parser.is_done()) return;
  out_.push_close(h.local, h.remote);
  auto& res = h.parser.get();
  http_done(now, res.result_int(), std::move(res.body()));
}

void UpnpClient::handle_stream_closed(TimePoint now, const Endpoint& local,
                                      const Endpoint& remote) {
  if (!http_ || local.port != http_->local.port || remote != http_->remote) return;
  Http& h = *http_;
  // HTTP/1.0-style answers without Content-Length end with the connection.
  if (h.parser.is_header_done() && !h.parser.is_done()) {
    boost::beast::error_code ec;
    h.parser.put_eof(ec);
    if (!ec && h.parser.is_done()) {
      auto& res = h.parser.get();
      return http_done(now, res.result_int(), std::move(res.body()));
    }
  }
  http_failed(now, Outcome::unreachable, "connection closed before an answer");
}

void UpnpClient::handle_timeout(TimePoint now) {
  if (http_ && now >= http_->deadline) {
    out_.push_close(http_->local, http_->remote);
    http_failed(now, Outcome::timeout, "no HTTP answer");
  }
  if (discovery_ == Discovery::searching && now >= search_deadline_) {
    if (searches_ < config_.search_attempts) {
      search(now);
    } else {
      search_deadline_ = kTimeNever;
      discovery_failed(Outcome::no_gateway,
                       "no answer to " + std::to_string(searches_) + " M-SEARCH");
    }
  }
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    Mapping& m = mappings_[id];
    if (m.state == MapState::mapped && now >= m.renew_at) {
      m.renew_at = kTimeNever;
      if (m.check_pending) continue;  // one check at a time per mapping
      m.check_pending = true;
      ops_.push_back({Step::check, id});
    }
  }
  next(now);
}

std::optional<TimePoint> UpnpClient::poll_timeout() const {
  TimePoint t = search_deadline_;
  if (http_) t = std::min(t, http_->deadline);
  for (const Mapping& m : mappings_) {
    if (m.state == MapState::mapped) t = std::min(t, m.renew_at);
  }
  if (t == kTimeNever) return std::nullopt;
  return t;
}

std::optional<ClientEvent> UpnpClient::poll_event() {
  if (events_.empty()) return std::nullopt;
  ClientEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<Endpoint> UpnpClient::external(std::size_t id) const {
  if (id >= mappings_.size() || mappings_[id].state != MapState::mapped) return std::nullopt;
  return Endpoint{external_ip_.value_or(IpAddress{}), mappings_[id].external_port};
}

std::size_t UpnpClient::add(TimePoint now, std::uint8_t protocol, std::uint16_t internal_port,
                            std::uint32_t lease, std::uint16_t suggested_port) {
  Mapping m;
  m.protocol = protocol == 6 ? "TCP" : "UDP";
  m.internal_port = internal_port;
  m.external_port = suggested_port != 0 ? suggested_port : internal_port;
  m.lease = lease;
  mappings_.push_back(m);
  const std::size_t id = mappings_.size() - 1;
  if (discovery_ == Discovery::failed) {
    mapping_failed(id, Outcome::no_gateway, 0, "discovery failed");
    return id;
  }
  ops_.push_back({Step::add_any, id});
  start(now);
  next(now);
  return id;
}

void UpnpClient::remove(TimePoint now, std::size_t id) {
  if (id >= mappings_.size()) return;
  Mapping& m = mappings_[id];
  if (m.state == MapState::deleted || m.state == MapState::deleting) return;
  const bool granted = m.ever_mapped;
  m.state = MapState::deleting;
  m.renew_at = kTimeNever;
  m.check_pending = false;
  // Pending steps for it are dropped; a mapping never granted needs no request.
  std::erase_if(ops_, [id](const Op& op) { return op.id == id; });
  if (!granted || !service_) {
    m.state = MapState::deleted;
    emit(ClientEvent::Kind::deleted, id);
    return;
  }
  ops_.push_back({Step::remove, id});
  next(now);
}

void UpnpClient::refresh(TimePoint now, std::size_t id) {
  if (id >= mappings_.size() || mappings_[id].state != MapState::mapped) return;
  Mapping& m = mappings_[id];
  m.renew_at = kTimeNever;
  if (m.check_pending) return;  // already on its way
  m.check_pending = true;
  ops_.push_back({Step::check, id});
  next(now);
}

void UpnpClient::close(TimePoint now) {
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    if (mappings_[id].state == MapState::mapped) remove(now, id);
  }
}

void UpnpClient::stop() {
  if (http_) out_.push_close(http_->local, http_->remote);
  http_.reset();
  fetching_ = false;
  in_flight_.reset();
  ops_.clear();
  refetch_ = false;
  search_deadline_ = kTimeNever;
  if (discovery_ != Discovery::ready) discovery_ = Discovery::idle;
}

void UpnpClient::notified(TimePoint now, const Endpoint& remote, const ssdp::Message& m) {
  // The uuid is public (every NOTIFY carries it): only the host the device was found at
  // speaks for it, so a LAN host cannot move LOCATION to itself nor to nowhere.
  if (!device_host_ || remote.address != *device_host_) return;
  // UDA 1.1 §1.2.2: every device announces upnp:rootdevice; one message per round will do.
  if (device_uuid_.empty() || m.target != "upnp:rootdevice" ||
      m.usn.substr(0, m.usn.find("::")) != device_uuid_)
    return;
  if (m.kind == ssdp::Kind::byebye) {
    gateway_gone_ = true;  // §1.2.3: leaving (a reboot says alive again when back)
    return;
  }
  // Parsed and compared field by field ("http://192.168.1.1/x" is ":80/x"; host names
  // differ in case only); an unreadable LOCATION, or one on another host, is ignored.
  std::optional<HttpUrl> moved_to;
  if (location_) {
    auto u = parse_http_url(m.location);
    if (!u) return;
    const auto a = endpoint_of(*u);
    const auto b = endpoint_of(*location_);
    if (a && a->address != *device_host_) return;
    const bool same_host = a && b ? a->address == b->address : iequal(u->host, location_->host);
    if (!same_host || u->port != location_->port || u->path != location_->path)
      moved_to = std::move(*u);
  }
  if (!gateway_gone_ && !moved_to) return;  // the periodic alive of a gateway that stayed
  gateway_gone_ = false;
  if (moved_to) {
    location_ = std::move(*moved_to);
    tried_location_host_ = false;
    refetch_ = true;
    discovery_ = Discovery::fetching;
  }
  // A gateway back from a reboot may have forgotten the mappings: check each now (through
  // handle_timeout, at its renewal time brought forward), once per mapping and at most
  // every kNotifyRecheckGap.
  for (Mapping& mp : mappings_) {
    if (mp.state != MapState::mapped || mp.check_pending) continue;
    const TimePoint at = std::max(now, mp.notify_check_after);
    if (mp.renew_at <= at) continue;  // a check is already due by then
    mp.renew_at = at;
    mp.notify_check_after = at + kNotifyRecheckGap;
  }
  next(now);
}

void UpnpClient::next(TimePoint now) {
  if (!http_ && refetch_ && location_) {
    refetch_ = false;
    return fetch_description(now, *location_);
  }
  if (http_ || discovery_ != Discovery::ready || ops_.empty()) return;
  Op op = ops_.front();
  ops_.pop_front();
  if (op.step == Step::add_any &&
      (any_unsupported_ || service_->version() < 2 || !is_ip_service(*service_)))
    op.step = Step::add;  // WANIPConnection:1 and WANPPPConnection:1 have no AddAny
  send_action(now, op);
}

void UpnpClient::http_done(TimePoint now, unsigned status, std::string body) {
  http_.reset();
  if (fetching_) {
    fetching_ = false;
    if (status != 200) {
      discovery_failed(Outcome::http_error, "description: HTTP " + std::to_string(status));
    } else {
      described(now, body);
    }
  } else if (in_flight_) {
    const Op op = *in_flight_;
    in_flight_.reset();
    answered(now, op, status, body);
  }
  next(now);
}

void UpnpClient::http_failed(TimePoint now, Outcome why, std::string detail) {
  const Endpoint failed_remote = http_ ? http_->remote : Endpoint{};
  http_.reset();
  if (fetching_) {
    fetching_ = false;
    discovery_failed(why, "description: " + detail);
  } else if (in_flight_) {
    const Op op = *in_flight_;
    in_flight_.reset();
    // Some routers announce a control URL on an address they do not listen on (the WAN
    // address, 127.0.0.1): try the host the description came from once, as miniupnpc
    // does with its "wrong IP" fallback.
    if (!tried_location_host_ && location_ && control_ && failed_remote == *control_) {
      const auto loc = endpoint_of(*location_);
      if (loc && loc->address != control_->address) {
        tried_location_host_ = true;
        control_ = Endpoint{loc->address, control_->port};
        service_->control.host = location_->host;
        ops_.push_front(op);
        return next(now);
      }
    }
    if (op.step == Step::external_ip) {
      events_.push_back(ClientEvent{ClientEvent::Kind::failed,
                                    ClientEvent::kNoMapping,
                                    why,
                                    {},
                                    0,
                                    false,
                                    0,
                                    "GetExternalIPAddress: " + detail});
    } else {
      mapping_failed(op.id, why, 0, detail);
    }
  }
  next(now);
}

void UpnpClient::described(TimePoint now, std::string_view body) {
  auto s = parse_description(body, to_string(*location_));
  if (!s) {
    return discovery_failed(s.error() == DescriptionError::no_wan_connection
                                ? Outcome::no_wan_service
                                : Outcome::bad_description,
                            std::string(to_string(s.error())));
  }
  service_ = std::move(*s);
  control_ = endpoint_of(service_->control);
  if (!control_) {
    // A control URL naming a host: the description's address is the device's.
    control_ = endpoint_of(*location_);
    if (!control_) return discovery_failed(Outcome::bad_description, "control URL host");
    control_->port = service_->control.port;
  }
  discovery_ = Discovery::ready;
  ClientEvent e;
  e.kind = ClientEvent::Kind::discovered;
  e.detail = service_->service_type + " at " + to_string(service_->control);
  events_.push_back(std::move(e));
  ops_.push_front({Step::external_ip, ClientEvent::kNoMapping});
  next(now);
}

void UpnpClient::answered(TimePoint now, const Op& op, unsigned status, std::string_view body) {
  // Indexed by Step.
  static constexpr std::array<std::string_view, 7> kActions = {
      "GetExternalIPAddress", "AddAnyPortMapping",
      "AddPortMapping",       "GetSpecificPortMappingEntry",
      "AddPortMapping",       "DeletePortMapping",
      "DeletePortMapping"};
  const std::string_view action = kActions[static_cast<std::size_t>(op.step)];
  auto r = parse_response(body, action);
  if (!r) {
    // UDA 1.1 §3.2.2: faults come with HTTP 500; anything else unreadable is the
    // server's refusal (403 from routers that answer SSDP but refuse control).
    const Outcome o = status == 200 ? Outcome::bad_answer : Outcome::http_error;
    const std::string d = status == 200
                              ? std::string(action) + ": " + std::string(to_string(r.error()))
                              : std::string(action) + ": HTTP " + std::to_string(status);
    if (op.step == Step::external_ip) {
      events_.push_back(
          ClientEvent{ClientEvent::Kind::failed, ClientEvent::kNoMapping, o, {}, 0, false, 0, d});
      return;
    }
    return mapping_failed(op.id, o, 0, d);
  }
  if (op.step == Step::external_ip) {
    if (const auto* a = std::get_if<Action>(&*r)) {
      const std::string* ip = a->argument("NewExternalIPAddress");
      if (ip != nullptr) external_ip_ = IpAddress::parse(*ip);
      if (external_ip_) {
        ClientEvent e;
        e.kind = ClientEvent::Kind::external_address;
        e.external = Endpoint{*external_ip_, 0};
        events_.push_back(std::move(e));
        return;
      }
    }
    const auto* err = std::get_if<UpnpError>(&*r);
    events_.push_back(ClientEvent{
        ClientEvent::Kind::failed,
        ClientEvent::kNoMapping,
        err ? Outcome::refused : Outcome::bad_answer,
        {},
        0,
        false,
        err ? err->code : 0,
        "GetExternalIPAddress: " + (err ? err->description : std::string("no address"))});
    return;
  }
  Mapping& m = mappings_[op.id];
  // remove() came while this step was in flight: its DeletePortMapping is queued.
  if (m.state == MapState::deleted || (m.state == MapState::deleting && op.step != Step::remove))
    return;
  if (const auto* err = std::get_if<UpnpError>(&*r)) {
    const std::uint32_t code = err->code;
    switch (op.step) {
      case Step::remove:
        // 714: the gateway no longer has it, which is what was asked for.
        if (code != 714) {
          m.state = MapState::deleted;
          events_.push_back(ClientEvent{ClientEvent::Kind::failed,
                                        op.id,
                                        Outcome::refused,
                                        {},
                                        0,
                                        m.permanent,
                                        code,
                                        "DeletePortMapping: " + err->description});
          return;
        }
        m.state = MapState::deleted;
        return emit(ClientEvent::Kind::deleted, op.id);
      case Step::check:
        if (code == 714) {
          // The gateway forgot the mapping: rebooted or flushed. Ask again for the same
          // port at once.
          emit(ClientEvent::Kind::lost, op.id);
          m.recreating = true;
          m.state = MapState::requesting;
          m.port_attempts = 0;
          ops_.push_front({Step::add, op.id});
          return;
        }
        // A device without the action (401/602): renew blindly.
        ops_.push_front({Step::refresh, op.id});
        return;
      case Step::reclaim:
        if (code != 714) return mapping_failed(op.id, Outcome::conflict, code, err->description);
        ops_.push_front({Step::add, op.id});
        return;
      case Step::add_any:
      case Step::add:
      case Step::refresh:
        break;
      case Step::external_ip:
        return;
    }
    if (op.step == Step::refresh && code == 718) {
      // The gateway still has the mapping (the check said so) but will not renew it for
      // its own client: delete it and add it again, so the lease starts over on the same
      // port.
      ops_.push_front({Step::reclaim, op.id});
      return;
    }
    // IGD:2 WANIPConnection:2 §2.5.18: AddAnyPortMapping is optional in practice: 401
    // Invalid Action or 602 Optional Action Not Implemented mean AddPortMapping.
    if (op.step == Step::add_any && (code == 401 || code == 602)) {
      any_unsupported_ = true;
      ops_.push_front({Step::add, op.id});
      return;
    }
    if (code == 725) {
      // WANIPConnection:1 §2.4.16: OnlyPermanentLeasesSupported: ask for lease 0 and
      // remember to delete the mapping on exit, since it never expires.
      if (m.lease == 0) return mapping_failed(op.id, Outcome::refused, code, err->description);
      m.lease = 0;
      m.permanent = true;
      ops_.push_front({op.step == Step::refresh ? Step::add : op.step, op.id});
      return;
    }
    if (code == 718 || (code == 724 && m.external_port != m.internal_port)) {
      // 718 ConflictInMappingEntry: another client (or, on some routers, this one) has
      // the port; 724 SamePortValuesRequired: only external == internal works.
      if (++m.port_attempts >= config_.port_attempts)
        return mapping_failed(op.id, Outcome::conflict, code, err->description);
      m.external_port = code == 724 ? m.internal_port : next_port(m.external_port);
      ops_.push_front({Step::add, op.id});
      return;
    }
    if (code == 728) return mapping_failed(op.id, Outcome::no_ports, code, err->description);
    if (code == 606) return mapping_failed(op.id, Outcome::not_authorized, code, err->description);
    return mapping_failed(op.id, Outcome::refused, code, err->description);
  }
  const Action& a = std::get<Action>(*r);
  switch (op.step) {
    case Step::remove:
      m.state = MapState::deleted;
      return emit(ClientEvent::Kind::deleted, op.id);
    case Step::check:
      ops_.push_front({Step::refresh, op.id});
      return;
    case Step::reclaim:
      ops_.push_front({Step::add, op.id});
      return;
    case Step::add_any:
      if (const std::string* p = a.argument("NewReservedPort")) {
        const auto v = number(*p);
        if (!v || *v == 0 || *v > 65535)
          return mapping_failed(op.id, Outcome::bad_answer, 0, "NewReservedPort " + *p);
        m.external_port = static_cast<std::uint16_t>(*v);
      }
      break;
    case Step::add:
    case Step::refresh:
    case Step::external_ip:
      break;
  }
  const bool first = !m.ever_mapped;
  const bool recreated = m.recreating;
  m.ever_mapped = true;
  m.recreating = false;
  m.check_pending = false;
  m.state = MapState::mapped;
  // Renew at half the lease (as PCP, RFC 6887 §11.2.1); permanent mappings are checked.
  m.renew_at = now + (m.lease == 0 ? config_.permanent_check : seconds(m.lease) / 2);
  emit(first ? ClientEvent::Kind::mapped
             : (recreated ? ClientEvent::Kind::recreated : ClientEvent::Kind::refreshed),
       op.id);
}

void UpnpClient::mapping_failed(std::size_t id, Outcome o, std::uint32_t code, std::string detail) {
  Mapping& m = mappings_[id];
  m.state = MapState::failed;
  m.renew_at = kTimeNever;
  m.check_pending = false;
  ClientEvent e;
  e.kind = ClientEvent::Kind::failed;
  e.id = id;
  e.outcome = o;
  e.upnp_error = code;
  e.permanent = m.permanent;
  e.detail = std::move(detail);
  events_.push_back(std::move(e));
}

void UpnpClient::discovery_failed(Outcome o, std::string detail) {
  discovery_ = Discovery::failed;
  ClientEvent e;
  e.kind = ClientEvent::Kind::failed;
  e.outcome = o;
  e.detail = detail;
  events_.push_back(std::move(e));
  // Every mapping waiting for the gateway fails with it.
  while (!ops_.empty()) {
    const Op op = ops_.front();
    ops_.pop_front();
    if (op.id != ClientEvent::kNoMapping && mappings_[op.id].state == MapState::requesting)
      mapping_failed(op.id, o, 0, detail);
  }
  // A description fetched again (LOCATION moved) that failed: the granted mappings can be
  // neither checked nor renewed without a control URL, so they are reported, not left
  // waiting for a renewal that never comes.
  for (std::size_t id = 0; id < mappings_.size(); ++id) {
    if (mappings_[id].state == MapState::mapped) mapping_failed(id, o, 0, detail);
  }
}

void UpnpClient::emit(ClientEvent::Kind kind, std::size_t id) {
  const Mapping& m = mappings_[id];
  ClientEvent e;
  e.kind = kind;
  e.id = id;
  e.external = Endpoint{external_ip_.value_or(IpAddress{}), m.external_port};
  e.lease = m.lease;
  e.permanent = m.permanent;
  events_.push_back(std::move(e));
}

}  // namespace natsim::traversal::upnp
