#pragma once

/// \file
/// Rotary position embedding (DESIGN.md sections 4 and 4b, upstream's fla RotaryEmbedding):
/// non-interleaved, the two halves of each head rotate together. For position p and i < D/2,
///
///   inv_freq_i = 1 / theta^(2i/D)          in float32, as upstream forms it
///   a = float32(p * inv_freq_i)            the float32 product upstream's models trained with
///   (x_i, x_{i+D/2}) <- (x_i cos a - x_{i+D/2} sin a,  x_{i+D/2} cos a + x_i sin a)
///
/// The rounding of a is upstream's and visible beyond ~10^5 positions (0.03 rad at 5 * 10^5);
/// cos and sin of that float32 angle are taken in double and rounded. No allocation: one
/// angle per (token, pair), shared by the heads.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sse/core/checks.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse {

/// Checks x [B,T,H,D] (D even, unit inner stride, no two indices on one element) and
/// offsets [B] (optional, >= 0) for `apply_rope`.
template <class T>
Status validate_rope(TensorView<T, 4> x, TensorView<const std::int64_t, 1> offsets, double theta) {
  if (detail::is_missing(x))
    return Status::error("x", std::string("missing (expected shape [B,T,H,D])"));
  if (x.extent(3) % 2 != 0) {
    return Status::error("x", std::string("rotary embedding needs an even head size D, got ") +
                                  format_shape(x.extents()));
  }
  if (Status s = detail::check_unit_inner_stride("x", x); !s) return s;
  if (Status s = detail::check_unique("x", x); !s) return s;
  if (offsets.present()) {
    if (Status s = detail::check_shape("offsets", offsets, "[B]", {x.extent(0)}); !s) return s;
    for (index_t b = 0; b < x.extent(0); ++b) {
      if (offsets(b) < 0) {
        return Status::error("offsets", std::string("element [") + std::to_string(b) +
                                            "] = " + std::to_string(offsets(b)) + " is negative");
      }
    }
  }
  if (!(theta > 1.0) || !std::isfinite(theta)) {
    return Status::error("theta",
                         std::string("expected a finite base > 1, got ") + std::to_string(theta));
  }
  return {};
}

/// inv_freq_i = 1 / theta^(2i/D) in float32 (theta and the exponent 2i/D rounded to float32,
/// the power rounded once, then a float32 division), as upstream's float32 tensors form it.
inline float rope_inverse_frequency(double theta, index_t i, index_t D) noexcept {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(D);
  const auto power = static_cast<float>(
      std::pow(static_cast<double>(static_cast<float>(theta)), static_cast<double>(exponent)));
  return 1.0f / power;
}

/// The rotation angle of position p for pair i: float32(float32(p) * inv_freq_i).
inline float rope_angle(index_t position, float inverse_frequency) noexcept {
  return static_cast<float>(position) * inverse_frequency;
}

/// Rotates x [B,T,H,D] in place: token t of row b at position offsets[b] + t (offsets absent:
/// t). Throws sse::invalid_argument, with nothing written, on bad input.
template <class T>
void apply_rope(TensorView<T, 4> x, TensorView<const std::int64_t, 1> offsets, double theta) {
  throw_if_error(validate_rope(x, offsets, theta));
  const index_t B = x.extent(0), Tn = x.extent(1), H = x.extent(2), half = x.extent(3) / 2;
  for (index_t b = 0; b < B; ++b) {
    const index_t offset = offsets.present() ? offsets(b) : 0;
    for (index_t t = 0; t < Tn; ++t) {
      for (index_t i = 0; i < half; ++i) {  // one angle per pair, shared by every head
        const double angle = rope_angle(offset + t, rope_inverse_frequency(theta, i, 2 * half));
        const T c = static_cast<T>(std::cos(angle));
        const T s = static_cast<T>(std::sin(angle));
        for (index_t h = 0; h < H; ++h) {
          T* row = x.at(b, t, h);
          const T x1 = row[i], x2 = row[i + half];
          row[i] = x1 * c - x2 * s;
          row[i + half] = x2 * c + x1 * s;
        }
      }
    }
  }
}

}  // namespace sse
