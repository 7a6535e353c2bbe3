#pragma once

/// \file
/// Options of the SSE operator (DESIGN.md sections 3 and 6) with the spec's defaults:
/// writers = readers = 1, emulq = emulk = on, scale = K^-1/2, qk_l2norm off for GLA and on for
/// GDN, betas in [0, 1].

#include <optional>

#include "sse/core/shape.hpp"
#include "sse/kernels/mode.hpp"

namespace sse {

/// Which formulation runs the partitions. `kMasked` (the definition: every partition sees every
/// token, unselected ones masked) supports writers != readers; `kSparse` runs each partition
/// over only its routed tokens and needs writers == readers; `kAuto` takes sparse when it can.
enum class Path { kAuto, kMasked, kSparse };

struct AttentionOptions {
  index_t writers = 1;  // k_w: partitions written per token
  index_t readers = 1;  // k_r: partitions read per token
  bool emulq = true;    // read selected partitions with q2 * p_n (else q2)
  bool emulk = true;    // write selected partitions with k2 * p_n (else k2)
  /// Multiplies q1 and q2; absent means K^-1/2.
  std::optional<double> scale;
  /// L2-normalise q and k (after the p_n scaling); absent means the rule's default.
  std::optional<bool> qk_l2norm;
  bool allow_neg_eigval = false;  // betas up to 2 (GDN)
  Path path = Path::kAuto;
  Mode mode = Mode::kAuto;
  /// r > 0: the row-level sparse update of DESIGN.md section 2b (GLA) in both branches: k1 and
  /// k2 hold key logits, a token keeps its top-r rows with k = softmax over them (then times
  /// p_n in a partition), and the other rows are neither written nor decayed. 0: dense keys.
  index_t key_rows = 0;
};

}  // namespace sse
