#include "natsim/sim/pcap.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "natsim/sim/ip_wire.hpp"
#include "test_world.hpp"

namespace natsim::sim {
namespace {

using testing::bytes;
using testing::ep;

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("NATSIM_TEST_TMP");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(IpWire, KnownIpv4UdpChecksums) {
  // A packet whose checksums were computed independently (Wireshark-verified layout):
  // 192.0.2.1:1234 -> 198.51.100.2:3478, payload "abc", TTL 64, IP id 1, DF.
  PacketPool pool;
  auto p = pool.acquire();
  p->src = ep("192.0.2.1:1234");
  p->dst = ep("198.51.100.2:3478");
  p->id = 1;
  p->assign(bytes("abc"));
  std::vector<std::uint8_t> out(p->wire_size());
  ASSERT_EQ(encode_ip_packet(*p, out), 31u);
  EXPECT_EQ(out[0], 0x45);
  EXPECT_EQ((out[2] << 8) | out[3], 31);
  EXPECT_EQ(out[9], 17);
  // Header checksum: the ones'-complement sum over the header must fold to 0xffff.
  EXPECT_EQ(checksum_finish(checksum_add(0, ByteView(out).first(20))), 0);
  auto parsed = parse_ip_packet(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->src, p->src);
  EXPECT_EQ(parsed->dst, p->dst);
  EXPECT_EQ(std::string(parsed->payload.begin(), parsed->payload.end()), "abc");
  // Any flipped bit breaks a checksum.
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto bad = out;
    bad[i] ^= 0x10;
    EXPECT_FALSE(parse_ip_packet(bad)) << "byte " << i;
  }
}

TEST(IpWire, Rfc1071Example) {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_add(0, data), 0xddf2u);
  EXPECT_EQ(checksum_finish(0xddf2), 0x220d);
}

TEST(IpWire, Ipv6AndTcpRoundTrip) {
  PacketPool pool;
  auto p = pool.acquire();
  p->src = ep("[2001:db8::1]:443");
  p->dst = ep("[2001:db8::2]:50000");
  p->proto = IpProto::tcp;
  p->tcp = TcpHeader{
      .seq = 1000, .ack = 2000, .window = 65535, .flags = tcp_flags::syn | tcp_flags::ack};
  p->ttl = 7;
  p->assign(bytes("segment"));
  std::vector<std::uint8_t> out(p->wire_size());
  encode_ip_packet(*p, out);
  auto parsed = parse_ip_packet(out);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->proto, IpProto::tcp);
  EXPECT_EQ(parsed->ttl, 7);
  EXPECT_EQ(parsed->tcp.seq, 1000u);
  EXPECT_EQ(parsed->tcp.ack, 2000u);
  EXPECT_EQ(parsed->tcp.flags, tcp_flags::syn | tcp_flags::ack);
  EXPECT_EQ(parsed->src, p->src);
  EXPECT_EQ(std::string(parsed->payload.begin(), parsed->payload.end()), "segment");
}

TEST(IpWire, TruncationsAreErrorsNotCrashes) {
  PacketPool pool;
  auto p = pool.acquire();
  p->src = ep("10.0.0.1:1");
  p->dst = ep("10.0.0.2:2");
  p->assign(bytes("payload"));
  std::vector<std::uint8_t> out(p->wire_size());
  encode_ip_packet(*p, out);
  for (std::size_t n = 0; n < out.size(); ++n) {
    EXPECT_FALSE(parse_ip_packet(ByteView(out).first(n))) << n;
  }
}

