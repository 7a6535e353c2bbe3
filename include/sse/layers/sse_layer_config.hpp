#pragma once

/// \file
/// `SseLayerConfig`: the sizes and switches of one SSE layer (DESIGN.md section 4).

#include "sse/attention/options.hpp"
#include "sse/core/shape.hpp"
#include "sse/kernels/mode.hpp"

namespace sse {

struct SseLayerConfig {
  index_t hidden = 0;      // D
  index_t heads = 0;       // H: query/key heads
  index_t v_heads = 0;     // HV: value heads (0: H); a multiple of H
  index_t head_dim = 0;    // K
  index_t value_dim = 0;   // V = head_dim * expand_v
  index_t partitions = 0;  // N
  index_t writers = 1, readers = 1;
  bool use_output_gate = true;
  bool use_short_conv = false;
  index_t conv_size = 4;
  bool allow_neg_eigval = false;
  double norm_eps = 1e-5;
  /// SpikingBrain2.0's SSE branch (DESIGN.md section 4b): relu instead of silu on q1, q2 (and
  /// on GDN's keys), and biases on q_proj, k_proj, v_proj (`attn.qkv_bias`, GLA only).
  bool qk_relu = false;
  bool qkv_bias = false;
  Path path = Path::kAuto;
  Mode mode = Mode::kAuto;

  index_t value_heads() const noexcept { return v_heads > 0 ? v_heads : heads; }
};

}  // namespace sse
