// Long-term credentials for the TURN server (RFC 8489 §9.2): stateless expiring nonces
// and the check of a request's integrity.
#include <algorithm>
#include <array>
#include <cstdio>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/wire.hpp"
#include "turn_server_internal.hpp"

namespace natsim::traversal::turn {

using stun::Message;
namespace attr = stun::attr;
namespace error_code = stun::error;
using detail::kNonceCookie;
using detail::kOfferedAlgorithms;

std::string TurnServer::make_nonce(TimePoint now) {
  // Stateless: the issue time and a MAC over it under the server's secret.
  const auto t = static_cast<unsigned long long>(to_ns(now));
  char time_hex[17];
  std::snprintf(time_hex, sizeof time_hex, "%016llx", t);
  std::uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = static_cast<std::uint8_t>(secret_ >> (8 * i));
  const auto mac = stun::hmac_sha1(key, stun::as_bytes(time_hex));
  char mac_hex[17];
  std::snprintf(mac_hex, sizeof mac_hex, "%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5], mac[6], mac[7]);
  return std::string(config_.offer_sha256 ? kNonceCookie : "") + time_hex + mac_hex;
}

bool TurnServer::nonce_fresh(std::string_view nonce, TimePoint now) const {
  if (config_.offer_sha256) {
    if (!nonce.starts_with(kNonceCookie)) return false;
    nonce.remove_prefix(kNonceCookie.size());
  }
  if (nonce.size() != 32) return false;
  const std::string time_hex(nonce.substr(0, 16));
  std::uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = static_cast<std::uint8_t>(secret_ >> (8 * i));
  const auto mac = stun::hmac_sha1(key, stun::as_bytes(time_hex));
  char mac_hex[17];
  std::snprintf(mac_hex, sizeof mac_hex, "%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5], mac[6], mac[7]);
  if (nonce.substr(16) != mac_hex) return false;
  unsigned long long issued = 0;
  if (std::sscanf(time_hex.c_str(), "%16llx", &issued) != 1) return false;
  return to_ns(now) - static_cast<std::int64_t>(issued) < config_.nonce_lifetime.count();
}

std::optional<TurnServer::Auth> TurnServer::authenticate(TimePoint now, const Message& m,
                                                         const ClientTuple& client) {
  const bool has_mi = m.has(attr::message_integrity) || m.has(attr::message_integrity_sha256);
  if (!has_mi) {
    ++counters_.challenges;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  auto user = m.text(attr::username);
  auto realm = m.text(attr::realm);
  auto nonce = m.text(attr::nonce);
  if (!user || !realm || !nonce) {
    error(m, client, error_code::bad_request);  // RFC 8489 §9.2.4
    return std::nullopt;
  }
  if (!nonce_fresh(*nonce, now)) {
    ++counters_.stale_nonces;
    error(m, client, error_code::stale_nonce, nullptr, true, now);
    return std::nullopt;
  }
  auto it = config_.users.find(std::string(*user));
  Auth auth;
  auth.user = std::string(*user);
  // RFC 8489 §9.2.4: with neither PASSWORD-ALGORITHMS nor PASSWORD-ALGORITHM the key is
  // MD5 and responses carry MESSAGE-INTEGRITY; otherwise (our nonces carry the cookie
  // with "Password algorithms") both must be there, PASSWORD-ALGORITHMS exactly as our
  // 401 sent it (a list changed on the way is a bid-down, §9.2.1) and PASSWORD-ALGORITHM
  // one of its entries, else 400; responses then carry MESSAGE-INTEGRITY-SHA256.
  const auto algorithm = m.password_algorithm();
  const auto algorithms = m.find(attr::password_algorithms);
  stun::PasswordAlgorithm key_algorithm = stun::PasswordAlgorithm::md5;
  if (algorithm || algorithms) {
    const ByteView offered = config_.offer_sha256 ? ByteView(kOfferedAlgorithms) : ByteView();
    const bool listed = algorithms && std::ranges::equal(algorithms->value, offered);
    const std::uint16_t id = algorithm.value_or(0);
    const bool md5 = id == static_cast<std::uint16_t>(stun::PasswordAlgorithm::md5);
    const bool sha256 = id == static_cast<std::uint16_t>(stun::PasswordAlgorithm::sha256);
    if (!config_.offer_sha256) {
      // No cookie and no list offered (an RFC 5389 server): only MD5 makes sense.
      if (algorithms || !md5) {
        error(m, client, error_code::bad_request);
        return std::nullopt;
      }
    } else if (!listed || !(md5 || sha256)) {
      error(m, client, error_code::bad_request);
      return std::nullopt;
    }
    key_algorithm = sha256 ? stun::PasswordAlgorithm::sha256 : stun::PasswordAlgorithm::md5;
    auth.sha256 = config_.offer_sha256;
  }
  if (it == config_.users.end() || *realm != config_.realm) {
    ++counters_.auth_failures;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  const auto key = stun::long_term_key(*user, config_.realm, it->second, key_algorithm);
  // RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when present, else MESSAGE-INTEGRITY.
  if (m.check_integrity(key) != stun::IntegrityResult::ok) {
    ++counters_.auth_failures;
    error(m, client, error_code::unauthenticated, nullptr, true, now);
    return std::nullopt;
  }
  auth.key = key;
  return auth;
}

}  // namespace natsim::traversal::turn
