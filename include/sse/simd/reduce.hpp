#pragma once

/// \file
/// Horizontal reductions of one xsimd batch. xsimd 8.1 (Debian 12) has `hadd` and no
/// `reduce_add`; this is the one place that knows.

#include "sse/config.hpp"  // xsimd, after the intrinsics guard (see config.hpp)

namespace sse::simd {

/// Sum of the lanes of `v`.
template <class T, class Arch>
inline T reduce_sum(const xsimd::batch<T, Arch>& v) noexcept {
  return xsimd::hadd(v);
}

}  // namespace sse::simd
