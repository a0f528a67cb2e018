#include "natsim/traversal/stun_message.hpp"

#include <boost/container/small_vector.hpp>
#include <cstring>

#include "natsim/traversal/stun_crypto.hpp"
#include "natsim/traversal/wire.hpp"

namespace natsim::traversal::stun {

using wire::get16;
using wire::get32;
using wire::put16;
using wire::put32;

namespace {

constexpr std::uint8_t kFamilyV4 = 0x01;  // RFC 8489 §14.1
constexpr std::uint8_t kFamilyV6 = 0x02;

std::size_t padded(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}

// Walks attributes in order, applying RFC 8489 §14.5/§14.6: after MESSAGE-INTEGRITY only
// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after MESSAGE-INTEGRITY-SHA256 only
// FINGERPRINT. `visit` returns false to stop.
template <class Visit>
void walk(ByteView m, Visit visit) {
  std::size_t pos = kHeaderSize;
  int integrity = 0;  // 0 none yet, 1 after MI, 2 after MI-SHA256
  while (pos + 4 <= m.size()) {
    const std::uint16_t type = get16(m.data() + pos);
    const std::uint16_t length = get16(m.data() + pos + 2);
    const Attribute a{type, m.subspan(pos + 4, length), pos};
    pos += 4 + padded(length);
    const bool counts =
        integrity == 0 ||
        (integrity == 1 && (type == attr::message_integrity_sha256 || type == attr::fingerprint)) ||
        (integrity == 2 && type == attr::fingerprint);
    if (type == attr::message_integrity && integrity == 0) integrity = 1;
    if (type == attr::message_integrity_sha256 && integrity < 2) integrity = 2;
    if (counts && !visit(a)) return;
  }
}

// The HMAC input: the message up to an integrity attribute, with the length field
// covering up to and including that attribute (RFC 8489 §14.5).
template <class Mac>
auto integrity_over(ByteView m, const Attribute& a, Mac mac, ByteView key) {
  boost::container::small_vector<std::uint8_t, 1500> input(
      m.begin(), m.begin() + static_cast<std::ptrdiff_t>(a.offset));
  put16(input.data() + 2, static_cast<std::uint16_t>(a.offset + 4 + a.value.size() - kHeaderSize));
  return mac(key, ByteView(input.data(), input.size()));
}

}  // namespace

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::too_short:
      return "shorter than a STUN header";
    case ParseError::not_stun:
      return "not a STUN message";
    case ParseError::bad_length:
      return "length field does not match the datagram";
    case ParseError::bad_attribute:
      return "attribute runs past the message";
    case ParseError::after_fingerprint:
      return "attribute after FINGERPRINT";
  }
  return "?";
}

bool Message::looks_like_stun(ByteView d) {
  return d.size() >= kHeaderSize && (d[0] & 0xC0) == 0 &&
         std::size_t{get16(d.data() + 2)} + kHeaderSize == d.size();
}

boost::system::result<Message, ParseError> Message::parse(ByteView d) {
  if (d.size() < kHeaderSize) return ParseError::too_short;
  if ((d[0] & 0xC0) != 0) return ParseError::not_stun;
  const std::size_t length = get16(d.data() + 2);
  if (length % 4 != 0 || length + kHeaderSize != d.size()) return ParseError::bad_length;
  // Framing: every attribute (with padding) inside the message, nothing after FINGERPRINT.
  bool fingerprint_seen = false;
  for (std::size_t pos = kHeaderSize; pos < d.size();) {
    if (d.size() - pos < 4) return ParseError::bad_attribute;
    const std::uint16_t type = get16(d.data() + pos);
    const std::size_t value = get16(d.data() + pos + 2);
    if (padded(value) > d.size() - pos - 4) return ParseError::bad_attribute;
    if (fingerprint_seen) return ParseError::after_fingerprint;
    if (type == attr::fingerprint) fingerprint_seen = true;
    pos += 4 + padded(value);
  }
  Message m;
  m.bytes_ = d;
  const std::uint16_t type = get16(d.data());
  m.method_ =
      static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
  m.class_ = static_cast<Class>(((type >> 4) & 1) | ((type >> 7) & 2));
  m.cookie_ = get32(d.data() + 4);
  std::memcpy(m.tid_.data(), d.data() + 8, kTransactionIdSize);
  return m;
}

