#pragma once

/// \file
/// Fixed-rank extents and their printing for error messages ("[2,64,4,32]").

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sse {

/// Signed index type of every extent, stride and offset (as std::ptrdiff_t; signed so that
/// differences of indices are safe).
using index_t = std::ptrdiff_t;

/// The extents of a rank-`Rank` tensor, outermost first.
template <std::size_t Rank>
using Extents = std::array<index_t, Rank>;

/// Number of elements of a shape (1 for rank 0).
template <std::size_t Rank>
constexpr index_t element_count(const Extents<Rank>& extents) noexcept {
  index_t n = 1;
  for (index_t e : extents) n *= e;
  return n;
}

/// Number of elements of a shape held in a vector (1 for rank 0). Precondition: the product
/// fits (shapes read from files go through checked_element_count first).
template <class Extent>
index_t element_count(const std::vector<Extent>& shape) noexcept {
  index_t n = 1;
  for (Extent e : shape) n *= static_cast<index_t>(e);
  return n;
}

/// Number of elements of a shape read from a file, when every extent and every partial product
/// is at most `max_elements` (checked before each product, so it cannot wrap around); -1
/// otherwise. Extents must be non-negative.
template <class Extent>
std::int64_t checked_element_count(const std::vector<Extent>& shape,
                                   std::uint64_t max_elements) noexcept {
  std::uint64_t count = 1;
  for (Extent e : shape) {
    const auto extent = static_cast<std::uint64_t>(e);
    if (extent > max_elements || (extent != 0 && count > max_elements / extent)) return -1;
    count *= extent;
  }
  return static_cast<std::int64_t>(count);
}

/// "[2,64,4,32]".
template <class Integer, std::size_t Rank>
std::string format_shape(const std::array<Integer, Rank>& extents) {
  std::string s = "[";
  for (std::size_t i = 0; i < Rank; ++i) {
    if (i) s += ',';
    s += std::to_string(extents[i]);
  }
  return s + ']';
}

/// "[2,64,4,32]" for a shape whose rank is known at run time.
inline std::string format_shape(const std::vector<index_t>& extents) {
  std::string s = "[";
  for (std::size_t i = 0; i < extents.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(extents[i]);
  }
  return s + ']';
}

}  // namespace sse
