// The SHA_CTX API is deprecated in OpenSSL 3 but still the same block functions; see
// Sha1Hmac below for why HMAC-SHA1 uses it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "natsim/traversal/stun_crypto.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

namespace natsim::traversal::stun {

namespace {

// OpenSSL 3 looks an algorithm up by name, under a global lock, whenever a call names it
// implicitly (EVP_sha1() and friends): fetch each digest once instead.
const EVP_MD* fetch_once(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) throw std::runtime_error(std::string("OpenSSL has no ") + name);
  return md;
}
const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetch_once("SHA256");
  return md;
}
const EVP_MD* md5_md() {
  static const EVP_MD* md = fetch_once("MD5");
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

MdCtx new_ctx() {
  MdCtx c(EVP_MD_CTX_new());
  if (!c) throw std::bad_alloc();
  return c;
}

// RFC 2104 HMAC with the key's two padded blocks already hashed: a message then costs
// its own blocks plus one for the outer hash. A run uses a handful of keys (each ICE
// agent's password, each TURN user's long-term key, the nonce secret), so a small
// per-thread cache of keyed states serves nearly every call.
class HmacCache {
 public:
  template <std::size_t N>
  std::array<std::uint8_t, N> mac(const EVP_MD* md, ByteView key, ByteView data) {
    const Keyed& k = keyed(md, key);
    std::array<std::uint8_t, N> inner{};
    std::array<std::uint8_t, N> out{};
    EVP_MD_CTX_copy_ex(work_.get(), k.inner.get());
    EVP_DigestUpdate(work_.get(), data.data(), data.size());
    EVP_DigestFinal_ex(work_.get(), inner.data(), nullptr);
    EVP_MD_CTX_copy_ex(work_.get(), k.outer.get());
    EVP_DigestUpdate(work_.get(), inner.data(), inner.size());
    EVP_DigestFinal_ex(work_.get(), out.data(), nullptr);
    return out;
  }

  void digest(const EVP_MD* md, ByteView data, std::uint8_t* out) {
    EVP_DigestInit_ex2(work_.get(), md, nullptr);
    EVP_DigestUpdate(work_.get(), data.data(), data.size());
    EVP_DigestFinal_ex(work_.get(), out, nullptr);
  }

 private:
  static constexpr std::size_t kBlock = 64;  // SHA-1, SHA-256 and MD5 alike
  static constexpr std::size_t kEntries = 8;

  struct Keyed {
    const EVP_MD* md = nullptr;
    std::vector<std::uint8_t> key;
    MdCtx inner;
    MdCtx outer;
  };

  const Keyed& keyed(const EVP_MD* md, ByteView key) {
    for (const Keyed& k : entries_) {
      if (k.md == md && std::ranges::equal(k.key, key)) return k;
    }
    Keyed& k = entries_[next_];
    next_ = (next_ + 1) % kEntries;
    k.md = md;
    k.key.assign(key.begin(), key.end());
    // A key longer than a block is replaced by its hash (RFC 2104 §2).
    std::array<std::uint8_t, kBlock> block{};
    if (key.size() > kBlock) {
      digest(md, key, block.data());
    } else {
      std::ranges::copy(key, block.begin());
    }
    k.inner = pad(md, block, 0x36);
    k.outer = pad(md, block, 0x5c);
    return k;
  }

  static MdCtx pad(const EVP_MD* md, std::array<std::uint8_t, kBlock> block, std::uint8_t with) {
    for (std::uint8_t& b : block)
      b ^= with;
    MdCtx c = new_ctx();
    EVP_DigestInit_ex2(c.get(), md, nullptr);
    EVP_DigestUpdate(c.get(), block.data(), block.size());
    return c;
  }

  std::array<Keyed, kEntries> entries_;
  std::size_t next_ = 0;
  MdCtx work_ = new_ctx();
};

HmacCache& cache() {
  thread_local HmacCache c;
  return c;
}

// HMAC-SHA1 (RFC 2104), the MESSAGE-INTEGRITY of every ICE check and its response, from
// cached keyed states as above but in plain SHA_CTX structs: EVP_MD_CTX_copy_ex in
// OpenSSL 3 duplicates the provider's context (an allocation, a free and a cleanse per
// copy, two copies per HMAC), which cost as much as the hashing of a short message.
class Sha1Hmac {
 public:
  Sha1Digest mac(ByteView key, ByteView data) {
    const Keyed& k = keyed(key);
    Sha1Digest inner{};
    Sha1Digest out{};
    SHA_CTX c = k.inner;
    SHA1_Update(&c, data.data(), data.size());
    SHA1_Final(inner.data(), &c);
    c = k.outer;
    SHA1_Update(&c, inner.data(), inner.size());
    SHA1_Final(out.data(), &c);
    return out;
  }

 private:
  static constexpr std::size_t kBlock = 64;
  static constexpr std::size_t kEntries = 8;

  struct Keyed {
    bool used = false;
    std::vector<std::uint8_t> key;
    SHA_CTX inner;
    SHA_CTX outer;
  };

  const Keyed& keyed(ByteView key) {
    for (const Keyed& k : entries_) {
      if (k.used && std::ranges::equal(k.key, key)) return k;
    }
    Keyed& k = entries_[next_];
    next_ = (next_ + 1) % kEntries;
    k.used = true;
    k.key.assign(key.begin(), key.end());
    // A key longer than a block is replaced by its hash (RFC 2104 §2).
    std::array<std::uint8_t, kBlock> block{};
    if (key.size() > kBlock) {
      SHA1(key.data(), key.size(), block.data());
    } else {
      std::ranges::copy(key, block.begin());
    }
    pad(k.inner, block, 0x36);
    pad(k.outer, block, 0x5c);
    return k;
  }

  static void pad(SHA_CTX& c, std::array<std::uint8_t, kBlock> block, std::uint8_t with) {
    for (std::uint8_t& b : block)
      b ^= with;
    SHA1_Init(&c);
    SHA1_Update(&c, block.data(), block.size());
  }

  std::array<Keyed, kEntries> entries_{};
  std::size_t next_ = 0;
};

// CRC-32 (ISO-HDLC, reflected, polynomial 0xEDB88320) eight bytes a step ("slicing by
// 8"): FINGERPRINT is on every STUN message, and the byte-at-a-time table was 3% of a
// connect.
using CrcTables = std::array<std::array<std::uint32_t, 256>, 8>;
constexpr CrcTables make_crc_tables() {
  CrcTables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t i = 0; i < 256; ++i) {
    for (std::size_t s = 1; s < 8; ++s)
      t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  }
  return t;
}
constexpr CrcTables kCrc = make_crc_tables();

