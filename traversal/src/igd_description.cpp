#include "natsim/traversal/igd_description.hpp"

#include <array>
#include <charconv>

#include "natsim/traversal/upnp_xml.hpp"

namespace natsim::traversal::upnp {

namespace {

using xml::first_element;
using xml::local_name;

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a = (s[i] >= 'A' && s[i] <= 'Z') ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (a != prefix[i]) return false;
  }
  return true;
}

// Text of the first child element `name`, trimmed (descriptions are often indented).
std::string_view child_text(const pugi::xml_node& n, std::string_view name) {
  return trim(first_element(n, name).text().get());
}

// WANIPConnection:2 < WANIPConnection:1 < WANPPPConnection:1; nullopt: not a WAN
// connection service. Versions above 2 are WANIPConnection:2 supersets (UDA: a later
// version of a service type is backwards compatible).
std::optional<int> rank(std::string_view type) {
  constexpr std::string_view kIp = "urn:schemas-upnp-org:service:WANIPConnection:";
  constexpr std::string_view kPpp = "urn:schemas-upnp-org:service:WANPPPConnection:";
  int v = 0;
  std::string_view ver;
  int base = 0;
  if (type.starts_with(kIp)) {
    ver = type.substr(kIp.size());
  } else if (type.starts_with(kPpp)) {
    ver = type.substr(kPpp.size());
    base = 10;
  } else {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(ver.data(), ver.data() + ver.size(), v);
  if (ec != std::errc{} || end != ver.data() + ver.size() || v < 1) return std::nullopt;
  return base + (v >= 2 ? 0 : 1);
}

struct Best {
  int rank = 100;
  pugi::xml_node service;
};

// Depth-first through the device tree (deviceList nesting is bounded by the size cap;
// the recursion depth by the nesting pugixml accepted, which kMaxDescriptionSize bounds).
void walk(const pugi::xml_node& device, Best& best, int depth) {
  if (depth > 16) return;  // real trees are 3 deep
  for (pugi::xml_node s = first_element(first_element(device, "serviceList"), "service"); s;
       s = s.next_sibling()) {
    if (s.type() != pugi::node_element || local_name(s) != "service") continue;
    const auto r = rank(child_text(s, "serviceType"));
    if (r && *r < best.rank) best = Best{*r, s};
  }
  for (pugi::xml_node d = first_element(device, "deviceList").first_child(); d;
       d = d.next_sibling()) {
    if (d.type() == pugi::node_element && local_name(d) == "device") walk(d, best, depth + 1);
  }
}

}  // namespace

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  url = trim(url);
  if (!istarts_with(url, "http://")) return std::nullopt;
  url.remove_prefix(7);
  const auto slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  HttpUrl out;
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.path.front() == '?') out.path.insert(out.path.begin(), '/');
  if (const auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);  // userinfo: never used by devices, dropped
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(0, close + 1));
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.host == "[]") return std::nullopt;
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '<' || c == '>')
      return std::nullopt;
  }
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;  // no CR/LF
  }
  if (!port.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || end != port.data() + port.size() || v == 0 || v > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(v);
  }
  return out;
}

std::string to_string(const HttpUrl& u) {
  return "http://" + u.host + ":" + std::to_string(u.port) + u.path;
}

std::optional<HttpUrl> resolve_url(const HttpUrl& base, std::string_view ref) {
  ref = trim(ref);
  if (ref.empty()) return std::nullopt;
  if (istarts_with(ref, "http://")) return parse_http_url(ref);
  if (ref.find("://") != std::string_view::npos) return std::nullopt;  // another scheme
  if (ref.starts_with("//")) return parse_http_url("http:" + std::string(ref));
  HttpUrl out = base;
  if (ref.starts_with('/')) {
    out.path = std::string(ref);
  } else {
    // RFC 3986 §5.2.3: the base's path up to its last '/', then the reference.
    std::string dir = base.path.substr(0, base.path.find('?'));
    dir.erase(dir.rfind('/') + 1);
    out.path = dir + std::string(ref);
  }
  for (char c : out.path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  }
  return out;
}

int WanService::version() const {
  const auto colon = service_type.rfind(':');
  int v = 0;
  if (colon == std::string::npos) return 0;
  std::from_chars(service_type.data() + colon + 1, service_type.data() + service_type.size(), v);
  return v;
}

bool WanService::is_ppp() const {
  return service_type.find(":WANPPPConnection:") != std::string::npos;
}

std::string_view to_string(DescriptionError e) {
  constexpr std::array<std::string_view, 6> kNames = {
      "too large",
      "not XML",
      "no <root> element",
      "no <device> in <root>",
      "no WANIPConnection or WANPPPConnection service",
      "control URL is not an http:// URL"};
  return kNames[static_cast<std::size_t>(e)];
}

boost::system::result<WanService, DescriptionError> parse_description(std::string_view text,
                                                                      std::string_view location) {
  if (text.size() > kMaxDescriptionSize) return DescriptionError::too_large;
  pugi::xml_document doc;
  // Default options: no DTD expansion beyond the built-in entities, nothing fetched.
  if (!doc.load_buffer(text.data(), text.size())) return DescriptionError::not_xml;
  const pugi::xml_node root = first_element(doc);
  if (!root || local_name(root) != "root") return DescriptionError::no_root;
  const pugi::xml_node device = first_element(root, "device");
  if (!device) return DescriptionError::no_device;
  Best best;
  walk(device, best, 0);
  if (!best.service) return DescriptionError::no_wan_connection;
  // UDA 1.0 §2.1: URLBase, if present, is the base; UDA 1.1 dropped it and uses the
  // description's own URL, but IGD:1 devices still send it.
  const std::string_view url_base = child_text(root, "URLBase");
  auto base = parse_http_url(url_base.empty() ? location : url_base);
  if (!base) base = parse_http_url(location);
  if (!base) return DescriptionError::bad_url;
  auto control = resolve_url(*base, child_text(best.service, "controlURL"));
  if (!control) return DescriptionError::bad_url;
  return WanService{std::string(child_text(best.service, "serviceType")), std::move(*control)};
}

}  // namespace natsim::traversal::upnp
