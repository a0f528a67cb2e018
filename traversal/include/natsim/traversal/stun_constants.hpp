#pragma once
// STUN numbers: RFC 8489 (STUN), RFC 8656 (TURN), RFC 8445 (ICE), RFC 5780 (NAT
// behaviour discovery), RFC 3489 (classic STUN).
#include <array>
#include <cstdint>
#include <string_view>

namespace natsim::traversal::stun {

inline constexpr std::uint32_t kMagicCookie = 0x2112A442;  // RFC 8489 §5
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::size_t kTransactionIdSize = 12;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554e;  // RFC 8489 §14.7
// RFC 8489 §6.2.1: 576-byte IPv4 path MTU keeps UDP requests safe; we accept any
// size a UDP datagram can carry and bound our own output by the caller's buffer.
inline constexpr std::size_t kMaxMessageSize = 65535;

using TransactionId = std::array<std::uint8_t, kTransactionIdSize>;

enum class Class : std::uint8_t { request = 0, indication = 1, success = 2, error = 3 };

namespace method {
inline constexpr std::uint16_t binding = 0x001;   // RFC 8489
inline constexpr std::uint16_t allocate = 0x003;  // RFC 8656
inline constexpr std::uint16_t refresh = 0x004;
inline constexpr std::uint16_t send = 0x006;
inline constexpr std::uint16_t data = 0x007;
inline constexpr std::uint16_t create_permission = 0x008;
inline constexpr std::uint16_t channel_bind = 0x009;
}  // namespace method

namespace attr {
// Comprehension-required (0x0000-0x7FFF).
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t response_address = 0x0002;  // RFC 3489, deprecated
inline constexpr std::uint16_t change_request = 0x0003;    // RFC 5780 §7.2
inline constexpr std::uint16_t source_address = 0x0004;    // RFC 3489
inline constexpr std::uint16_t changed_address = 0x0005;   // RFC 3489
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t channel_number = 0x000C;  // RFC 8656
inline constexpr std::uint16_t lifetime = 0x000D;
inline constexpr std::uint16_t xor_peer_address = 0x0012;
inline constexpr std::uint16_t data = 0x0013;
inline constexpr std::uint16_t realm = 0x0014;
inline constexpr std::uint16_t nonce = 0x0015;
inline constexpr std::uint16_t xor_relayed_address = 0x0016;
inline constexpr std::uint16_t requested_address_family = 0x0017;
inline constexpr std::uint16_t even_port = 0x0018;
inline constexpr std::uint16_t requested_transport = 0x0019;
inline constexpr std::uint16_t dont_fragment = 0x001A;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;
inline constexpr std::uint16_t password_algorithm = 0x001D;
inline constexpr std::uint16_t userhash = 0x001E;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t reservation_token = 0x0022;
inline constexpr std::uint16_t priority = 0x0024;  // RFC 8445
inline constexpr std::uint16_t use_candidate = 0x0025;
inline constexpr std::uint16_t padding = 0x0026;        // RFC 5780 §7.4
inline constexpr std::uint16_t response_port = 0x0027;  // RFC 5780 §7.5
// Comprehension-optional (0x8000-0xFFFF).
inline constexpr std::uint16_t additional_address_family = 0x8000;  // RFC 8656
inline constexpr std::uint16_t address_error_code = 0x8001;         // RFC 8656
inline constexpr std::uint16_t password_algorithms = 0x8002;
inline constexpr std::uint16_t alternate_domain = 0x8003;
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t icmp = 0x8004;  // RFC 8656
inline constexpr std::uint16_t alternate_server = 0x8023;
inline constexpr std::uint16_t fingerprint = 0x8028;
inline constexpr std::uint16_t ice_controlled = 0x8029;
inline constexpr std::uint16_t ice_controlling = 0x802A;
inline constexpr std::uint16_t response_origin = 0x802B;  // RFC 5780 §7.3
inline constexpr std::uint16_t other_address = 0x802C;    // RFC 5780 §7.4

[[nodiscard]] constexpr bool comprehension_required(std::uint16_t type) {
  return type < 0x8000;
}
// Types this implementation understands (the rest, if comprehension-required, get 420).
[[nodiscard]] bool known(std::uint16_t type);
[[nodiscard]] std::string_view name(std::uint16_t type);
}  // namespace attr

// RFC 8489 §14.8 and RFC 8656 §19.
namespace error {
inline constexpr std::uint16_t try_alternate = 300;
inline constexpr std::uint16_t bad_request = 400;
inline constexpr std::uint16_t unauthenticated = 401;
inline constexpr std::uint16_t forbidden = 403;
inline constexpr std::uint16_t unknown_attribute = 420;
inline constexpr std::uint16_t allocation_mismatch = 437;
inline constexpr std::uint16_t stale_nonce = 438;
inline constexpr std::uint16_t address_family_not_supported = 440;
inline constexpr std::uint16_t wrong_credentials = 441;
inline constexpr std::uint16_t unsupported_transport = 442;
inline constexpr std::uint16_t peer_address_family_mismatch = 443;
inline constexpr std::uint16_t allocation_quota_reached = 486;
inline constexpr std::uint16_t server_error = 500;
inline constexpr std::uint16_t insufficient_capacity = 508;
[[nodiscard]] std::string_view reason(std::uint16_t code);
}  // namespace error

// RFC 8489 §18.5: PASSWORD-ALGORITHM values.
enum class PasswordAlgorithm : std::uint16_t { md5 = 0x0001, sha256 = 0x0002 };

}  // namespace natsim::traversal::stun