std::uint32_t crc32(ByteView data) {
  std::uint32_t c = 0xFFFFFFFFu;
  const std::uint8_t* p = data.data();
  std::size_t n = data.size();
  // Words are assembled from bytes: the same result on any host byte order.
  for (; n >= 8; p += 8, n -= 8) {
    const std::uint32_t one = c ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 |
                                   std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24);
    c = kCrc[7][one & 0xFFu] ^ kCrc[6][(one >> 8) & 0xFFu] ^ kCrc[5][(one >> 16) & 0xFFu] ^
        kCrc[4][one >> 24] ^ kCrc[3][p[4]] ^ kCrc[2][p[5]] ^ kCrc[1][p[6]] ^ kCrc[0][p[7]];
  }
  for (; n != 0; ++p, --n)
    c = kCrc[0][(c ^ *p) & 0xFFu] ^ (c >> 8);
  return ~c;
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, ByteView data) {
  std::array<std::uint8_t, N> out{};
  cache().digest(md, data, out.data());
  return out;
}

}  // namespace

Sha1Digest hmac_sha1(ByteView key, ByteView data) {
  thread_local Sha1Hmac h;
  return h.mac(key, data);
}
Sha256Digest hmac_sha256(ByteView key, ByteView data) {
  return cache().mac<32>(sha256_md(), key, data);
}
std::array<std::uint8_t, 16> md5(ByteView data) {
  return digest<16>(md5_md(), data);
}
Sha256Digest sha256(ByteView data) {
  return digest<32>(sha256_md(), data);
}

// RFC 8489 §14.7: the CRC-32 of the message up to the attribute, XOR 0x5354554e.
std::uint32_t fingerprint(ByteView data) {
  return crc32(data) ^ kFingerprintXor;
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
