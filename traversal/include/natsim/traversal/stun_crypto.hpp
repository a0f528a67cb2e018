#pragma once
// The cryptography STUN uses, through OpenSSL's libcrypto.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "natsim/base/bytes.hpp"
#include "natsim/traversal/stun_constants.hpp"

namespace natsim::traversal::stun {

using Sha1Digest = std::array<std::uint8_t, 20>;
using Sha256Digest = std::array<std::uint8_t, 32>;

[[nodiscard]] Sha1Digest hmac_sha1(ByteView key, ByteView data);
[[nodiscard]] Sha256Digest hmac_sha256(ByteView key, ByteView data);
[[nodiscard]] std::array<std::uint8_t, 16> md5(ByteView data);
[[nodiscard]] Sha256Digest sha256(ByteView data);
// RFC 8489 §14.7: CRC-32 (ISO HDLC) of the message XOR 0x5354554e.
[[nodiscard]] std::uint32_t fingerprint(ByteView data);

// RFC 8489 §9.2.2: the long-term key, MD5 or SHA-256 of "username:realm:password"
// (the password already processed by OpaqueString/SASLprep by the caller).
[[nodiscard]] std::vector<std::uint8_t> long_term_key(
    std::string_view username, std::string_view realm, std::string_view password,
    PasswordAlgorithm algorithm = PasswordAlgorithm::md5);
// RFC 8489 §14.4: USERHASH = SHA-256("username:realm").
[[nodiscard]] Sha256Digest userhash(std::string_view username, std::string_view realm);

[[nodiscard]] inline ByteView as_bytes(std::string_view s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

}  // namespace natsim::traversal::stun
