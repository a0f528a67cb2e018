#include "natsim/traversal/turn_wire.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "natsim/traversal/stun_message.hpp"

namespace natsim::traversal::turn {
namespace {

ByteView bytes(const std::string& s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

TEST(ChannelData, RoundTripWithAndWithoutPadding) {
  std::array<std::uint8_t, 64> buf{};
  auto n = write_channel_data(buf, 0x4001, bytes("hello"), /*pad=*/false);
  ASSERT_EQ(n, 9u);
  auto c = parse_channel_data(ByteView(buf.data(), *n));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->channel, 0x4001);
  EXPECT_EQ(std::string(c->data.begin(), c->data.end()), "hello");
  EXPECT_EQ(write_channel_data(buf, 0x4001, bytes("hello"), /*pad=*/true), 12u);  // TCP
  auto padded = parse_channel_data(ByteView(buf.data(), 12));
  ASSERT_TRUE(padded);
  EXPECT_EQ(padded->data.size(), 5u);
}

TEST(ChannelData, BadInputIsRejected) {
  const std::uint8_t low[] = {0x3f, 0xff, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(low).error(), ChannelDataError::bad_channel);
  const std::uint8_t high[] = {0x50, 0x00, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(high).error(), ChannelDataError::bad_channel);
  const std::uint8_t lies[] = {0x40, 0x00, 0x00, 0x08, 1, 2, 3};
  EXPECT_EQ(parse_channel_data(lies).error(), ChannelDataError::bad_length);
  const std::uint8_t tiny[] = {0x40};
  EXPECT_EQ(parse_channel_data(tiny).error(), ChannelDataError::too_short);
  std::array<std::uint8_t, 6> small{};
  EXPECT_FALSE(write_channel_data(small, 0x4000, bytes("too long"), false));
}

TEST(StreamFramer, SplitsStunAndChannelDataAcrossArbitraryChunks) {
  std::vector<std::uint8_t> stream;
  std::array<std::uint8_t, 128> buf{};
  stun::Writer w(buf, stun::method::allocate, stun::Class::request, stun::TransactionId{});
  w.add_u32(stun::attr::requested_transport, kTransportUdp << 24);
  const ByteView msg = *w.finish();
  stream.insert(stream.end(), msg.begin(), msg.end());
  std::array<std::uint8_t, 32> cd{};
  const auto n = *write_channel_data(cd, 0x4abc, bytes("abcde"), true);
  stream.insert(stream.end(), cd.begin(), cd.begin() + static_cast<std::ptrdiff_t>(n));
  stream.insert(stream.end(), msg.begin(), msg.end());
  for (std::size_t chunk : {1u, 3u, 7u, 100u}) {
    StreamFramer f;
    std::vector<std::size_t> sizes;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      ASSERT_TRUE(f.push(ByteView(stream).subspan(i, std::min(chunk, stream.size() - i))));
      while (auto frame = f.next())
        sizes.push_back(frame->size());
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{msg.size(), 12, msg.size()})) << chunk;
    EXPECT_EQ(f.buffered(), 0u);
  }
}

TEST(StreamFramer, GarbageFailsTheStream) {
  StreamFramer f;
  const std::uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(f.push(junk));
  EXPECT_TRUE(f.failed());
  EXPECT_FALSE(f.next());
}

TEST(ChannelData, Rfc5766RangeOnlyWhenAsked) {
  // RFC 8656 §12.6: 0x5000-0xFFFF is reserved; RFC 5766 §11 allowed up to 0x7FFF.
  for (const std::uint16_t channel : {0x5000, 0x6abc, 0x7fff}) {
    std::array<std::uint8_t, 16> buf{};
    const auto n = *write_channel_data(buf, channel, bytes("x"), false);
    const ByteView d(buf.data(), n);
    EXPECT_EQ(parse_channel_data(d).error(), ChannelDataError::bad_channel) << channel;
    auto wide = parse_channel_data(d, ChannelRange::rfc5766);
    ASSERT_TRUE(wide) << channel;
    EXPECT_EQ(wide->channel, channel);
    EXPECT_FALSE(valid_channel(channel));
    EXPECT_TRUE(valid_channel(channel, ChannelRange::rfc5766));
  }
  const std::uint8_t high[] = {0x80, 0x00, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(high, ChannelRange::rfc5766).error(), ChannelDataError::bad_channel);
  const std::uint8_t low[] = {0x3f, 0xff, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(low, ChannelRange::rfc5766).error(), ChannelDataError::bad_channel);
  EXPECT_TRUE(valid_channel(0x4fff));
  EXPECT_EQ(channel_max(ChannelRange::rfc8656), 0x4fff);
  EXPECT_EQ(channel_max(ChannelRange::rfc5766), 0x7fff);
}

TEST(NonceCookie, EncodesAndDecodesTheSecurityFeatures) {
  // RFC 8489 §9.2: "obMatJos2" + base64 of the 24 bits; §18.1 with erratum 6290: bit 0
  // ("Password algorithms") is the least significant.
  EXPECT_EQ(nonce_cookie(0), "obMatJos2AAAA");
  EXPECT_EQ(nonce_cookie(kFeaturePasswordAlgorithms), "obMatJos2AAAB");
  EXPECT_EQ(nonce_cookie(kFeatureUsernameAnonymity), "obMatJos2AAAC");
  EXPECT_EQ(nonce_cookie(0xffffff), "obMatJos2////");
  EXPECT_EQ(nonce_security_features("obMatJos2AAAB1234"), kFeaturePasswordAlgorithms);
  EXPECT_EQ(nonce_security_features("obMatJos2gAAAxyz"), kFeaturePasswordAlgorithmsMsb);
  // RFC 8489 Appendix B.1's nonce announces username anonymity only.
  EXPECT_EQ(nonce_security_features("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
            kFeatureUsernameAnonymity);
  EXPECT_FALSE(nonce_security_features("obMatJos2AAA"));      // too short
  EXPECT_FALSE(nonce_security_features("obMatJos2AA=B"));     // not base64
  EXPECT_FALSE(nonce_security_features("f//499k954d6OL34"));  // an RFC 5389 nonce
  EXPECT_TRUE(nonce_announces_password_algorithms("obMatJos2AAABnonce"));
  EXPECT_TRUE(nonce_announces_password_algorithms("obMatJos2gAAAnonce"));
  EXPECT_FALSE(nonce_announces_password_algorithms("obMatJos2AAACnonce"));
  EXPECT_FALSE(nonce_announces_password_algorithms("obMatJos2AAAAnonce"));
  EXPECT_FALSE(nonce_announces_password_algorithms("nonce"));
}

}  // namespace
}  // namespace natsim::traversal::turn
