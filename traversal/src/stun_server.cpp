#include "natsim/traversal/stun_server.hpp"

#include <algorithm>
#include <array>
#include <string>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::stun {

namespace {
// RFC 8489 §14.9: a 420 lists the unknown attributes; a request can carry thousands, so
// the list is cut to these many (as coturn does) and the answer always fits its buffer.
constexpr std::size_t kMaxUnknownReported = 64;
// The largest STUN message (a 16-bit length after the 20-byte header): what PADDING may
// ask a response to match (RFC 5780 §7.6).
constexpr std::size_t kMaxMessage = kHeaderSize + 0xffff;
}  // namespace

StunServer::StunServer(ServerConfig config) : config_(std::move(config)) {}

std::vector<Endpoint> StunServer::local_endpoints() const {
  const Endpoint& p = config_.primary;
  if (!rfc5780()) return {p};
  const IpAddress a2 = *config_.alternate_address;
  const std::uint16_t p2 = *config_.alternate_port;
  return {p, Endpoint{p.address, p2}, Endpoint{a2, p.port}, Endpoint{a2, p2}};
}

std::optional<Endpoint> StunServer::other_address() const {
  if (!rfc5780()) return std::nullopt;
  return Endpoint{*config_.alternate_address, *config_.alternate_port};
}

bool StunServer::send_error(const Endpoint& local, const Endpoint& remote, const Message& request,
                            std::uint16_t code, const std::vector<std::uint16_t>& unknown) {
  std::array<std::uint8_t, 512> buf{};
  Writer w(buf, request.method(), Class::error, request.transaction_id(), request.cookie());
  if (request.classic()) {
    // RFC 3489 §11.2.9: the reason phrase is padded with spaces to a multiple of 4.
    std::string reason(error::reason(code));
    reason.resize((reason.size() + 3) & ~std::size_t{3}, ' ');
    w.add_error(code, reason);
  } else {
    w.add_error(code);
  }
  if (!unknown.empty()) {
    w.add_unknown_attributes(
        unknown.size() <= kMaxUnknownReported
            ? unknown
            : std::vector<std::uint16_t>(unknown.begin(), unknown.begin() + kMaxUnknownReported));
  }
  // SOFTWARE and FINGERPRINT do not exist in RFC 3489: classic answers go without.
  if (!request.classic() && !config_.software.empty()) w.add_text(attr::software, config_.software);
  if (!request.classic()) w.add_fingerprint();
  if (auto bytes = w.finish()) {
    out_.push(local, remote, *bytes);
    ++counters_.error_responses;
  } else {
    ++counters_.dropped_other;
  }
  return true;  // the request was this server's, answered or not
}

bool StunServer::handle_datagram(TimePoint, const Endpoint& local, const Endpoint& remote,
                                 ByteView bytes) {
  auto parsed = Message::parse(bytes);
  if (!parsed) {
    ++counters_.dropped_malformed;  // RFC 8489 §6.3: fails the basic checks → discard
    return false;
  }
  const Message& m = *parsed;
  // RFC 8489 §7.3: a FINGERPRINT that does not verify means this is not STUN.
  if (m.has(attr::fingerprint) && !m.fingerprint_ok()) {
    ++counters_.dropped_bad_fingerprint;
    return false;
  }
  if (m.cls() == Class::indication) {
    ++counters_.indications;
    return true;
  }
  if (m.cls() != Class::request) {
    ++counters_.dropped_other;
    return false;
  }
  ++counters_.requests;
  // RFC 8489 §6.3.1: unknown comprehension-required attributes → 420.
  if (auto unknown = m.unknown_required(); !unknown.empty()) {
    return send_error(local, remote, m, error::unknown_attribute, unknown);
  }
  if (m.method() != method::binding) return send_error(local, remote, m, error::bad_request);

  // RFC 8489 §9.1.1: the short-term key is the password itself.
  const ByteView key = as_bytes(config_.password);
  if (config_.username) {
    // RFC 8489 §9.1.3: both USERNAME and MESSAGE-INTEGRITY, else 400; wrong ones, 401.
    auto user = m.text(attr::username);
    const bool has_mi = m.has(attr::message_integrity) || m.has(attr::message_integrity_sha256);
    if (!user || !has_mi) return send_error(local, remote, m, error::bad_request);
    if (*user != *config_.username || m.check_integrity(key) != IntegrityResult::ok) {
      return send_error(local, remote, m, error::unauthenticated);
    }
  }

  // RFC 5780 §6.1: CHANGE-REQUEST picks the endpoint the response leaves from.
  Endpoint source = local;
  if (m.has(attr::change_request)) {
    auto change = m.change_request();
    if (!change) return send_error(local, remote, m, error::bad_request);
    if ((change->first || change->second) && !rfc5780()) {
      return send_error(local, remote, m, error::unknown_attribute, {attr::change_request});
    }
    if (change->first) {
      source.address = local.address == config_.primary.address ? *config_.alternate_address
                                                                : config_.primary.address;
    }
    if (change->second) {
      source.port =
          local.port == config_.primary.port ? *config_.alternate_port : config_.primary.port;
    }
  }
  // RFC 5780 §7.5: RESPONSE-PORT sends the response to another port of the same address.
  Endpoint destination = remote;
  if (m.has(attr::response_port)) {
    const auto port = m.response_port();
    if (!port || m.classic()) return send_error(local, remote, m, error::bad_request);
    destination.port = *port;
  }

  // Room for the attributes below and, with PADDING, a response as large as the request.
  response_.resize(std::min(kHeaderSize + 256 + bytes.size(), kMaxMessage));
  Writer w(response_, method::binding, Class::success, m.transaction_id(), m.cookie());
  if (m.classic()) {
    // RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS.
    w.add_address(attr::mapped_address, remote);
    w.add_address(attr::source_address, source);
    w.add_address(attr::changed_address, other_address().value_or(config_.primary));
    ++counters_.classic;
  } else {
    w.add_xor_address(attr::xor_mapped_address, remote);
    w.add_address(attr::mapped_address, remote);  // for clients that predate XOR
    if (rfc5780()) {
      w.add_address(attr::response_origin, source);
      w.add_address(attr::other_address, *other_address());
    }
  }
  if (!m.classic() && !config_.software.empty()) w.add_text(attr::software, config_.software);
  // RFC 5780 §7.6: a request with PADDING gets a response padded to at least its size.
  if (m.has(attr::padding) && w.size() + 4 + 4 + 8 < bytes.size()) {
    static constexpr std::array<std::uint8_t, kMaxMessage> kZeros{};  // no copy per request
    w.add(attr::padding, ByteView(kZeros.data(), bytes.size() - w.size() - 4 - 8));
  }
  if (config_.username) w.add_message_integrity(key);
  if (!m.classic()) w.add_fingerprint();
  auto out = w.finish();
  if (!out) {
    ++counters_.dropped_other;
    return true;
  }
  out_.push(source, destination, *out);
  ++counters_.responses;
  return true;
}

}  // namespace natsim::traversal::stun
