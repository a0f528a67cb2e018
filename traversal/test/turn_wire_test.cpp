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

}  // namespace
}  // namespace natsim::traversal::turn
