#pragma once
// What the TurnServer's source files share: constants and the success-response helper.
#include <array>
#include <cstdint>
#include <string_view>

#include "natsim/traversal/stun_message.hpp"
#include "natsim/traversal/turn_server.hpp"

namespace natsim::traversal::turn::detail {

inline constexpr Duration kPermissionLifetime = minutes(5);  // RFC 8656 §9
inline constexpr Duration kChannelLifetime = minutes(10);    // RFC 8656 §12
// RFC 8656 §7.2: a reserved port is held at least 30 s (we hold it exactly that long).
inline constexpr Duration kReservationLifetime = seconds(30);
// RFC 8489 §9.2: a nonce starting with this cookie announces security features; "AAAB"
// is the 24-bit set with "Password algorithms" (bit 0, §18.1 with erratum 6290) set.
inline constexpr std::string_view kNonceCookie = "obMatJos2AAAB";
// RFC 8489 §14.11: what the 401 offers, in order of preference: SHA-256, then MD5.
inline constexpr std::uint8_t kOfferedAlgorithms[] = {0x00, 0x02, 0x00, 0x00,
                                                      0x00, 0x01, 0x00, 0x00};
inline constexpr std::size_t kMaxBuffer = 1500 + 128;
// RFC 8489 §14.9: a 420 lists the unknown attributes; a request can carry thousands, so
// the list is cut to these many (as coturn does) and the answer always fits.
inline constexpr std::size_t kMaxUnknownReported = 64;

}  // namespace natsim::traversal::turn::detail

namespace natsim::traversal::turn {

// A success response, integrity-protected with the request's key.
template <class Fill>
void TurnServer::respond(const stun::Message& m, const ClientTuple& client, const Auth& auth,
                         Fill fill) {
  std::array<std::uint8_t, detail::kMaxBuffer> buf{};
  stun::Writer w(buf, m.method(), stun::Class::success, m.transaction_id());
  fill(w);
  if (!config_.software.empty()) w.add_text(stun::attr::software, config_.software);
  sign(w, auth);
  w.add_fingerprint();
  if (auto bytes = w.finish()) reply(client, *bytes);
}

}  // namespace natsim::traversal::turn
