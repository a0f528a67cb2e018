#pragma once
// The byte queues of one TCP connection. Both are rings allocated once, when the
// connection is made: moving segments through them never allocates.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "natsim/base/bytes.hpp"

namespace natsim::sim {

// RFC 9293 §3.4: sequence numbers are compared modulo 2^32.
[[nodiscard]] inline bool seq_lt(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}
[[nodiscard]] inline bool seq_le(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) <= 0;
}
[[nodiscard]] inline bool seq_gt(std::uint32_t a, std::uint32_t b) {
  return seq_lt(b, a);
}
[[nodiscard]] inline bool seq_ge(std::uint32_t a, std::uint32_t b) {
  return seq_le(b, a);
}

// Bytes written by the application and not yet acknowledged, oldest first.
class TcpSendBuffer {
 public:
  explicit TcpSendBuffer(std::size_t capacity) : ring_(capacity) {}

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t space() const { return ring_.size() - size_; }
  [[nodiscard]] std::size_t capacity() const { return ring_.size(); }

  std::size_t push(ByteView data) {
    const std::size_t n = std::min(data.size(), space());
    std::size_t at = (head_ + size_) % ring_.size();
    for (std::size_t done = 0; done < n;) {
      const std::size_t chunk = std::min(n - done, ring_.size() - at);
      std::memcpy(ring_.data() + at, data.data() + done, chunk);
      done += chunk;
      at = 0;
    }
    size_ += n;
    return n;
  }
  void pop(std::size_t n) {
    n = std::min(n, size_);
    head_ = (head_ + n) % ring_.size();
    size_ -= n;
  }
  // Copies `out.size()` bytes starting `offset` bytes past the oldest one.
  void copy_out(std::size_t offset, MutableByteView out) const {
    std::size_t at = (head_ + offset) % ring_.size();
    for (std::size_t done = 0; done < out.size();) {
      const std::size_t chunk = std::min(out.size() - done, ring_.size() - at);
      std::memcpy(out.data() + done, ring_.data() + at, chunk);
      done += chunk;
      at = 0;
    }
  }

 private:
  std::vector<std::uint8_t> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// Received bytes: the in-order ones the application has not read yet, followed by the
// window, in which out-of-order segments are kept until the gap before them fills.
class TcpReceiveBuffer {
 public:
  static constexpr std::size_t kMaxHoles = 16;  // out-of-order ranges kept at once

  explicit TcpReceiveBuffer(std::size_t capacity) : ring_(capacity) {}

  void reset(std::uint32_t next) {
    read_seq_ = next;
    next_ = next;
    head_ = 0;
    ranges_count_ = 0;
  }
  [[nodiscard]] std::uint32_t next() const { return next_; }  // RCV.NXT
  [[nodiscard]] std::size_t readable() const { return next_ - read_seq_; }
  [[nodiscard]] std::size_t window() const { return ring_.size() - readable(); }
  [[nodiscard]] std::size_t capacity() const { return ring_.size(); }
  [[nodiscard]] bool has_out_of_order() const { return ranges_count_ != 0; }

  // Stores `data` starting at `seq`, which the caller has trimmed into
  // [RCV.NXT, RCV.NXT + window). False if it could not be kept (too many holes).
  bool insert(std::uint32_t seq, ByteView data) {
    if (data.empty()) return true;
    const std::uint32_t end = seq + static_cast<std::uint32_t>(data.size());
    if (seq != next_ && !remember(seq, end)) return false;
    std::size_t at = (head_ + (seq - read_seq_)) % ring_.size();
    for (std::size_t done = 0; done < data.size();) {
      const std::size_t chunk = std::min(data.size() - done, ring_.size() - at);
      std::memcpy(ring_.data() + at, data.data() + done, chunk);
      done += chunk;
      at = 0;
    }
    if (seq == next_) {
      next_ = end;
      // Ranges the new bytes reached join the in-order part (repeat: one may reach
      // the next).
      for (bool merged = true; merged;) {
        merged = false;
        std::size_t keep = 0;
        for (std::size_t i = 0; i < ranges_count_; ++i) {
          if (seq_le(ranges_[i].first, next_)) {
            if (seq_gt(ranges_[i].second, next_)) next_ = ranges_[i].second;
            merged = true;
          } else {
            ranges_[keep++] = ranges_[i];
          }
        }
        ranges_count_ = keep;
      }
    }
    return true;
  }
  // The readable bytes as at most two contiguous pieces (the ring may wrap).
  [[nodiscard]] std::array<ByteView, 2> peek() const {
    const std::size_t n = readable();
    const std::size_t first = std::min(n, ring_.size() - head_);
    return {ByteView(ring_.data() + head_, first), ByteView(ring_.data(), n - first)};
  }
  void consume(std::size_t n) {
    n = std::min(n, readable());
    head_ = (head_ + n) % ring_.size();
    read_seq_ += static_cast<std::uint32_t>(n);
  }

 private:
  // Records [seq, end) as held out of order, merging with ranges it touches.
  bool remember(std::uint32_t seq, std::uint32_t end) {
    for (std::size_t i = 0; i < ranges_count_; ++i) {
      auto& r = ranges_[i];
      if (seq_le(seq, r.second) && seq_ge(end, r.first)) {
        if (seq_lt(seq, r.first)) r.first = seq;
        if (seq_gt(end, r.second)) r.second = end;
        return true;  // a range may now touch another; they merge when next_ reaches them
      }
    }
    if (ranges_count_ == kMaxHoles) return false;
    ranges_[ranges_count_++] = {seq, end};
    return true;
  }

  std::vector<std::uint8_t> ring_;
  std::size_t head_ = 0;        // ring index of read_seq_
  std::uint32_t read_seq_ = 0;  // first byte the application has not read
  std::uint32_t next_ = 0;      // RCV.NXT
  std::array<std::pair<std::uint32_t, std::uint32_t>, kMaxHoles> ranges_{};
  std::size_t ranges_count_ = 0;
};

}  // namespace natsim::sim
