#pragma once
// A world's nodes and links live as long as the world: one bump allocator serves them all,
// so building a node is not a heap allocation, and neighbours sit next to each other.
// Chunks double from 4 KB; from 2 MB on they are mapped on their own and marked for
// transparent huge pages, because a million-host world otherwise pays a page fault per
// 4 KB, which on a virtual machine costs more than building the nodes. Mapped chunks of a
// world torn down (up to 256 MB) serve the next world, already faulted in.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace natsim::sim {

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  [[nodiscard]] void* allocate(std::size_t bytes, std::size_t align) {
    auto at = (reinterpret_cast<std::uintptr_t>(next_) + align - 1) & ~(align - 1);
    if (next_ == nullptr || at + bytes > reinterpret_cast<std::uintptr_t>(end_)) {
      grow(bytes + align);
      at = (reinterpret_cast<std::uintptr_t>(next_) + align - 1) & ~(align - 1);
    }
    next_ = reinterpret_cast<char*>(at + bytes);
    return reinterpret_cast<void*>(at);
  }

  // Bytes taken for chunks (not what was handed out); of them, mapped on their own rather
  // than from the heap (which malloc's statistics do not see).
  [[nodiscard]] std::size_t reserved() const { return reserved_; }
  [[nodiscard]] std::size_t mapped() const { return mapped_; }

 private:
  struct Chunk {
    Chunk* previous;
    std::size_t size;  // whole chunk, header included
    bool mapped;       // from mmap (else operator new)
  };
  void grow(std::size_t at_least);

  char* next_ = nullptr;
  char* end_ = nullptr;
  Chunk* last_ = nullptr;
  std::size_t next_size_ = 4096;
  std::size_t reserved_ = 0;
  std::size_t mapped_ = 0;
};

// Destroys an object built in an Arena; the arena frees the memory with the world.
struct ArenaDelete {
  template <class T>
  void operator()(T* p) const noexcept {
    p->~T();
  }
};

template <class T>
using ArenaPtr = std::unique_ptr<T, ArenaDelete>;

template <class T, class... Args>
ArenaPtr<T> make_in(Arena& arena, Args&&... args) {
  void* at = arena.allocate(sizeof(T), alignof(T));
  return ArenaPtr<T>(::new (at) T(std::forward<Args>(args)...));
}

}  // namespace natsim::sim
