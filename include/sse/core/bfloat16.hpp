#pragma once

/// \file
/// `sse::bfloat16`: the upper 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 mantissa
/// bits), the storage type of bf16 models. The library computes in float32 and takes bf16
/// only as input: rows are widened to float32 as a kernel gathers them (exact, a shift), so
/// the state and every sum stay float32. `compute_t<T>` names the type a kernel computes in.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace sse {

struct bfloat16 {
  std::uint16_t bits = 0;

  /// The nearest bfloat16 (ties to even); NaN stays a (quiet) NaN, infinities stay infinite.
  static bfloat16 from_float(float x) noexcept {
    std::uint32_t u = 0;
    std::memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return {static_cast<std::uint16_t>(u >> 16)};
  }

  /// The float32 with the same value (exact).
  float to_float() const noexcept {
    const std::uint32_t u = std::uint32_t{bits} << 16;
    float x = 0;
    std::memcpy(&x, &u, sizeof x);
    return x;
  }
};

static_assert(sizeof(bfloat16) == 2, "sse::bfloat16 must be two bytes");

/// The type a kernel computes (and keeps states and outputs) in for inputs of type T.
template <class T>
struct compute_type {
  using type = T;
};
template <>
struct compute_type<bfloat16> {
  using type = float;
};
template <class T>
using compute_t = typename compute_type<T>::type;

/// An input element as its compute type.
template <class T>
constexpr T to_compute(T x) noexcept {
  return x;
}
inline float to_compute(bfloat16 x) noexcept { return x.to_float(); }

/// y = x widened to the compute type (a copy when the types agree).
template <class T>
inline void widen(const T* x, compute_t<T>* y, std::size_t n) noexcept {
  if constexpr (std::is_same_v<T, compute_t<T>>) {
    std::memcpy(y, x, n * sizeof(T));
  } else {
    // A shift per element, which compilers vectorize (zero-extend, shift left by 16).
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t u = std::uint32_t{x[i].bits} << 16;
      std::memcpy(y + i, &u, sizeof u);
    }
  }
}

/// y = x rounded to bfloat16 (ties to even).
inline void narrow(const float* x, bfloat16* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) y[i] = bfloat16::from_float(x[i]);
}

}  // namespace sse