std::vector<Attribute> Message::attributes() const {
  std::vector<Attribute> out;
  walk(bytes_, [&](const Attribute& a) {
    out.push_back(a);
    return true;
  });
  return out;
}

std::optional<Attribute> Message::find(std::uint16_t type) const {
  std::optional<Attribute> found;
  walk(bytes_, [&](const Attribute& a) {
    if (a.type == type) found = a;
    return !found;
  });
  return found;
}

std::optional<Endpoint> Message::address(std::uint16_t type) const {
  auto a = find(type);
  if (!a || a->value.size() < 4) return std::nullopt;
  const ByteView v = a->value;
  const std::uint16_t port = get16(v.data() + 2);
  if (v[1] == kFamilyV4 && v.size() == 8) return Endpoint{IpAddress::v4(get32(v.data() + 4)), port};
  if (v[1] == kFamilyV6 && v.size() == 20) {
    IpAddress::Bytes16 b{};
    std::memcpy(b.data(), v.data() + 4, 16);
    return Endpoint{IpAddress::v6(b), port};
  }
  return std::nullopt;
}

std::optional<Endpoint> Message::xor_address(std::uint16_t type) const {
  auto e = address(type);
  if (!e) return std::nullopt;
  // RFC 8489 §14.2: port XOR the cookie's top 16 bits; address XOR cookie (+ tid for v6).
  e->port ^= static_cast<std::uint16_t>(kMagicCookie >> 16);
  IpAddress::Bytes16 b = e->address.bytes();
  std::uint8_t mask[16];
  put32(mask, kMagicCookie);
  std::memcpy(mask + 4, tid_.data(), kTransactionIdSize);
  for (std::size_t i = 0; i < e->address.size(); ++i)
    b[i] ^= mask[i];
  e->address = e->address.is_v4() ? IpAddress::v4(b[0], b[1], b[2], b[3]) : IpAddress::v6(b);
  return e;
}

std::optional<Endpoint> Message::mapped_address() const {
  if (auto x = xor_address(attr::xor_mapped_address)) return x;
  return address(attr::mapped_address);
}

std::optional<ErrorCodeValue> Message::error_code() const {
  auto a = find(attr::error_code);
  if (!a || a->value.size() < 4) return std::nullopt;
  const std::uint8_t cls = a->value[2] & 0x07;
  const std::uint8_t number = a->value[3];
  if (cls < 3 || cls > 6 || number > 99) return std::nullopt;
  const ByteView reason = a->value.subspan(4);
  return ErrorCodeValue{
      static_cast<std::uint16_t>(cls * 100 + number),
      std::string_view(reinterpret_cast<const char*>(reason.data()), reason.size())};
}

std::optional<std::uint32_t> Message::u32(std::uint16_t type) const {
  auto a = find(type);
  if (!a || a->value.size() != 4) return std::nullopt;
  return get32(a->value.data());
}

std::optional<std::uint64_t> Message::u64(std::uint16_t type) const {
  auto a = find(type);
  if (!a || a->value.size() != 8) return std::nullopt;
  return (std::uint64_t{get32(a->value.data())} << 32) | get32(a->value.data() + 4);
}

std::optional<std::uint16_t> Message::response_port() const {
  auto a = find(attr::response_port);
  if (!a || a->value.size() != 4) return std::nullopt;
  return get16(a->value.data());
}

std::optional<bool> Message::even_port() const {
  auto a = find(attr::even_port);
  if (!a || a->value.empty()) return std::nullopt;
  return (a->value[0] & 0x80) != 0;
}

std::optional<std::uint8_t> Message::requested_address_family() const {
  auto a = find(attr::requested_address_family);
  if (!a || a->value.empty()) return std::nullopt;
  return a->value[0];
}

