#pragma once
// RFC 5769 test vectors (§2.1-§2.4), byte for byte.
//
// Source: RFC 5769, "Test Vectors for Session Traversal Utilities for NAT
// (STUN)", R. Denis-Courmont, April 2010, sections 2.1 to 2.4.
// Each row of four bytes below is one row of the RFC's hex dump; the comments
// say what each row holds.
//
// Notes on the data:
//  - The three short-term vectors (§2.1-§2.3) pad with 0x20 (space) bytes,
//    not zero bytes, wherever padding is needed (§2.1 USERNAME, §2.2/§2.3
//    SOFTWARE); §2.4 pads with 0x00.  STUN allows any padding value, and the
//    padding is covered by MESSAGE-INTEGRITY and FINGERPRINT, so an encoder
//    that pads with zeros will not reproduce the §2.1-§2.3 bytes.
//  - The §2.4 vector ends with MESSAGE-INTEGRITY; it has no FINGERPRINT.
//  - Errata: the RFC Editor errata page for RFC 5769 could not be consulted
//    when this file was written.  Every byte here was instead checked against
//    its own length fields, FINGERPRINT CRC-32 and MESSAGE-INTEGRITY HMAC-SHA1
//    (all of which pass), so no vector byte is known to be affected.

#include <array>
#include <cstdint>
#include <string_view>

