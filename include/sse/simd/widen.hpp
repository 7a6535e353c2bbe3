#pragma once

/// \file
/// 16-bit floating-point values widened to float32 in registers, in memory order, exactly:
/// `load_widened<Format>(arch, p)` is one float batch of the Batch<float, Arch>::size values
/// stored at p. The formats are the two a checkpoint stores matrices in:
///
///   Bf16Bits  bfloat16, the upper half of a float32: the float's bits are h << 16
///   F16Bits   IEEE half: exponent rebias by a multiplication by 2^112 (which also normalises
///             subnormals), infinities and NaNs re-marked, sign copied back
///
/// The only ISA-specific piece is the zero-extending load of B::size uint16 into uint32 lanes
/// (`load_u16_lanes`): one overload per x86 level, chosen by the Arch tag (the most derived
/// match wins: fma3<avx2> takes avx2's, avx512bw takes avx512f's), and a portable one for the
/// rest. The F16 widening assumes denormals are not flushed on input (no DAZ; the default).

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sse/config.hpp"
#include "sse/simd/row_ops.hpp"

namespace sse::simd {

/// B::size uint16 at p, zero-extended into the uint32 lanes of one batch (portable form).
template <class Arch>
inline Batch<std::uint32_t, Arch> load_u16_lanes(const xsimd::generic&, const std::uint16_t* p,
                                                 Arch) noexcept {
  using B = Batch<std::uint32_t, Arch>;
  alignas(Arch::alignment()) std::uint32_t lanes[B::size];
  for (std::size_t i = 0; i < B::size; ++i) lanes[i] = p[i];
  return B::load_aligned(lanes);
}

#if XSIMD_WITH_SSE2
template <class Arch>
inline Batch<std::uint32_t, Arch> load_u16_lanes(const xsimd::sse2&, const std::uint16_t* p,
                                                 Arch) noexcept {
  const __m128i four = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm_unpacklo_epi16(four, _mm_setzero_si128());
}
#endif

#if XSIMD_WITH_AVX2
template <class Arch>
inline Batch<std::uint32_t, Arch> load_u16_lanes(const xsimd::avx2&, const std::uint16_t* p,
                                                 Arch) noexcept {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#endif

#if XSIMD_WITH_AVX512F
template <class Arch>
inline Batch<std::uint32_t, Arch> load_u16_lanes(const xsimd::avx512f&, const std::uint16_t* p,
                                                 Arch) noexcept {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
#endif

/// bfloat16 bits: a float32 is h << 16.
struct Bf16Bits {
  static float to_float(std::uint16_t h) noexcept {
    const std::uint32_t u = std::uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  template <class Arch>
  static Batch<float, Arch> from_lanes(Batch<std::uint32_t, Arch> h) noexcept {
    return xsimd::bitwise_cast<Batch<float, Arch>>(h << 16);
  }
};

/// IEEE half bits (1 sign, 5 exponent, 10 mantissa bits).
struct F16Bits {
  static float to_float(std::uint16_t h) noexcept {
    const std::uint32_t u = std::uint32_t{h};
    return finish(magnitude(u), u);
  }

  template <class Arch>
  static Batch<float, Arch> from_lanes(Batch<std::uint32_t, Arch> h) noexcept {
    using F = Batch<float, Arch>;
    using U = Batch<std::uint32_t, Arch>;
    const F m = xsimd::bitwise_cast<F>((h & U(0x7fffu)) << 13) * F(kRebias);
    const F marked = xsimd::select(
        m >= F(kInfOrNan), xsimd::bitwise_cast<F>(xsimd::bitwise_cast<U>(m) | U(0x7f800000u)), m);
    return xsimd::bitwise_cast<F>(xsimd::bitwise_cast<U>(marked) | ((h & U(0x8000u)) << 16));
  }

 private:
  /// 2^112: moves a half's exponent bias (15) to a float's (127).
  static constexpr float kRebias = 5.192296858534828e33f;
  /// 2^16: the rebiased magnitude of the half exponent 31 (infinity or NaN) and nothing finite.
  static constexpr float kInfOrNan = 65536.0f;

  static float magnitude(std::uint32_t h) noexcept {
    const std::uint32_t u = (h & 0x7fffu) << 13;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f * kRebias;
  }
  static float finish(float m, std::uint32_t h) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &m, sizeof u);
    if (m >= kInfOrNan) u |= 0x7f800000u;
    u |= (h & 0x8000u) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};

/// The Batch<float, Arch>::size values of `Format` at p as float32 (exact).
template <class Format, class Arch>
inline Batch<float, Arch> load_widened(Arch arch, const std::uint16_t* p) noexcept {
  return Format::template from_lanes<Arch>(load_u16_lanes(arch, p, arch));
}

/// out[i] = p[i] as float32, i < n (exact).
template <class Format, class Arch>
inline void widen_row(Arch arch, const std::uint16_t* SSE_RESTRICT p, float* SSE_RESTRICT out,
                      std::size_t n) noexcept {
  using F = Batch<float, Arch>;
  const std::size_t body = body_size<float, Arch>(n);
  for (std::size_t i = 0; i < body; i += F::size) {
    load_widened<Format>(arch, p + i).store_unaligned(out + i);
  }
  for (std::size_t i = body; i < n; ++i) out[i] = Format::to_float(p[i]);
}

}  // namespace sse::simd
