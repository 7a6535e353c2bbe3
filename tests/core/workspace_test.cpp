#include "sse/core/workspace.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace sse::test {
namespace {

TEST(ScratchArena, MeasuresWhatItCarves) {
  ScratchArena measure;
  EXPECT_EQ(measure.take<float>(3), nullptr);
  measure.take<double>(17);
  const std::size_t bytes = measure.used();
  EXPECT_EQ(bytes, 64u + 192u);

  std::vector<std::byte> memory(bytes + kScratchAlignment);
  auto* base =
      memory.data() +
      (kScratchAlignment - reinterpret_cast<std::uintptr_t>(memory.data()) % kScratchAlignment) %
          kScratchAlignment;
  ScratchArena arena(base, bytes);
  float* a = arena.take<float>(3);
  double* b = arena.take<double>(17);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % kScratchAlignment, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b) % kScratchAlignment, 0u);
  EXPECT_EQ(arena.used(), bytes);
  EXPECT_LE(reinterpret_cast<std::byte*>(b + 17), base + bytes);
}

TEST(WorkerScratch, UsesTheCallersMemoryWhenLargeEnough) {
  const std::size_t slice = 1000;
  std::vector<std::byte> memory(detail::WorkerScratch::required_bytes(3, slice));
  const detail::WorkerScratch scratch(Workspace(memory.data(), memory.size()), 3, slice);
  for (std::size_t w = 0; w < 3; ++w) {
    ScratchArena arena = scratch.arena(w);
    auto* p = arena.take<std::byte>(slice);
    EXPECT_GE(p, memory.data());
    EXPECT_LE(p + slice, memory.data() + memory.size());
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kScratchAlignment, 0u);
  }
  // Slices do not overlap.
  EXPECT_GE(scratch.arena(1).take<std::byte>(1) - scratch.arena(0).take<std::byte>(1),
            std::ptrdiff_t(slice));
}

TEST(WorkerScratch, AllocatesWhenNoWorkspaceIsGiven) {
  const detail::WorkerScratch scratch(Workspace{}, 2, 100);
  ScratchArena arena = scratch.arena(1);
  EXPECT_NE(arena.take<float>(25), nullptr);
}

}  // namespace
}  // namespace sse::test