std::optional<std::vector<PasswordAlgorithmEntry>> Message::password_algorithms() const {
  auto a = find(attr::password_algorithms);
  if (!a) return std::nullopt;
  std::vector<PasswordAlgorithmEntry> out;
  const ByteView v = a->value;
  for (std::size_t pos = 0; pos < v.size();) {
    if (v.size() - pos < 4) return std::nullopt;
    const std::uint16_t algorithm = get16(v.data() + pos);
    const std::size_t length = get16(v.data() + pos + 2);
    if (padded(length) > v.size() - pos - 4) return std::nullopt;
    out.push_back({algorithm, v.subspan(pos + 4, length)});
    pos += 4 + padded(length);
  }
  return out;
}

std::optional<std::uint16_t> Message::password_algorithm() const {
  auto a = find(attr::password_algorithm);
  if (!a || a->value.size() < 4) return std::nullopt;
  return get16(a->value.data());
}

std::optional<std::string_view> Message::text(std::uint16_t type) const {
  auto a = find(type);
  if (!a) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(a->value.data()), a->value.size());
}

std::optional<std::pair<bool, bool>> Message::change_request() const {
  auto v = u32(attr::change_request);
  if (!v) return std::nullopt;
  return std::pair{(*v & 0x4) != 0, (*v & 0x2) != 0};  // RFC 5780 §7.2: A = IP, B = port
}

std::vector<std::uint16_t> Message::unknown_attributes_value() const {
  std::vector<std::uint16_t> out;
  if (auto a = find(attr::unknown_attributes)) {
    for (std::size_t i = 0; i + 2 <= a->value.size(); i += 2)
      out.push_back(get16(a->value.data() + i));
  }
  return out;
}

std::vector<std::uint16_t> Message::unknown_required() const {
  std::vector<std::uint16_t> out;
  walk(bytes_, [&](const Attribute& a) {
    if (attr::comprehension_required(a.type) && !attr::known(a.type)) out.push_back(a.type);
    return true;
  });
  return out;
}

bool Message::fingerprint_ok() const {
  auto a = find(attr::fingerprint);
  if (!a || a->value.size() != 4) return false;
  return fingerprint(bytes_.first(a->offset)) == get32(a->value.data());
}

IntegrityResult Message::check_integrity(ByteView key) const {
  if (auto a = find(attr::message_integrity_sha256)) {
    // RFC 8489 §14.6: at least 16 bytes, a multiple of 4, a prefix of the HMAC.
    const std::size_t n = a->value.size();
    if (n < 16 || n > 32 || n % 4 != 0) return IntegrityResult::mismatch;
    const auto mac = integrity_over(bytes_, *a, hmac_sha256, key);
    return std::memcmp(mac.data(), a->value.data(), n) == 0 ? IntegrityResult::ok
                                                            : IntegrityResult::mismatch;
  }
  if (auto a = find(attr::message_integrity)) {
    if (a->value.size() != 20) return IntegrityResult::mismatch;
    const auto mac = integrity_over(bytes_, *a, hmac_sha1, key);
    return std::memcmp(mac.data(), a->value.data(), 20) == 0 ? IntegrityResult::ok
                                                             : IntegrityResult::mismatch;
  }
  return IntegrityResult::absent;
}

// --- Writer

Writer::Writer(MutableByteView out, std::uint16_t method, Class cls, const TransactionId& tid,
               std::uint32_t cookie)
    : out_(out), tid_(tid) {
  if (out_.size() < kHeaderSize) {
    ok_ = false;
    return;
  }
  put16(out_.data(), message_type(method, cls));
  put16(out_.data() + 2, 0);
  put32(out_.data() + 4, cookie);
  std::memcpy(out_.data() + 8, tid.data(), kTransactionIdSize);
  size_ = kHeaderSize;
}

void Writer::set_length(std::size_t body) {
  put16(out_.data() + 2, static_cast<std::uint16_t>(body));
}

std::uint8_t* Writer::reserve(std::uint16_t type, std::size_t length) {
  const std::size_t total = 4 + padded(length);
  if (!ok_ || length > 0xffff || out_.size() - size_ < total ||
      size_ + total - kHeaderSize > 0xffff) {
    ok_ = false;
    return nullptr;
  }
  std::uint8_t* p = out_.data() + size_;
  put16(p, type);
  put16(p + 2, static_cast<std::uint16_t>(length));
  std::memset(p + 4 + length, padding_, padded(length) - length);
  size_ += total;
  set_length(size_ - kHeaderSize);
  return p + 4;
}