namespace natsim::traversal::rfc5769 {

// ---------------------------------------------------------------------------
// §2.1 Sample request (Binding request, short-term credentials)
// ---------------------------------------------------------------------------
inline constexpr std::string_view kSampleRequestSoftware = "STUN test client";
inline constexpr std::string_view kSampleRequestUsername = "evtj:h6vY";
inline constexpr std::string_view kSampleRequestPassword = "VOkJxbRl1RmTxUk/WvJxBt";

inline constexpr std::array<std::uint8_t, 108> kSampleRequest = {
    0x00, 0x01, 0x00, 0x58,  // Binding request, body length 88
    0x21, 0x12, 0xa4, 0x42,  // magic cookie
    0xb7, 0xe7, 0xa7, 0x01,  // transaction ID, bytes 0-3
    0xbc, 0x34, 0xd6, 0x86,  // transaction ID, bytes 4-7
    0xfa, 0x87, 0xdf, 0xae,  // transaction ID, bytes 8-11
    0x80, 0x22, 0x00, 0x10,  // SOFTWARE attribute: type 0x8022, length 16
    0x53, 0x54, 0x55, 0x4e,  // "STUN"
    0x20, 0x74, 0x65, 0x73,  // " tes"
    0x74, 0x20, 0x63, 0x6c,  // "t cl"
    0x69, 0x65, 0x6e, 0x74,  // "ient"
    0x00, 0x24, 0x00, 0x04,  // PRIORITY attribute: type 0x0024, length 4
    0x6e, 0x00, 0x01, 0xff,  // priority value 0x6e0001ff
    0x80, 0x29, 0x00, 0x08,  // ICE-CONTROLLED attribute: type 0x8029, length 8
    0x93, 0x2f, 0xf9, 0xb1,  // tie-breaker, high 32 bits
    0x51, 0x26, 0x3b, 0x36,  // tie-breaker, low 32 bits
    0x00, 0x06, 0x00, 0x09,  // USERNAME attribute: type 0x0006, length 9
    0x65, 0x76, 0x74, 0x6a,  // "evtj"
    0x3a, 0x68, 0x36, 0x76,  // ":h6v"
    0x59, 0x20, 0x20, 0x20,  // "Y" then three 0x20 padding bytes
    0x00, 0x08, 0x00, 0x14,  // MESSAGE-INTEGRITY attribute: type 0x0008, length 20
    0x9a, 0xea, 0xa7, 0x0c,  // HMAC-SHA1, bytes 0-3
    0xbf, 0xd8, 0xcb, 0x56,  // HMAC-SHA1, bytes 4-7
    0x78, 0x1e, 0xf2, 0xb5,  // HMAC-SHA1, bytes 8-11
    0xb2, 0xd3, 0xf2, 0x49,  // HMAC-SHA1, bytes 12-15
    0xc1, 0xb5, 0x71, 0xa2,  // HMAC-SHA1, bytes 16-19
    0x80, 0x28, 0x00, 0x04,  // FINGERPRINT attribute: type 0x8028, length 4
    0xe5, 0x7a, 0x3b, 0xcf,  // CRC-32 XOR 0x5354554e
};

// ---------------------------------------------------------------------------
// §2.2 Sample IPv4 response (Binding success response, short-term credentials)
// ---------------------------------------------------------------------------
inline constexpr std::string_view kSampleIpv4ResponsePassword = "VOkJxbRl1RmTxUk/WvJxBt";
inline constexpr std::string_view kSampleIpv4ResponseSoftware = "test vector";
inline constexpr std::string_view kIpv4MappedAddress = "192.0.2.1";
inline constexpr std::uint16_t kIpv4MappedPort = 32853;

inline constexpr std::array<std::uint8_t, 80> kSampleIpv4Response = {
    0x01, 0x01, 0x00, 0x3c,  // Binding success response, body length 60
    0x21, 0x12, 0xa4, 0x42,  // magic cookie
    0xb7, 0xe7, 0xa7, 0x01,  // transaction ID, bytes 0-3
    0xbc, 0x34, 0xd6, 0x86,  // transaction ID, bytes 4-7
    0xfa, 0x87, 0xdf, 0xae,  // transaction ID, bytes 8-11
    0x80, 0x22, 0x00, 0x0b,  // SOFTWARE attribute: type 0x8022, length 11
    0x74, 0x65, 0x73, 0x74,  // "test"
    0x20, 0x76, 0x65, 0x63,  // " vec"
    0x74, 0x6f, 0x72, 0x20,  // "tor" then one 0x20 padding byte
    0x00, 0x20, 0x00, 0x08,  // XOR-MAPPED-ADDRESS attribute: type 0x0020, length 8
    0x00, 0x01, 0xa1, 0x47,  // reserved, family 0x01 (IPv4), port XOR 0x2112
    0xe1, 0x12, 0xa6, 0x43,  // IPv4 address XOR magic cookie
    0x00, 0x08, 0x00, 0x14,  // MESSAGE-INTEGRITY attribute: type 0x0008, length 20
    0x2b, 0x91, 0xf5, 0x99,  // HMAC-SHA1, bytes 0-3
    0xfd, 0x9e, 0x90, 0xc3,  // HMAC-SHA1, bytes 4-7
    0x8c, 0x74, 0x89, 0xf9,  // HMAC-SHA1, bytes 8-11
    0x2a, 0xf9, 0xba, 0x53,  // HMAC-SHA1, bytes 12-15
    0xf0, 0x6b, 0xe7, 0xd7,  // HMAC-SHA1, bytes 16-19
    0x80, 0x28, 0x00, 0x04,  // FINGERPRINT attribute: type 0x8028, length 4
    0xc0, 0x7d, 0x4c, 0x96,  // CRC-32 XOR 0x5354554e
};

// ---------------------------------------------------------------------------
// §2.3 Sample IPv6 response (Binding success response, short-term credentials)
// ---------------------------------------------------------------------------
inline constexpr std::string_view kSampleIpv6ResponsePassword = "VOkJxbRl1RmTxUk/WvJxBt";
inline constexpr std::string_view kSampleIpv6ResponseSoftware = "test vector";
inline constexpr std::string_view kIpv6MappedAddress = "2001:db8:1234:5678:11:2233:4455:6677";
inline constexpr std::uint16_t kIpv6MappedPort = 32853;

inline constexpr std::array<std::uint8_t, 92> kSampleIpv6Response = {
    0x01, 0x01, 0x00, 0x48,  // Binding success response, body length 72
    0x21, 0x12, 0xa4, 0x42,  // magic cookie
    0xb7, 0xe7, 0xa7, 0x01,  // transaction ID, bytes 0-3
    0xbc, 0x34, 0xd6, 0x86,  // transaction ID, bytes 4-7
    0xfa, 0x87, 0xdf, 0xae,  // transaction ID, bytes 8-11
    0x80, 0x22, 0x00, 0x0b,  // SOFTWARE attribute: type 0x8022, length 11
    0x74, 0x65, 0x73, 0x74,  // "test"
    0x20, 0x76, 0x65, 0x63,  // " vec"
    0x74, 0x6f, 0x72, 0x20,  // "tor" then one 0x20 padding byte
    0x00, 0x20, 0x00, 0x14,  // XOR-MAPPED-ADDRESS attribute: type 0x0020, length 20
    0x00, 0x02, 0xa1, 0x47,  // reserved, family 0x02 (IPv6), port XOR 0x2112
    0x01, 0x13, 0xa9, 0xfa,  // IPv6 address XOR (cookie || transaction ID), bytes 0-3
    0xa5, 0xd3, 0xf1, 0x79,  // ... bytes 4-7
    0xbc, 0x25, 0xf4, 0xb5,  // ... bytes 8-11
    0xbe, 0xd2, 0xb9, 0xd9,  // ... bytes 12-15
    0x00, 0x08, 0x00, 0x14,  // MESSAGE-INTEGRITY attribute: type 0x0008, length 20
    0xa3, 0x82, 0x95, 0x4e,  // HMAC-SHA1, bytes 0-3
    0x4b, 0xe6, 0x7b, 0xf1,  // HMAC-SHA1, bytes 4-7
    0x17, 0x84, 0xc9, 0x7c,  // HMAC-SHA1, bytes 8-11
    0x82, 0x92, 0xc2, 0x75,  // HMAC-SHA1, bytes 12-15
    0xbf, 0xe3, 0xed, 0x41,  // HMAC-SHA1, bytes 16-19
    0x80, 0x28, 0x00, 0x04,  // FINGERPRINT attribute: type 0x8028, length 4
    0xc8, 0xfb, 0x0b, 0x4c,  // CRC-32 XOR 0x5354554e
};

// ---------------------------------------------------------------------------
// §2.4 Sample request with long-term authentication
// ---------------------------------------------------------------------------
// MESSAGE-INTEGRITY key = MD5(username ":" realm ":" SASLprep(password)).

// Username: U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9 (katakana "matorikkusu"),
// which the RFC says SASLprep leaves unchanged.  UTF-8, 18 bytes.
inline constexpr std::array<std::uint8_t, 18> kLongTermUsername = {
    0xe3, 0x83, 0x9e,  // U+30DE
    0xe3, 0x83, 0x88,  // U+30C8
    0xe3, 0x83, 0xaa,  // U+30EA
    0xe3, 0x83, 0x83,  // U+30C3
    0xe3, 0x82, 0xaf,  // U+30AF
    0xe3, 0x82, 0xb9,  // U+30B9
};

// Password as the RFC gives it before SASLprep: "The" U+00AD "M" U+00AA "tr"
// U+2168.  UTF-8, 13 bytes.  SASLprep drops the soft hyphen U+00AD and
// NFKC-folds U+00AA to "a" and U+2168 (ROMAN NUMERAL NINE) to "IX".
inline constexpr std::array<std::uint8_t, 13> kLongTermPasswordBeforeSaslprep = {
    0x54, 0x68, 0x65,  // "The"
    0xc2, 0xad,        // U+00AD SOFT HYPHEN
    0x4d,              // "M"
    0xc2, 0xaa,        // U+00AA FEMININE ORDINAL INDICATOR
    0x74, 0x72,        // "tr"
    0xe2, 0x85, 0xa8,  // U+2168 ROMAN NUMERAL NINE
};

// Password after SASLprep, as the RFC states it: "TheMatrIX" (ASCII, 9 bytes).
// These are the bytes that go into the MD5 key.
inline constexpr std::array<std::uint8_t, 9> kLongTermPassword = {
    0x54, 0x68, 0x65, 0x4d, 0x61, 0x74, 0x72, 0x49, 0x58,  // "TheMatrIX"
};

inline constexpr std::string_view kLongTermRealm = "example.org";
inline constexpr std::string_view kLongTermNonce = "f//499k954d6OL34oL9FSTvy64sA";

inline constexpr std::array<std::uint8_t, 116> kLongTermRequest = {
    0x00, 0x01, 0x00, 0x60,  // Binding request, body length 96
    0x21, 0x12, 0xa4, 0x42,  // magic cookie
    0x78, 0xad, 0x34, 0x33,  // transaction ID, bytes 0-3
    0xc6, 0xad, 0x72, 0xc0,  // transaction ID, bytes 4-7
    0x29, 0xda, 0x41, 0x2e,  // transaction ID, bytes 8-11
    0x00, 0x06, 0x00, 0x12,  // USERNAME attribute: type 0x0006, length 18
    0xe3, 0x83, 0x9e, 0xe3,  // UTF-8 username ...
    0x83, 0x88, 0xe3, 0x83,  // ...
    0xaa, 0xe3, 0x83, 0x83,  // ...
    0xe3, 0x82, 0xaf, 0xe3,  // ...
    0x82, 0xb9, 0x00, 0x00,  // ... last two bytes, then two 0x00 padding bytes
    0x00, 0x15, 0x00, 0x1c,  // NONCE attribute: type 0x0015, length 28
    0x66, 0x2f, 0x2f, 0x34,  // "f//4"
    0x39, 0x39, 0x6b, 0x39,  // "99k9"
    0x35, 0x34, 0x64, 0x36,  // "54d6"
    0x4f, 0x4c, 0x33, 0x34,  // "OL34"
    0x6f, 0x4c, 0x39, 0x46,  // "oL9F"
    0x53, 0x54, 0x76, 0x79,  // "STvy"
    0x36, 0x34, 0x73, 0x41,  // "64sA"
    0x00, 0x14, 0x00, 0x0b,  // REALM attribute: type 0x0014, length 11
    0x65, 0x78, 0x61, 0x6d,  // "exam"
    0x70, 0x6c, 0x65, 0x2e,  // "ple."
    0x6f, 0x72, 0x67, 0x00,  // "org" then one 0x00 padding byte
    0x00, 0x08, 0x00, 0x14,  // MESSAGE-INTEGRITY attribute: type 0x0008, length 20
    0xf6, 0x70, 0x24, 0x65,  // HMAC-SHA1, bytes 0-3
    0x6d, 0xd6, 0x4a, 0x3e,  // HMAC-SHA1, bytes 4-7
    0x02, 0xb8, 0xe0, 0x71,  // HMAC-SHA1, bytes 8-11
    0x2e, 0x85, 0xc9, 0xa2,  // HMAC-SHA1, bytes 12-15
    0x8c, 0xa8, 0x96, 0x66,  // HMAC-SHA1, bytes 16-19
};

}  // namespace natsim::traversal::rfc5769