TEST(Pcap, CaptureReadsBackWithHeadersAndChecksums) {
  LinkParams lp;
  lp.latency = milliseconds(3);
  testing::Pair w(lp);
  UdpSocket* echo = w.b.udp_bind(3478).value();
  echo->on_receive([echo](const Datagram& d) { (void)echo->send_to(d.from, d.payload); });
  const std::string path = temp_path("natsim_pcap_test.pcap");
  PcapWriter link_pcap;
  ASSERT_TRUE(link_pcap.open(path));
  w.link.capture(&link_pcap);
  PcapWriter node_pcap;
  ASSERT_TRUE(node_pcap.open(path + ".node"));
  w.a.capture(&node_pcap);

  UdpSocket* s = w.a.udp_bind(40000).value();
  (void)s->send_to(ep("10.0.0.2:3478"), bytes("first"));
  (void)w.a.schedule_in(microseconds(1500),
                        [&] { (void)s->send_to(ep("10.0.0.2:3478"), bytes("second!")); });
  w.net.run();
  link_pcap.close();
  node_pcap.close();

  const auto image = read_file(path);
  // Big-endian on every CPU: the nanosecond magic, then version 2.4, then the first
  // record's seconds (0) and nanoseconds (0).
  ASSERT_GE(image.size(), 32u);
  const std::vector<std::uint8_t> head(image.begin(), image.begin() + 8);
  EXPECT_EQ(head, (std::vector<std::uint8_t>{0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4}));
  auto file = parse_pcap(image);
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->nanosecond);
  EXPECT_EQ(file->linktype, kLinktypeRaw);
  ASSERT_EQ(file->records.size(), 4u);  // two requests, two echoes
  const std::int64_t expected_t[] = {0, 1'500'000, 3'000'000, 4'500'000};
  const char* expected_payload[] = {"first", "second!", "first", "second!"};
  for (std::size_t i = 0; i < 4; ++i) {
    const PcapRecord& r = file->records[i];
    EXPECT_EQ(r.t_ns, expected_t[i]);
    auto ip = parse_ip_packet(r.data);  // checks the IP and UDP checksums
    ASSERT_TRUE(ip) << "record " << i;
    EXPECT_EQ(std::string(ip->payload.begin(), ip->payload.end()), expected_payload[i]);
    const bool request = i < 2;
    EXPECT_EQ(ip->src, request ? ep("10.0.0.1:40000") : ep("10.0.0.2:3478"));
    EXPECT_EQ(ip->dst, request ? ep("10.0.0.2:3478") : ep("10.0.0.1:40000"));
    EXPECT_EQ(ip->ttl, 64);
  }
  // The node capture sees the same four packets (two out, two in).
  const auto node_bytes = read_file(path + ".node");  // the parsed records view it
  auto node_file = parse_pcap(node_bytes);
  ASSERT_TRUE(node_file);
  EXPECT_EQ(node_file->records.size(), 4u);
}

TEST(Pcap, MalformedFilesAreRejected) {
  std::vector<std::uint8_t> junk(10, 0);
  EXPECT_EQ(parse_pcap(junk).error(), PcapParseError::truncated);
  junk.resize(24);
  EXPECT_EQ(parse_pcap(junk).error(), PcapParseError::bad_magic);
  // A valid header followed by a record claiming more bytes than exist.
  std::vector<std::uint8_t> f = {0x4d, 0x3c, 0xb2, 0xa1, 2, 0,   4,   0, 0, 0, 0, 0, 0, 0, 0,
                                 0,    0xff, 0xff, 0,    0, 101, 0,   0, 0, 0, 0, 0, 0, 0, 0,
                                 0,    0,    100,  0,    0, 0,   100, 0, 0, 0, 1, 2, 3};
  EXPECT_EQ(parse_pcap(f).error(), PcapParseError::truncated);
}

}  // namespace
}  // namespace natsim::sim

namespace natsim::sim {
namespace {

// RFC 792 / RFC 1122 §4.1.3.1: a host with the knob answers a datagram for a closed port
// with ICMP port unreachable quoting the datagram's IP header and UDP header; the error
// reaches the sending socket one link latency later, and the capture holds a valid ICMP
// message (checksums checked by the parser, as tshark does).
TEST(Icmp, ClosedPortIsAnsweredWithPortUnreachableAndReachesTheSocket) {
  LinkParams lp;
  lp.latency = milliseconds(3);
  testing::Pair w(lp);
  w.b.set_icmp_port_unreachable(true);
  const std::string path = temp_path("natsim_icmp_test.pcap");
  PcapWriter pcap;
  ASSERT_TRUE(pcap.open(path));
  w.a.capture(&pcap);
  UdpSocket* s = w.a.udp_bind(40000).value();
  std::vector<SocketError> errors;
  s->on_error([&](const SocketError& e) { errors.push_back(e); });
  (void)s->send_to(ep("10.0.0.2:4444"), bytes("hello"));
  w.net.run();
  pcap.close();

  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].remote, ep("10.0.0.2:4444"));
  EXPECT_EQ(errors[0].reporter, testing::ip("10.0.0.2"));
  EXPECT_EQ(errors[0].type, icmp::dest_unreachable);
  EXPECT_EQ(errors[0].code, icmp::port_unreachable);
  EXPECT_EQ(errors[0].at, at(milliseconds(6)));  // there and back
  EXPECT_EQ(s->errors(), 1u);
  EXPECT_EQ(w.b.icmp_errors_sent(), 1u);
  EXPECT_EQ(w.b.counters().drops(DropReason::port_unreachable), 1u);

