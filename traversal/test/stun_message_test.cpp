#include "natsim/traversal/stun_message.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "natsim/traversal/stun_crypto.hpp"
#include "rfc5769_vectors.hpp"

namespace natsim::traversal::stun {
namespace {

namespace v = rfc5769;

template <std::size_t N>
ByteView view(const std::array<std::uint8_t, N>& a) {
  return ByteView(a.data(), a.size());
}

template <std::size_t N>
TransactionId tid_of(const std::array<std::uint8_t, N>& message) {
  TransactionId t;
  std::copy(message.begin() + 8, message.begin() + 20, t.begin());
  return t;
}

template <std::size_t N>
std::string_view text(const std::array<std::uint8_t, N>& a) {
  return std::string_view(reinterpret_cast<const char*>(a.data()), a.size());
}

std::vector<std::uint8_t> bytes_of(ByteView b) {
  return {b.begin(), b.end()};
}

// --- RFC 2202 §3: HMAC-SHA1 test cases 1, 2 and 6 (a key longer than a block is hashed
// first), each computed again after more keys than the keyed-state cache holds.
std::string hex(const Sha1Digest& d) {
  std::string out;
  for (std::uint8_t b : d) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 0xF];
  }
  return out;
}

TEST(Rfc2202, HmacSha1) {
  const std::vector<std::uint8_t> key1(20, 0x0b);
  const std::vector<std::uint8_t> key6(80, 0xaa);
  auto check = [&] {
    EXPECT_EQ(hex(hmac_sha1(key1, as_bytes("Hi There"))),
              "b617318655057264e28bc0b6fb378c8ef146be00");
    EXPECT_EQ(hex(hmac_sha1(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    EXPECT_EQ(hex(hmac_sha1(key6, as_bytes("Test Using Larger Than Block-Size Key - Hash Key "
                                           "First"))),
              "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  };
  check();
  for (std::uint8_t k = 0; k < 20; ++k) {
    const std::vector<std::uint8_t> other(k + 1u, k);
    (void)hmac_sha1(other, as_bytes("x"));
  }
  check();
}

// CRC-32 check value ("123456789", ISO-HDLC: 0xCBF43926) and lengths around the 8-byte
// steps; FINGERPRINT is that CRC XOR 0x5354554e (RFC 8489 §14.7).
TEST(Fingerprint, IsCrc32XorStun) {
  EXPECT_EQ(fingerprint(as_bytes("123456789")), 0xCBF43926u ^ 0x5354554eu);
  EXPECT_EQ(fingerprint(as_bytes("")), 0x00000000u ^ 0x5354554eu);
  // zlib.crc32(b"The quick brown fox jumps over the lazy dog") == 0x414FA339
  EXPECT_EQ(fingerprint(as_bytes("The quick brown fox jumps over the lazy dog")),
            0x414FA339u ^ 0x5354554eu);
}

// --- RFC 5769 §2.1

TEST(Rfc5769, SampleRequestParses) {
  auto m = Message::parse(view(v::kSampleRequest));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method(), method::binding);
  EXPECT_EQ(m->cls(), Class::request);
  EXPECT_FALSE(m->classic());
  EXPECT_EQ(m->text(attr::software), v::kSampleRequestSoftware);
  EXPECT_EQ(m->text(attr::username), v::kSampleRequestUsername);
  EXPECT_EQ(m->u32(attr::priority), 0x6e0001ffu);
  EXPECT_TRUE(m->fingerprint_ok());
  EXPECT_EQ(m->check_integrity(as_bytes(v::kSampleRequestPassword)), IntegrityResult::ok);
  EXPECT_EQ(m->check_integrity(as_bytes("wrong")), IntegrityResult::mismatch);
  EXPECT_TRUE(m->unknown_required().empty());
}

TEST(Rfc5769, SampleRequestEncodesByteForByte) {
  std::array<std::uint8_t, 256> buf{};
  Writer w(buf, method::binding, Class::request, tid_of(v::kSampleRequest));
  w.set_padding_byte(0x20);  // the RFC pads with spaces
  w.add_text(attr::software, v::kSampleRequestSoftware);
  w.add_u32(attr::priority, 0x6e0001ff);
  w.add_u64(attr::ice_controlled, 0x932ff9b151263b36ull);
  w.add_text(attr::username, v::kSampleRequestUsername);
  w.add_message_integrity(as_bytes(v::kSampleRequestPassword));
  w.add_fingerprint();
  auto out = w.finish();
  ASSERT_TRUE(out);
  EXPECT_EQ(bytes_of(*out), bytes_of(view(v::kSampleRequest)));
}

// --- RFC 5769 §2.2 and §2.3

template <std::size_t N>
void check_response(const std::array<std::uint8_t, N>& vector, std::string_view address,
                    std::uint16_t port) {
  auto m = Message::parse(view(vector));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->cls(), Class::success);
  const Endpoint expected{*IpAddress::parse(address), port};
  EXPECT_EQ(m->mapped_address(), expected);
  EXPECT_EQ(m->text(attr::software), v::kSampleIpv4ResponseSoftware);
  EXPECT_TRUE(m->fingerprint_ok());
  EXPECT_EQ(m->check_integrity(as_bytes(v::kSampleIpv4ResponsePassword)), IntegrityResult::ok);

  std::array<std::uint8_t, 256> buf{};
  Writer w(buf, method::binding, Class::success, tid_of(vector));
  w.set_padding_byte(0x20);
  w.add_text(attr::software, v::kSampleIpv4ResponseSoftware);
  w.add_xor_address(attr::xor_mapped_address, expected);
  w.add_message_integrity(as_bytes(v::kSampleIpv4ResponsePassword));
  w.add_fingerprint();
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(bytes_of(*w.finish()), bytes_of(view(vector)));
}

TEST(Rfc5769, SampleIpv4Response) {
  check_response(v::kSampleIpv4Response, v::kIpv4MappedAddress, v::kIpv4MappedPort);
}

TEST(Rfc5769, SampleIpv6Response) {
  check_response(v::kSampleIpv6Response, v::kIpv6MappedAddress, v::kIpv6MappedPort);
}

// --- RFC 5769 §2.4

TEST(Rfc5769, LongTermCredentialRequest) {
  auto m = Message::parse(view(v::kLongTermRequest));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text(attr::username), text(v::kLongTermUsername));
  EXPECT_EQ(m->text(attr::nonce), v::kLongTermNonce);
  EXPECT_EQ(m->text(attr::realm), v::kLongTermRealm);
  const auto key =
      long_term_key(text(v::kLongTermUsername), v::kLongTermRealm, text(v::kLongTermPassword));
  EXPECT_EQ(m->check_integrity(key), IntegrityResult::ok);
  const auto unprepared = long_term_key(text(v::kLongTermUsername), v::kLongTermRealm,
                                        text(v::kLongTermPasswordBeforeSaslprep));
  EXPECT_EQ(m->check_integrity(unprepared), IntegrityResult::mismatch);

  std::array<std::uint8_t, 256> buf{};
  Writer w(buf, method::binding, Class::request, tid_of(v::kLongTermRequest));
  w.add_text(attr::username, text(v::kLongTermUsername));
  w.add_text(attr::nonce, v::kLongTermNonce);
  w.add_text(attr::realm, v::kLongTermRealm);
  w.add_message_integrity(key);
  ASSERT_TRUE(w.finish());
  EXPECT_EQ(bytes_of(*w.finish()), bytes_of(view(v::kLongTermRequest)));
}

// --- framing and bad input

TEST(StunParse, EveryTruncationFailsCleanly) {
  for (std::size_t n = 0; n < v::kSampleRequest.size(); ++n) {
    EXPECT_FALSE(Message::parse(ByteView(v::kSampleRequest.data(), n))) << n;
  }
}

TEST(StunParse, AnyFlippedBitBreaksIntegrityOrFingerprint) {
  for (std::size_t i = 20; i < v::kSampleRequest.size(); ++i) {
    auto bad = v::kSampleRequest;
    bad[i] ^= 0x01;
    auto m = Message::parse(view(bad));
    if (!m) continue;  // a flipped length makes the framing invalid: also fine
    EXPECT_FALSE(m->fingerprint_ok() &&
                 m->check_integrity(as_bytes(v::kSampleRequestPassword)) == IntegrityResult::ok)
        << "byte " << i;
  }
}

TEST(StunParse, FramingErrors) {
  std::vector<std::uint8_t> m(v::kSampleRequest.begin(), v::kSampleRequest.end());
  auto err = [](std::vector<std::uint8_t> b) { return Message::parse(b).error(); };
  auto not_stun = m;
  not_stun[0] = 0x40;  // ChannelData range
  EXPECT_EQ(err(not_stun), ParseError::not_stun);
  auto odd_length = m;
  odd_length[3] = 0x57;
  EXPECT_EQ(err(odd_length), ParseError::bad_length);
  auto longer = m;
  longer.push_back(0);
  EXPECT_EQ(err(longer), ParseError::bad_length);
  auto overflow = m;
  overflow[23] = 0xff;  // SOFTWARE claims 255 bytes
  EXPECT_EQ(err(overflow), ParseError::bad_attribute);
  // An attribute after FINGERPRINT.
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{});
  w.add_fingerprint();
  w.add_text(attr::software, "late");
  EXPECT_EQ(Message::parse(*w.finish()).error(), ParseError::after_fingerprint);
  EXPECT_EQ(err({}), ParseError::too_short);
}

TEST(StunParse, AttributesAfterIntegrityAreIgnored) {
  std::array<std::uint8_t, 128> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{});
  w.add_message_integrity(as_bytes("key"));
  w.add_text(attr::software, "smuggled");
  w.add_fingerprint();
  auto m = Message::parse(*w.finish());
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->has(attr::software));  // RFC 8489 §14.5
  EXPECT_TRUE(m->has(attr::fingerprint));
}

