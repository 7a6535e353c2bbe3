#pragma once

/// \file
/// `prefetch(p, bytes)`: asks the CPU to start loading [p, p + bytes) into the caches, one hint
/// per 64-byte line. For gathers whose next address is known but not sequential (the sparse
/// path's routed tokens), where the hardware prefetchers cannot guess it.

#include <cstddef>

namespace sse {

inline constexpr std::size_t kCacheLineBytes = 64;

inline void prefetch(const void* p, std::size_t bytes) noexcept {
  const char* first = static_cast<const char*>(p);
  for (std::size_t offset = 0; offset < bytes; offset += kCacheLineBytes) {
    __builtin_prefetch(first + offset);
  }
}

}  // namespace sse