void Writer::add(std::uint16_t type, ByteView value) {
  if (std::uint8_t* p = reserve(type, value.size()); p != nullptr && !value.empty()) {
    std::memcpy(p, value.data(), value.size());
  }
}

void Writer::add_text(std::uint16_t type, std::string_view value) {
  add(type, as_bytes(value));
}

void Writer::add_u32(std::uint16_t type, std::uint32_t value) {
  if (std::uint8_t* p = reserve(type, 4)) put32(p, value);
}

void Writer::add_u64(std::uint16_t type, std::uint64_t value) {
  if (std::uint8_t* p = reserve(type, 8)) {
    put32(p, static_cast<std::uint32_t>(value >> 32));
    put32(p + 4, static_cast<std::uint32_t>(value));
  }
}

void Writer::add_address(std::uint16_t type, const Endpoint& e) {
  const std::size_t n = e.address.size();
  if (std::uint8_t* p = reserve(type, 4 + n)) {
    p[0] = 0;
    p[1] = e.address.is_v4() ? kFamilyV4 : kFamilyV6;
    put16(p + 2, e.port);
    std::memcpy(p + 4, e.address.bytes().data(), n);
  }
}

void Writer::add_xor_address(std::uint16_t type, const Endpoint& e) {
  const std::size_t n = e.address.size();
  if (std::uint8_t* p = reserve(type, 4 + n)) {
    std::uint8_t mask[16];
    put32(mask, kMagicCookie);
    std::memcpy(mask + 4, tid_.data(), kTransactionIdSize);
    p[0] = 0;
    p[1] = e.address.is_v4() ? kFamilyV4 : kFamilyV6;
    put16(p + 2, static_cast<std::uint16_t>(e.port ^ (kMagicCookie >> 16)));
    for (std::size_t i = 0; i < n; ++i)
      p[4 + i] = e.address.bytes()[i] ^ mask[i];
  }
}

void Writer::add_error(std::uint16_t code, std::string_view reason) {
  if (reason.empty()) reason = error::reason(code);
  if (std::uint8_t* p = reserve(attr::error_code, 4 + reason.size())) {
    p[0] = 0;
    p[1] = 0;
    p[2] = static_cast<std::uint8_t>(code / 100);
    p[3] = static_cast<std::uint8_t>(code % 100);
    std::memcpy(p + 4, reason.data(), reason.size());
  }
}

void Writer::add_unknown_attributes(const std::vector<std::uint16_t>& types) {
  if (std::uint8_t* p = reserve(attr::unknown_attributes, types.size() * 2)) {
    for (std::size_t i = 0; i < types.size(); ++i)
      put16(p + 2 * i, types[i]);
  }
}

void Writer::add_change_request(bool change_ip, bool change_port) {
  add_u32(attr::change_request, (change_ip ? 0x4u : 0u) | (change_port ? 0x2u : 0u));
}

void Writer::add_response_port(std::uint16_t port) {
  if (std::uint8_t* p = reserve(attr::response_port, 4)) {
    put16(p, port);
    put16(p + 2, 0);
  }
}

void Writer::add_zeros(std::uint16_t type, std::size_t length) {
  if (std::uint8_t* p = reserve(type, length)) std::memset(p, 0, length);
}

void Writer::add_message_integrity(ByteView key) {
  if (std::uint8_t* p = reserve(attr::message_integrity, 20)) {
    const auto mac = hmac_sha1(key, ByteView(out_.data(), size_ - 24));
    std::memcpy(p, mac.data(), mac.size());
  }
}

void Writer::add_message_integrity_sha256(ByteView key) {
  if (std::uint8_t* p = reserve(attr::message_integrity_sha256, 32)) {
    const auto mac = hmac_sha256(key, ByteView(out_.data(), size_ - 36));
    std::memcpy(p, mac.data(), mac.size());
  }
}

void Writer::add_fingerprint() {
  if (std::uint8_t* p = reserve(attr::fingerprint, 4)) {
    put32(p, fingerprint(ByteView(out_.data(), size_ - 8)));
  }
}

std::optional<ByteView> Writer::finish() const {
  if (!ok_) return std::nullopt;
  return ByteView(out_.data(), size_);
}

}  // namespace natsim::traversal::stun
