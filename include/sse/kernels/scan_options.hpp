#pragma once

/// \file
/// Options of a scan (one base recurrence over a batch), with the spec's defaults
/// (DESIGN.md section 6: scale = K^-1/2, qk_l2norm off for GLA and on for GDN).

#include <optional>

#include "sse/core/shape.hpp"
#include "sse/kernels/mode.hpp"

namespace sse {

struct ScanOptions {
  /// Multiplies q; absent means K^-1/2.
  std::optional<double> scale;
  /// L2-normalise q and k (x / sqrt(|x|^2 + 1e-6)) before scaling; absent means the rule's
  /// default (GLA off, GDN on).
  std::optional<bool> qk_l2norm;
  /// Allow beta in [0, 2] instead of [0, 1] (GDN).
  bool allow_neg_eigval = false;
  Mode mode = Mode::kAuto;
  /// r > 0: the row-level sparse update of DESIGN.md section 2b (GLA): k holds key logits, each
  /// token keeps its top-r rows with k = softmax over them, and the other rows are neither
  /// written nor decayed. 0: dense keys.
  index_t key_rows = 0;
};

}  // namespace sse