TEST(StunParse, UnknownComprehensionRequiredAttributesAreReported) {
  std::array<std::uint8_t, 128> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{});
  w.add_u32(0x7f01, 1);  // unknown, comprehension-required
  w.add_u32(0xc001, 1);  // unknown, comprehension-optional: fine
  w.add_u32(attr::priority, 1);
  auto m = Message::parse(*w.finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->unknown_required(), std::vector<std::uint16_t>{0x7f01});
}

TEST(StunParse, ClassicRfc3489MessagesAreRecognised) {
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{}, /*cookie=*/0x01020304);
  auto m = Message::parse(*w.finish());
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->classic());
  EXPECT_EQ(m->cookie(), 0x01020304u);
}

TEST(StunWriter, RoundTripsTypedAttributes) {
  std::array<std::uint8_t, 256> buf{};
  TransactionId tid{};
  tid[0] = 7;
  Writer w(buf, method::allocate, Class::error, tid);
  w.add_error(error::unknown_attribute);
  w.add_unknown_attributes({0x7f01, 0x7f02});
  w.add_change_request(true, false);
  w.add_address(attr::other_address, *Endpoint::parse("192.0.2.9:3479"));
  w.add_xor_address(attr::xor_relayed_address, *Endpoint::parse("[2001:db8::5]:50000"));
  w.add_message_integrity_sha256(as_bytes("secret"));
  w.add_fingerprint();
  auto m = Message::parse(*w.finish());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method(), method::allocate);
  EXPECT_EQ(m->cls(), Class::error);
  EXPECT_EQ(m->transaction_id(), tid);
  EXPECT_EQ(m->error_code()->code, 420);
  EXPECT_EQ(m->error_code()->reason, "Unknown Attribute");
  EXPECT_EQ(m->unknown_attributes_value(), (std::vector<std::uint16_t>{0x7f01, 0x7f02}));
  EXPECT_EQ(m->change_request(), (std::pair{true, false}));
  EXPECT_EQ(m->address(attr::other_address), Endpoint::parse("192.0.2.9:3479"));
  EXPECT_EQ(m->xor_address(attr::xor_relayed_address), Endpoint::parse("[2001:db8::5]:50000"));
  EXPECT_EQ(m->check_integrity(as_bytes("secret")), IntegrityResult::ok);
  EXPECT_EQ(m->check_integrity(as_bytes("Secret")), IntegrityResult::mismatch);
  EXPECT_TRUE(m->fingerprint_ok());
}

TEST(StunWriter, OverflowIsReportedOnce) {
  std::array<std::uint8_t, 32> buf{};
  Writer w(buf, method::binding, Class::request, TransactionId{});
  w.add_text(attr::software, "this does not fit in thirty-two bytes");
  w.add_fingerprint();
  EXPECT_FALSE(w.ok());
  EXPECT_FALSE(w.finish());
  std::array<std::uint8_t, 8> tiny{};
  EXPECT_FALSE(Writer(tiny, method::binding, Class::request, TransactionId{}).finish());
}

TEST(StunMessageType, EncodingMatchesRfc8489Figure3) {
  EXPECT_EQ(message_type(method::binding, Class::request), 0x0001);
  EXPECT_EQ(message_type(method::binding, Class::success), 0x0101);
  EXPECT_EQ(message_type(method::binding, Class::error), 0x0111);
  EXPECT_EQ(message_type(method::binding, Class::indication), 0x0011);
  EXPECT_EQ(message_type(method::allocate, Class::request), 0x0003);
  EXPECT_EQ(message_type(method::send, Class::indication), 0x0016);
  EXPECT_EQ(message_type(method::data, Class::indication), 0x0017);
}

}  // namespace
}  // namespace natsim::traversal::stun
