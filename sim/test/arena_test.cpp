#include "natsim/sim/arena.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "natsim/sim/memory_reuse.hpp"

namespace natsim::sim {
namespace {

struct Counted {
  explicit Counted(int* live) : live_(live) { ++*live_; }
  ~Counted() { --*live_; }
  int* live_;
  alignas(32) char payload[40] = {};
};

TEST(Arena, AlignsEveryObjectAndRunsDestructors) {
  int live = 0;
  {
    Arena arena;
    std::vector<ArenaPtr<Counted>> objects;
    for (int i = 0; i < 1000; ++i) {
      objects.push_back(make_in<Counted>(arena, &live));
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(objects.back().get()) % alignof(Counted), 0u);
    }
    EXPECT_EQ(live, 1000);
    objects.resize(10);  // destroyed early: only their destructors run
    EXPECT_EQ(live, 10);
  }
  EXPECT_EQ(live, 0);
}

TEST(Arena, GrowsFromSmallChunksToLargeMappedOnes) {
  Arena arena;
  (void)arena.allocate(8, 8);
  EXPECT_EQ(arena.reserved(), 4096u);  // a small world takes one small chunk
  EXPECT_EQ(arena.mapped(), 0u);
  // 64 MB in 1 KB pieces: every byte writable, no piece overlapping the next.
  std::vector<char*> pieces;
  for (int i = 0; i < 65536; ++i) {
    auto* p = static_cast<char*>(arena.allocate(1024, 16));
    std::memset(p, i & 0xff, 1024);
    pieces.push_back(p);
  }
  for (std::size_t i = 0; i < pieces.size(); i += 997) {
    EXPECT_EQ(static_cast<unsigned char>(pieces[i][0]), i & 0xff);
    EXPECT_EQ(static_cast<unsigned char>(pieces[i][1023]), i & 0xff);
  }
  EXPECT_GE(arena.reserved(), std::size_t{64} << 20);
  EXPECT_LT(arena.reserved(), std::size_t{128} << 20);
  EXPECT_GT(arena.mapped(), std::size_t{32} << 20);  // chunks of 2 MB and up
  // One piece larger than any chunk so far gets a chunk large enough for it.
  auto* big = static_cast<char*>(arena.allocate(std::size_t{40} << 20, 64));
  big[0] = 1;
  big[(std::size_t{40} << 20) - 1] = 2;
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(big) % 64, 0u);
}

// A world torn down leaves its mapped chunks to the next: the same pieces land at the same
// addresses, in memory already faulted in.
TEST(Arena, NextArenaBuildsInTheMappedChunksOfTheLast) {
  if (!kReuseWorldMemory) GTEST_SKIP() << "no reuse under AddressSanitizer";
  auto fill = [](Arena& arena) {
    std::vector<void*> pieces;
    for (int i = 0; i < 6 * 1024; ++i)  // 6 MB: the heap chunks up to 1 MB, then mapped ones
      pieces.push_back(arena.allocate(1024, 16));
    return pieces;
  };
  std::vector<void*> first;
  std::size_t mapped = 0;
  {
    Arena arena;
    first = fill(arena);
    mapped = arena.mapped();
  }
  ASSERT_GT(mapped, 0u);
  Arena again;
  const std::vector<void*> second = fill(again);
  EXPECT_EQ(again.mapped(), mapped);
  EXPECT_EQ(second.back(), first.back());  // the last piece is in a mapped chunk
}

}  // namespace
}  // namespace natsim::sim
