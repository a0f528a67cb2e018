// RFC 8839 candidate, ice-ufrag and ice-pwd lines, and RFC 8840's end-of-candidates.
#include "natsim/traversal/ice_sdp.hpp"

#include <charconv>
#include <optional>

namespace natsim::traversal::ice {

std::string_view to_string(SdpError e) {
  switch (e) {
    case SdpError::too_long:
      return "line longer than 1024 characters";
    case SdpError::unknown_attribute:
      return "not a candidate, ice-ufrag, ice-pwd or end-of-candidates line";
    case SdpError::empty_field:
      return "empty field (fields are separated by exactly one space)";
    case SdpError::missing_field:
      return "a candidate needs foundation, component, transport, priority, address, port "
             "and 'typ TYPE'";
    case SdpError::bad_foundation:
      return "foundation must be 1 to 32 ice-chars (letters, digits, '+', '/')";
    case SdpError::bad_component:
      return "component must be a number from 1 to 256";
    case SdpError::bad_transport:
      return "transport must be a token";
    case SdpError::bad_priority:
      return "priority must be a number from 1 to 2147483647";
    case SdpError::bad_address:
      return "connection address is not an IP address";
    case SdpError::bad_port:
      return "port must be a number from 1 to 65535";
    case SdpError::missing_typ:
      return "expected 'typ' after the port";
    case SdpError::bad_type:
      return "candidate type must be a token";
    case SdpError::bad_related_address:
      return "raddr must be an IP address and come before rport";
    case SdpError::bad_related_port:
      return "rport must be a number from 0 to 65535 and follow raddr";
    case SdpError::bad_extension:
      return "extension attribute needs a token name and a value";
    case SdpError::bad_ufrag:
      return "ice-ufrag must be 4 to 256 ice-chars, and the same on every line";
    case SdpError::bad_pwd:
      return "ice-pwd must be 22 to 256 ice-chars, and the same on every line";
    case SdpError::trailing_text:
      return "text after end-of-candidates";
    case SdpError::after_end:
      return "candidate after end-of-candidates";
    case SdpError::unsupported_transport:
      return "transport other than UDP (ignored)";
    case SdpError::unsupported_address:
      return "host name instead of an IP address (ignored: not resolved)";
    case SdpError::unsupported_type:
      return "candidate type other than host, srflx, prflx, relay (ignored)";
  }
  return "unknown error";
}

namespace {

using Fields = std::vector<std::string_view>;

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/".
bool is_ice_char(char c) {
  return is_alnum(c) || c == '+' || c == '/';
}
// RFC 3261 §25.1: token.
bool is_token_char(char c) {
  return is_alnum(c) || std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}
bool is_vchar(char c) {
  return c >= 0x21 && c <= 0x7e;
}

template <class Pred>
bool all_of(std::string_view s, Pred pred) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool ice_chars(std::string_view s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max && all_of(s, is_ice_char);
}
bool token(std::string_view s) {
  return !s.empty() && all_of(s, is_token_char);
}

// ABNF string literals match case-insensitively (RFC 5234 §2.3).
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
// `s` starts with `prefix` (case-insensitively): the rest, else nullopt.
std::optional<std::string_view> after(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size() || !iequals(s.substr(0, prefix.size()), prefix)) return std::nullopt;
  return s.substr(prefix.size());
}

// A decimal number of 1 to `digits` digits within [min, max].
std::optional<std::uint64_t> number(std::string_view s, std::size_t digits, std::uint64_t min,
                                    std::uint64_t max) {
  if (s.empty() || s.size() > digits || !all_of(s, [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < min || v > max) return std::nullopt;
  return v;
}

// Splits at single spaces; an empty field (two spaces, or one at an end) is an error.
boost::system::result<Fields, SdpError> split(std::string_view s) {
  Fields out;
  for (;;) {
    const auto sp = s.find(' ');
    const std::string_view field = s.substr(0, sp);
    if (field.empty()) return SdpError::empty_field;
    out.push_back(field);
    if (sp == std::string_view::npos) return out;
    s.remove_prefix(sp + 1);
  }
}

// RFC 8839 §5.1 connection-address: an IP address; an FQDN (RFC 4566: 4*(alphanum / "-" /
// "."), with a letter, else it was a bad IPv4 address) is valid but not resolved here.
boost::system::result<IpAddress, SdpError> address(std::string_view s) {
  if (auto a = IpAddress::parse(s)) return *a;
  const bool fqdn = s.size() >= 4 &&
                    all_of(s, [](char c) { return is_alnum(c) || c == '-' || c == '.'; }) &&
                    !all_of(s, [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  return fqdn ? SdpError::unsupported_address : SdpError::bad_address;
}

std::optional<CandidateType> candidate_type(std::string_view s) {
  for (CandidateType t :
       {CandidateType::host, CandidateType::srflx, CandidateType::prflx, CandidateType::relay}) {
    if (iequals(s, to_string(t))) return t;
  }
  return std::nullopt;
}

std::string_view strip_a(std::string_view line) {
  if (auto rest = after(line, "a=")) return *rest;
  return line;
}

}  // namespace

namespace {

// A candidate line without its "a=".
boost::system::result<Candidate, SdpError> candidate_line(std::string_view line) {
  const auto value = after(line, "candidate:");
  if (!value) return SdpError::unknown_attribute;
  auto split_fields = split(*value);
  if (!split_fields) return split_fields.error();
  const Fields& f = *split_fields;
  if (f.size() < 8) return SdpError::missing_field;

  Candidate c;
  // Syntax first, field by field, so an error names the first bad field; what this
  // agent cannot use (transport, FQDN, type) is only reported for a well-formed line.
  if (!ice_chars(f[0], 1, 32)) return SdpError::bad_foundation;
  c.foundation = std::string(f[0]);
  const auto component = number(f[1], 3, 1, 256);  // RFC 8445 §5.1.1.1: 1 to 256
  if (!component) return SdpError::bad_component;
  c.component = static_cast<std::uint16_t>(*component);
  if (!token(f[2])) return SdpError::bad_transport;
  const auto priority = number(f[3], 10, 1, 0x7FFFFFFF);  // RFC 8445 §5.1.2.1
  if (!priority) return SdpError::bad_priority;
  c.priority = static_cast<std::uint32_t>(*priority);
  const auto addr = address(f[4]);
  if (!addr && addr.error() != SdpError::unsupported_address) return addr.error();
  const auto port = number(f[5], 5, 1, 65535);
  if (!port) return SdpError::bad_port;
  if (!iequals(f[6], "typ")) return SdpError::missing_typ;
  if (!token(f[7])) return SdpError::bad_type;

  std::size_t i = 8;
  std::optional<IpAddress> raddr;
  std::optional<std::uint16_t> rport;
  if (i < f.size() && iequals(f[i], "raddr")) {
    if (i + 1 >= f.size()) return SdpError::bad_related_address;
    const auto r = IpAddress::parse(f[i + 1]);
    if (!r) return SdpError::bad_related_address;
    raddr = *r;
    i += 2;
  }
  if (i < f.size() && iequals(f[i], "rport")) {
    if (!raddr) return SdpError::bad_related_address;
    if (i + 1 >= f.size()) return SdpError::bad_related_port;
    const auto r = number(f[i + 1], 5, 0, 65535);
    if (!r) return SdpError::bad_related_port;
    rport = static_cast<std::uint16_t>(*r);
    i += 2;
  }
  if (raddr && !rport) return SdpError::bad_related_port;
  // RFC 8839 §5.1: extension attributes (name, value) are ignored.
  for (; i < f.size(); i += 2) {
    if (!token(f[i]) || i + 1 >= f.size() || !all_of(f[i + 1], is_vchar))
      return SdpError::bad_extension;
  }

  if (!iequals(f[2], "UDP")) return SdpError::unsupported_transport;
  if (!addr) return addr.error();
  const auto type = candidate_type(f[7]);
  if (!type) return SdpError::unsupported_type;
  c.type = *type;
  c.address = Endpoint{*addr, static_cast<std::uint16_t>(*port)};
  c.base = c.address;
  if (raddr) c.related = Endpoint{*raddr, *rport};
  return c;
}

}  // namespace

boost::system::result<Candidate, SdpError> parse_candidate(std::string_view line) {
  if (line.size() > kMaxSdpLine) return SdpError::too_long;
  return candidate_line(strip_a(line));
}

std::string format_candidate(const Candidate& c) {
  std::string s = "candidate:" + c.foundation + ' ' + std::to_string(c.component) + " UDP " +
                  std::to_string(c.priority) + ' ' + c.address.address.to_string() + ' ' +
                  std::to_string(c.address.port) + " typ ";
  // RFC 8445 §5.1.1.2: a port-mapped address is server-reflexive on the wire.
  s += c.type == CandidateType::mapped ? "srflx" : to_string(c.type);
  if (c.related) {
    s += " raddr " + c.related->address.to_string() + " rport " + std::to_string(c.related->port);
  }
  return s;
}

boost::system::result<SdpAttribute, SdpError> parse_attribute(std::string_view line) {
  if (line.size() > kMaxSdpLine) return SdpError::too_long;
  const std::string_view s = strip_a(line);
  // RFC 8839 §5.4: ice-ufrag = 4*256ice-char, ice-pwd = 22*256ice-char.
  if (const auto ufrag = after(s, "ice-ufrag:")) {
    if (!ice_chars(*ufrag, 4, 256)) return SdpError::bad_ufrag;
    return IceUfrag{std::string(*ufrag)};
  }
  if (const auto pwd = after(s, "ice-pwd:")) {
    if (!ice_chars(*pwd, 22, 256)) return SdpError::bad_pwd;
    return IcePwd{std::string(*pwd)};
  }
  // RFC 8840 §8.2: a property attribute without a value.
  if (const auto rest = after(s, kEndOfCandidates)) {
    if (!rest->empty()) return SdpError::trailing_text;
    return EndOfCandidates{};
  }
  auto c = candidate_line(s);
  if (!c) return c.error();
  return std::move(*c);
}

std::string format_ufrag(std::string_view ufrag) {
  return "ice-ufrag:" + std::string(ufrag);
}
std::string format_pwd(std::string_view pwd) {
  return "ice-pwd:" + std::string(pwd);
}

std::string format_description(const Description& d) {
  std::string out = format_ufrag(d.ufrag) + '\n' + format_pwd(d.pwd) + '\n';
  for (const Candidate& c : d.candidates)
    out += format_candidate(c) + '\n';
  if (d.end_of_candidates) out += std::string(kEndOfCandidates) + '\n';
  return out;
}

boost::system::result<void, SdpError> DescriptionReader::add_line(std::string_view line) {
  ++lines_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() || line.front() == '#') return {};
  auto a = parse_attribute(line);
  if (!a) {
    if (is_unsupported(a.error())) ++skipped_;
    return a.error();
  }
  if (auto* c = std::get_if<Candidate>(&*a)) {
    if (d_.end_of_candidates) return SdpError::after_end;
    d_.candidates.push_back(std::move(*c));
  } else if (auto* u = std::get_if<IceUfrag>(&*a)) {
    if (!d_.ufrag.empty() && d_.ufrag != u->value) return SdpError::bad_ufrag;
    d_.ufrag = std::move(u->value);
  } else if (auto* p = std::get_if<IcePwd>(&*a)) {
    if (!d_.pwd.empty() && d_.pwd != p->value) return SdpError::bad_pwd;
    d_.pwd = std::move(p->value);
  } else {
    d_.end_of_candidates = true;
  }
  return {};
}

}  // namespace natsim::traversal::ice
