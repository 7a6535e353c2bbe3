#pragma once

// Counts heap allocations by replacing the global operator new/delete of a test executable.
// Include in exactly one source file per executable (the replacement functions are not inline,
// as the standard requires). Only allocations inside a `CountAllocations` scope are counted,
// from any thread.

#include <atomic>
#include <cstdlib>
#include <new>

namespace sse::test {

inline std::atomic<bool> g_counting_allocations{false};
inline std::atomic<long> g_allocations{0};

/// Counts the allocations made while it lives: `count()`.
class CountAllocations {
 public:
  CountAllocations() noexcept {
    g_allocations = 0;
    g_counting_allocations = true;
  }
  ~CountAllocations() { g_counting_allocations = false; }
  CountAllocations(const CountAllocations&) = delete;
  CountAllocations& operator=(const CountAllocations&) = delete;
  long count() const noexcept { return g_allocations.load(); }
};

}  // namespace sse::test

// Both the scalar and the array forms: a sanitizer runtime supplies its own operator new[]
// rather than the default one that forwards to operator new.
namespace sse::test {
inline void* counted_allocation(std::size_t size) {
  if (g_counting_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
}  // namespace sse::test

void* operator new(std::size_t size) { return sse::test::counted_allocation(size); }
void* operator new[](std::size_t size) { return sse::test::counted_allocation(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
