#pragma once
// A byte buffer that messages are built in: like std::vector<std::uint8_t> for the calls
// the machines make (resize, data, size, a span over it), but resize() does not zero the
// bytes. Every writer fills what it hands on (header, values, padding), and a machine's
// 64 KiB scratch zeroed at every construction was a sixth of a connect's instructions.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

namespace natsim::traversal {

class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer& o) : ScratchBuffer() { *this = o; }
  ScratchBuffer(ScratchBuffer&& o) noexcept
      : bytes_(std::move(o.bytes_)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  ScratchBuffer& operator=(const ScratchBuffer& o) {
    if (this != &o) {
      resize(o.size_);
      if (o.size_ != 0) std::memcpy(bytes_.get(), o.bytes_.get(), o.size_);
    }
    return *this;
  }
  ScratchBuffer& operator=(ScratchBuffer&& o) noexcept {
    bytes_ = std::move(o.bytes_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }

  // Grows to at least `n` bytes (kept bytes keep their values, new ones are unspecified);
  // never shrinks the allocation.
  void resize(std::size_t n) {
    if (n > capacity_) {
      auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(n);
      if (size_ != 0) std::memcpy(grown.get(), bytes_.get(), size_);
      bytes_ = std::move(grown);
      capacity_ = n;
    }
    size_ = n;
  }
  [[nodiscard]] std::uint8_t* data() { return bytes_.get(); }
  [[nodiscard]] const std::uint8_t* data() const { return bytes_.get(); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::uint8_t* begin() { return bytes_.get(); }
  [[nodiscard]] std::uint8_t* end() { return bytes_.get() + size_; }
  [[nodiscard]] const std::uint8_t* begin() const { return bytes_.get(); }
  [[nodiscard]] const std::uint8_t* end() const { return bytes_.get() + size_; }

 private:
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace natsim::traversal
