#pragma once

/// \file
/// Primitives on one row (a contiguous vector of length n, any n): a SIMD body of whole
/// `xsimd::batch<T, Arch>` registers plus a scalar tail. Unaligned loads throughout: rows of a
/// [.., K] tensor start at any multiple of K.

#include <cmath>
#include <cstddef>
#include <type_traits>

#include "sse/config.hpp"
#include "sse/simd/reduce.hpp"

namespace sse::simd {

template <class T, class Arch>
using Batch = xsimd::batch<T, Arch>;

/// The number of leading elements of an n-vector covered by whole batches.
template <class T, class Arch>
constexpr std::size_t body_size(std::size_t n) noexcept {
  return n - n % Batch<T, Arch>::size;
}

/// sum_i a[i] * b[i].
template <class Arch, class T>
inline T dot(Arch, const T* a, const T* b, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  B acc(T(0));
  for (std::size_t i = 0; i < body; i += B::size) {
    acc = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc);
  }
  T sum = reduce_sum(acc);
  for (std::size_t i = body; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

/// y = decay * y + alpha * x (one row of a decayed rank-1 state update).
template <class Arch, class T>
inline void decay_axpy(Arch, T decay, T alpha, const T* SSE_RESTRICT x, T* SSE_RESTRICT y,
                       std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  const B d(decay);
  const B a(alpha);
  for (std::size_t i = 0; i < body; i += B::size) {
    xsimd::fma(a, B::load_unaligned(x + i), d * B::load_unaligned(y + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] = decay * y[i] + alpha * x[i];
}

/// y += alpha * x.
template <class Arch, class T>
inline void axpy(Arch, T alpha, const T* SSE_RESTRICT x, T* SSE_RESTRICT y,
                 std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  const B a(alpha);
  for (std::size_t i = 0; i < body; i += B::size) {
    xsimd::fma(a, B::load_unaligned(x + i), B::load_unaligned(y + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] += alpha * x[i];
}

/// y = x * exp(g), elementwise (g <= 0: a decayed row; the factor never overflows).
template <class Arch, class T>
inline void mul_exp(Arch, const T* SSE_RESTRICT x, const T* SSE_RESTRICT g, T* SSE_RESTRICT y,
                    std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  for (std::size_t i = 0; i < body; i += B::size) {
    (B::load_unaligned(x + i) * xsimd::exp(B::load_unaligned(g + i))).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] = x[i] * std::exp(g[i]);
}

/// y = exp(x), elementwise.
template <class Arch, class T>
inline void exp(Arch, const T* SSE_RESTRICT x, T* SSE_RESTRICT y, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  for (std::size_t i = 0; i < body; i += B::size) {
    xsimd::exp(B::load_unaligned(x + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] = std::exp(x[i]);
}

/// x[i] = exp(x[i] - shift), in place; returns their sum (a softmax row's exponentials). The
/// arguments may be -inf (masked scores): they are raised to a floor far below the underflow
/// (exp is 0 either way) before xsimd's exp, which converts its argument to an integer.
template <class Arch, class T>
inline T exp_shifted_sum(Arch, T* x, T shift, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  const B s(shift);
  const B lowest(std::is_same_v<T, float> ? T(-200) : T(-1000));  // exp underflows below -104, -745
  B acc(T(0));
  for (std::size_t i = 0; i < body; i += B::size) {
    const B e = xsimd::exp(xsimd::max(B::load_unaligned(x + i) - s, lowest));
    e.store_unaligned(x + i);
    acc += e;
  }
  T sum = reduce_sum(acc);
  for (std::size_t i = body; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return sum;
}

/// sum_i a[i] * b[i] * exp(g[i]) (one entry of the intra-chunk GLA matrix, DESIGN.md section 1).
template <class Arch, class T>
inline T dot_exp(Arch, const T* a, const T* b, const T* g, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  B acc(T(0));
  for (std::size_t i = 0; i < body; i += B::size) {
    acc = xsimd::fma(B::load_unaligned(a + i) * B::load_unaligned(b + i),
                     xsimd::exp(B::load_unaligned(g + i)), acc);
  }
  T sum = reduce_sum(acc);
  for (std::size_t i = body; i < n; ++i) sum += a[i] * b[i] * std::exp(g[i]);
  return sum;
}

/// y += x, elementwise.
template <class Arch, class T>
inline void add(Arch, const T* SSE_RESTRICT x, T* SSE_RESTRICT y, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  for (std::size_t i = 0; i < body; i += B::size) {
    (B::load_unaligned(y + i) + B::load_unaligned(x + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] += x[i];
}

/// out = x + y, elementwise.
template <class Arch, class T>
inline void plus(Arch, const T* x, const T* y, T* SSE_RESTRICT out, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  for (std::size_t i = 0; i < body; i += B::size) {
    (B::load_unaligned(x + i) + B::load_unaligned(y + i)).store_unaligned(out + i);
  }
  for (std::size_t i = body; i < n; ++i) out[i] = x[i] + y[i];
}

/// y = x * z, elementwise.
template <class Arch, class T>
inline void mul(Arch, const T* x, const T* z, T* SSE_RESTRICT y, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  for (std::size_t i = 0; i < body; i += B::size) {
    (B::load_unaligned(x + i) * B::load_unaligned(z + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] = x[i] * z[i];
}

/// y *= alpha, elementwise.
template <class Arch, class T>
inline void scale_in_place(Arch, T alpha, T* y, std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  const B a(alpha);
  for (std::size_t i = 0; i < body; i += B::size) {
    (a * B::load_unaligned(y + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] *= alpha;
}

/// y = alpha * x, elementwise.
template <class Arch, class T>
inline void scale(Arch, T alpha, const T* SSE_RESTRICT x, T* SSE_RESTRICT y,
                  std::size_t n) noexcept {
  using B = Batch<T, Arch>;
  const std::size_t body = body_size<T, Arch>(n);
  const B a(alpha);
  for (std::size_t i = 0; i < body; i += B::size) {
    (a * B::load_unaligned(x + i)).store_unaligned(y + i);
  }
  for (std::size_t i = body; i < n; ++i) y[i] = alpha * x[i];
}

/// y = alpha * x / sqrt(|x|^2 + eps): the spec's L2 normalisation (DESIGN.md section 1, with
/// eps = 1e-6) fused with a scale.
template <class Arch, class T>
inline void l2_normalize_scaled(Arch arch, T alpha, T eps, const T* SSE_RESTRICT x,
                                T* SSE_RESTRICT y, std::size_t n) noexcept {
  const T inv_norm = T(1) / std::sqrt(dot(arch, x, x, n) + eps);
  scale(arch, alpha * inv_norm, x, y, n);
}

}  // namespace sse::simd
