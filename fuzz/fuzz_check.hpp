#pragma once

// The fuzzers' checks. A failed check prints what failed and aborts, and libFuzzer saves the
// input that did it.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sse/core/shape.hpp"

namespace sse::fuzz {

inline void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

/// An error message as the library promises them: not empty, one line.
inline bool one_line(const std::string& message) {
  return !message.empty() && message.find('\n') == std::string::npos;
}

inline bool non_negative(const std::vector<index_t>& shape) {
  return std::all_of(shape.begin(), shape.end(), [](index_t e) { return e >= 0; });
}

}  // namespace sse::fuzz
