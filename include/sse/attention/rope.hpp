#pragma once

/// \file
/// Rotary position embedding (DESIGN.md section 4, upstream `Attention`): non-interleaved, the
/// two halves of each head rotate together. For position p and i < D/2,
///
///   inv_freq_i = theta^(-2i/D),  a = p * inv_freq_i
///   (x_i, x_{i+D/2}) <- (x_i cos a - x_{i+D/2} sin a,  x_{i+D/2} cos a + x_i sin a)
///
/// Angles are formed in double (positions reach 10^6 and float would lose the phase). No
/// allocation: one angle per (token, pair), shared by the heads.

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

/// Rotates x [B,T,H,D] in place: token t of row b at position offsets[b] + t (offsets absent:
/// t). Throws sse::invalid_argument, with nothing written, on bad input.
template <class T>
void apply_rope(TensorView<T, 4> x, TensorView<const std::int64_t, 1> offsets, double theta) {
  throw_if_error(validate_rope(x, offsets, theta));
  const index_t B = x.extent(0), Tn = x.extent(1), H = x.extent(2), half = x.extent(3) / 2;
  for (index_t b = 0; b < B; ++b) {
    const index_t offset = offsets.present() ? offsets(b) : 0;
    for (index_t t = 0; t < Tn; ++t) {
      const double position = static_cast<double>(offset + t);
      for (index_t i = 0; i < half; ++i) {  // one angle per pair, shared by every head
        const double inv_freq =
            std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(2 * half));
        const T c = static_cast<T>(std::cos(position * inv_freq));
        const T s = static_cast<T>(std::sin(position * inv_freq));
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
