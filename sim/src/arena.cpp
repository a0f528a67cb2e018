#include "natsim/sim/arena.hpp"

#include "natsim/sim/memory_reuse.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

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

// Mapped chunks of worlds torn down, for the next world to build in: its pages are then
// already faulted in, as a heap's would be. Capped, so memory goes back to the system
// beyond what one mid-sized world needs.
class SpareChunks {
 public:
  static SpareChunks& instance() {
    // Never destroyed: a world in a static may be torn down after any other static.
    static auto* spare = new SpareChunks;
    return *spare;
  }
  // The chunk of exactly `size` bytes kept last (the warmest), or nullptr.
  void* take(std::size_t size) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = chunks_.size(); i-- > 0;) {
      if (chunks_[i].second != size) continue;
      void* chunk = chunks_[i].first;
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(i));
      kept_ -= size;
      return chunk;
    }
    return nullptr;
  }
  void give(void* chunk, std::size_t size) {
    {
      std::lock_guard lock(mutex_);
      if (kReuseWorldMemory && kept_ + size <= kKeep) {
        chunks_.emplace_back(chunk, size);
        kept_ += size;
        return;
      }
    }
    ::munmap(chunk, size);
  }
  SpareChunks(const SpareChunks&) = delete;
  SpareChunks& operator=(const SpareChunks&) = delete;

 private:
  SpareChunks() = default;
  static constexpr std::size_t kKeep = std::size_t{256} << 20;
  std::mutex mutex_;
  std::vector<std::pair<void*, std::size_t>> chunks_;
  std::size_t kept_ = 0;
};

}  // namespace

Arena::~Arena() {
  while (last_ != nullptr) {
    Chunk* chunk = last_;
    last_ = chunk->previous;
    if (chunk->mapped) {
      SpareChunks::instance().give(chunk, chunk->size);
    } else {
      ::operator delete(chunk);
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
    memory = SpareChunks::instance().take(size);
    if (memory == nullptr) memory = map_huge(size);
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
