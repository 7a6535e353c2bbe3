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

// The scalar, array and nothrow forms: a sanitizer runtime supplies its own operator new[] and
// nothrow new rather than the defaults that forward to operator new, and memory from its
// allocator must not reach the free() below (std::stable_sort's buffer is nothrow new).
namespace sse::test {
inline void* counted_allocation(std::size_t size) {
  if (g_counting_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
inline void* counted_allocation(std::size_t size, const std::nothrow_t&) noexcept {
  if (g_counting_allocations.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace sse::test

void* operator new(std::size_t size) { return sse::test::counted_allocation(size); }
void* operator new[](std::size_t size) { return sse::test::counted_allocation(size); }
void* operator new(std::size_t size, const std::nothrow_t& tag) noexcept {
  return sse::test::counted_allocation(size, tag);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return sse::test::counted_allocation(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
