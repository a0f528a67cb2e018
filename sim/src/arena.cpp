#include "natsim/sim/arena.hpp"

#include <sys/mman.h>

#include <algorithm>

namespace natsim::sim {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kLargestChunk = std::size_t{32} << 20;

// A huge-page-aligned mapping of `size` bytes (a multiple of kHugePage), or nullptr.
void* map_huge(std::size_t size) {
  // Over-map by one huge page and trim, so the chunk starts on a 2 MB boundary and the
  // kernel can back all of it with huge pages.
  const std::size_t span = size + kHugePage;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const auto aligned = (begin + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const std::uintptr_t tail = begin + span - (aligned + size);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Advice only: where transparent huge pages are off it changes nothing.
  (void)::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

Arena::~Arena() {
  while (last_ != nullptr) {
    Chunk* chunk = last_;
    last_ = chunk->previous;
    if (chunk->mapped) {
      ::munmap(chunk, chunk->size);
    } else {
      ::operator delete(chunk, chunk->size);
    }
  }
}

void Arena::grow(std::size_t at_least) {
  std::size_t size = next_size_;
  while (size < at_least + sizeof(Chunk))
    size *= 2;
  next_size_ = std::min(size * 2, kLargestChunk);
  void* memory = nullptr;
  bool mapped = false;
  if (size >= kHugePage) {
    size = (size + kHugePage - 1) & ~(kHugePage - 1);
    memory = map_huge(size);
    mapped = memory != nullptr;
  }
  if (memory == nullptr) memory = ::operator new(size);
  auto* chunk = ::new (memory) Chunk{last_, size, mapped};
  last_ = chunk;
  reserved_ += size;
  if (mapped) mapped_ += size;
  next_ = reinterpret_cast<char*>(chunk + 1);
  end_ = reinterpret_cast<char*>(chunk) + size;
}

}  // namespace natsim::sim