  const auto bytes = read_file(path);  // the parsed records view it
  auto file = parse_pcap(bytes);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->records.size(), 2u);  // the datagram out, the ICMP error in
  EXPECT_EQ(file->records[1].t_ns, 6'000'000);
  auto icmp_packet = parse_ip_packet(file->records[1].data);
  ASSERT_TRUE(icmp_packet) << to_string(icmp_packet.error());
  EXPECT_EQ(icmp_packet->proto, IpProto::icmp);
  EXPECT_EQ(icmp_packet->icmp.type, 3);
  EXPECT_EQ(icmp_packet->icmp.code, 3);
  EXPECT_EQ(icmp_packet->src.address, testing::ip("10.0.0.2"));
  EXPECT_EQ(icmp_packet->payload.size(), kIpv4HeaderSize + kIcmpQuotedData);
  // The quote is the original's first 28 bytes as they were on the wire.
  const auto& original = file->records[0].data;
  ASSERT_GE(original.size(), 28u);
  EXPECT_TRUE(
      std::equal(icmp_packet->payload.begin(), icmp_packet->payload.end(), original.begin()));
  auto q = parse_icmp_quote(icmp_packet->payload);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, ep("10.0.0.1:40000"));
  EXPECT_EQ(q->dst, ep("10.0.0.2:4444"));
  EXPECT_EQ(q->proto, IpProto::udp);
}

TEST(Icmp, ClosedPortsStaySilentByDefault) {
  testing::Pair w;
  UdpSocket* s = w.a.udp_bind(40000).value();
  int errors = 0;
  s->on_error([&](const SocketError&) { ++errors; });
  (void)s->send_to(ep("10.0.0.2:4444"), bytes("hello"));
  w.net.run();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(w.b.icmp_errors_sent(), 0u);
  EXPECT_EQ(w.net.counters().sent, 1u);
}

// RFC 791 §3.1: a fragment is not a whole datagram. A crafted non-first fragment whose
// data happens to look like a UDP header must not parse as one; nor does a first one
// (MF set), whose UDP length and checksum cover bytes that are not there.
TEST(IpWire, FragmentsAreUnsupported) {
  PacketPool pool;
  auto p = pool.acquire();
  p->src = ep("10.0.0.1:5000");
  p->dst = ep("10.0.0.2:7");
  p->assign(bytes("fragment"));
  std::vector<std::uint8_t> out(p->wire_size());
  encode_ip_packet(*p, out);
  ASSERT_TRUE(parse_ip_packet(out));  // DF alone (0x4000) is a whole datagram
  for (const std::uint16_t flags : {0x2000, 0x0001, 0x1fff, 0x4001}) {
    SCOPED_TRACE(flags);
    std::vector<std::uint8_t> f = out;
    f[6] = static_cast<std::uint8_t>(flags >> 8);
    f[7] = static_cast<std::uint8_t>(flags);
    f[10] = f[11] = 0;
    const std::uint16_t c = checksum_finish(checksum_add(0, ByteView(f.data(), 20)));
    f[10] = static_cast<std::uint8_t>(c >> 8);
    f[11] = static_cast<std::uint8_t>(c);
    auto r = parse_ip_packet(f);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), IpParseError::unsupported_protocol);
  }
}

TEST(Icmp, QuotesThatDoNotParseAreErrorsNotCrashes) {
  std::vector<std::uint8_t> q(28, 0);
  EXPECT_FALSE(parse_icmp_quote(ByteView(q.data(), 10)));
  EXPECT_FALSE(parse_icmp_quote(q));  // version 0
  q[0] = 0x4f;                        // IHL 60 bytes: longer than the quote
  EXPECT_FALSE(parse_icmp_quote(q));
  // An ICMP message shorter than its header.
  PacketPool pool;
  auto p = pool.acquire();
  p->proto = IpProto::icmp;
  p->src = ep("10.0.0.1:0");
  p->dst = ep("10.0.0.2:0");
  std::vector<std::uint8_t> out(p->wire_size());
  encode_ip_packet(*p, out);
  auto ok = parse_ip_packet(out);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->payload.size(), 0u);
  out[2] = 0;
  out[3] = 24;  // total length cuts the ICMP header
  out[10] = out[11] = 0;
  const std::uint16_t c = checksum_finish(checksum_add(0, ByteView(out.data(), 20)));
  out[10] = static_cast<std::uint8_t>(c >> 8);
  out[11] = static_cast<std::uint8_t>(c);
  auto bad = parse_ip_packet(ByteView(out.data(), 24));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), IpParseError::bad_icmp);
}

}  // namespace
}  // namespace natsim::sim
