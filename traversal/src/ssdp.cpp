#include "natsim/traversal/ssdp.hpp"

#include <algorithm>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cctype>
#include <charconv>
#include <optional>

namespace natsim::traversal::ssdp {

namespace {

namespace http = boost::beast::http;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

std::optional<std::uint32_t> number(std::string_view s) {
  s = trim(s);
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// "max-age = 1800", possibly among other directives ("no-cache, max-age=60").
std::optional<std::uint32_t> max_age(std::string_view v) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string_view d = trim(v.substr(0, comma));
    v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    const auto eq = d.find('=');
    if (eq == std::string_view::npos || !iequals(trim(d.substr(0, eq)), "max-age")) continue;
    return number(d.substr(eq + 1));
  }
  return std::nullopt;
}

template <class Fields>
std::string header(const Fields& f, std::string_view name) {
  auto it = f.find(boost::beast::string_view(name.data(), name.size()));
  if (it == f.end()) return {};
  const auto v = trim(std::string_view(it->value().data(), it->value().size()));
  return std::string(v);
}

// Feeds the whole datagram to a Beast parser: the message must end where the datagram
// does (a response without Content-Length ends at the end of the datagram).
template <class Parser>
bool feed(Parser& p, ByteView d, bool& body) {
  boost::beast::error_code ec;
  p.eager(true);
  const std::size_t used = p.put(boost::asio::const_buffer(d.data(), d.size()), ec);
  if (ec == http::error::unexpected_body) {
    body = true;
    return false;
  }
  if (ec || !p.is_header_done()) return false;
  if (!p.is_done()) {
    p.put_eof(ec);
    if (ec) return false;
  }
  if (used != d.size()) {
    body = true;
    return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(Error e) {
  constexpr std::string_view kNames[] = {
      "too large",  "not HTTP",   "has a body",        "unknown method",
      "bad target", "bad status", "missing header",    "MAN is not \"ssdp:discover\"",
      "bad MX",     "bad NTS",    "bad CACHE-CONTROL",
  };
  return kNames[static_cast<std::size_t>(e)];
}

boost::system::result<Message, Error> parse(ByteView d) {
  if (d.size() > kMaxMessageSize) return Error::too_large;
  Message m;
  bool body = false;
  const std::string_view text(reinterpret_cast<const char*>(d.data()), d.size());
  if (text.starts_with("HTTP/")) {
    http::response_parser<http::empty_body> p;
    if (!feed(p, d, body)) return body ? Error::has_body : Error::not_http;
    const auto& r = p.get();
    if (r.result_int() != 200) return Error::bad_status;
    m.kind = Kind::response;
    m.host.clear();
    m.target = header(r, "ST");
    m.usn = header(r, "USN");
    m.location = header(r, "LOCATION");
    m.server = header(r, "SERVER");
    // UDA 1.1 §1.3.3: CACHE-CONTROL, LOCATION, ST and USN are required (EXT and SERVER
    // too, but real devices omit them and clients do without).
    if (m.target.empty() || m.usn.empty() || m.location.empty()) return Error::missing_header;
    const std::string cc = header(r, "CACHE-CONTROL");
    if (cc.empty()) return Error::missing_header;
    const auto age = max_age(cc);
    if (!age) return Error::bad_cache_control;
    m.max_age = *age;
    return m;
  }
  http::request_parser<http::empty_body> p;
  if (!feed(p, d, body)) return body ? Error::has_body : Error::not_http;
  const auto& r = p.get();
  const auto method = r.method_string();
  const auto target = r.target();
  if (target != "*") return Error::bad_target;
  m.host = header(r, "HOST");
  if (method == "M-SEARCH") {
    // UDA 1.1 §1.3.2: HOST, MAN, ST; MX for a multicast search.
    m.kind = Kind::search;
    m.target = header(r, "ST");
    if (m.host.empty() || m.target.empty()) return Error::missing_header;
    if (header(r, "MAN") != "\"ssdp:discover\"") return Error::bad_man;
    const std::string mx = header(r, "MX");
    if (!mx.empty()) {
      const auto v = number(mx);
      if (!v || *v == 0) return Error::bad_mx;
      m.mx = std::min(*v, kMaxMx);
    } else if (m.host == "239.255.255.250:1900") {
      return Error::bad_mx;
    }
    return m;
  }
  if (method == "NOTIFY") {
    // UDA 1.1 §1.2.2 (alive) and §1.2.3 (byebye).
    const std::string nts = header(r, "NTS");
    if (nts == "ssdp:alive") {
      m.kind = Kind::alive;
    } else if (nts == "ssdp:byebye") {
      m.kind = Kind::byebye;
    } else {
      return nts.empty() ? Error::missing_header : Error::bad_nts;
    }
    m.target = header(r, "NT");
    m.usn = header(r, "USN");
    if (m.host.empty() || m.target.empty() || m.usn.empty()) return Error::missing_header;
    if (m.kind == Kind::alive) {
      m.location = header(r, "LOCATION");
      m.server = header(r, "SERVER");
      const std::string cc = header(r, "CACHE-CONTROL");
      if (m.location.empty() || cc.empty()) return Error::missing_header;
      const auto age = max_age(cc);
      if (!age) return Error::bad_cache_control;
      m.max_age = *age;
    }
    return m;
  }
  return Error::unknown_method;
}

std::string format(const Message& m) {
  std::string out;
  const auto line = [&](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  const std::string age = "max-age=" + std::to_string(m.max_age);
  switch (m.kind) {
    case Kind::search:
      out = "M-SEARCH * HTTP/1.1\r\n";
      line("HOST", m.host);
      line("MAN", "\"ssdp:discover\"");
      if (m.mx != 0) line("MX", std::to_string(m.mx));
      line("ST", m.target);
      break;
    case Kind::response:
      out = "HTTP/1.1 200 OK\r\n";
      line("CACHE-CONTROL", age);
      line("EXT", "");
      line("LOCATION", m.location);
      line("SERVER", m.server);
      line("ST", m.target);
      line("USN", m.usn);
      break;
    case Kind::alive:
    case Kind::byebye:
      out = "NOTIFY * HTTP/1.1\r\n";
      line("HOST", m.host);
      if (m.kind == Kind::alive) {
        line("CACHE-CONTROL", age);
        line("LOCATION", m.location);
      }
      line("NT", m.target);
      line("NTS", m.kind == Kind::alive ? "ssdp:alive" : "ssdp:byebye");
      if (m.kind == Kind::alive) line("SERVER", m.server);
      line("USN", m.usn);
      break;
  }
  out.append("\r\n");
  return out;
}

bool matches(std::string_view search, std::string_view target) {
  if (search == "ssdp:all" || search == target) return true;
  // "urn:domain:device:type:v": the same type at the searched version or later.
  if (!search.starts_with("urn:") || !target.starts_with("urn:")) return false;
  const auto s_colon = search.rfind(':');
  const auto t_colon = target.rfind(':');
  if (search.substr(0, s_colon) != target.substr(0, t_colon)) return false;
  const auto sv = number(search.substr(s_colon + 1));
  const auto tv = number(target.substr(t_colon + 1));
  return sv && tv && *sv <= *tv;
}

}  // namespace natsim::traversal::ssdp
