#include "natsim/traversal/stun_crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/crc.hpp>
#include <string>

namespace natsim::traversal::stun {

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> hmac(const EVP_MD* md, ByteView key, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  return out;
}

}  // namespace

Sha1Digest hmac_sha1(ByteView key, ByteView data) {
  return hmac<20>(EVP_sha1(), key, data);
}
Sha256Digest hmac_sha256(ByteView key, ByteView data) {
  return hmac<32>(EVP_sha256(), key, data);
}
std::array<std::uint8_t, 16> md5(ByteView data) {
  return digest<16>(EVP_md5(), data);
}
Sha256Digest sha256(ByteView data) {
  return digest<32>(EVP_sha256(), data);
}

std::uint32_t fingerprint(ByteView data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum() ^ kFingerprintXor;
}

std::vector<std::uint8_t> long_term_key(std::string_view username, std::string_view realm,
                                        std::string_view password, PasswordAlgorithm algorithm) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  if (algorithm == PasswordAlgorithm::sha256) {
    const auto d = sha256(as_bytes(input));
    return {d.begin(), d.end()};
  }
  const auto d = md5(as_bytes(input));
  return {d.begin(), d.end()};
}

Sha256Digest userhash(std::string_view username, std::string_view realm) {
  std::string input;
  input.append(username).append(":").append(realm);
  return sha256(as_bytes(input));
}

}  // namespace natsim::traversal::stun
