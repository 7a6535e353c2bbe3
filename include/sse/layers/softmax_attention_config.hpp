#pragma once

/// \file
/// `SoftmaxAttentionConfig`: the sizes and switches of one softmax attention layer: SSE-H's
/// (DESIGN.md section 4, upstream `Attention`), and SpikingBrain2.0's full, MoBA and window
/// attention (section 4b: a head size of its own, optional q/k RMSNorm, MoBA prefill).

#include "sse/core/shape.hpp"

namespace sse {

struct SoftmaxAttentionConfig {
  index_t hidden = 0;    // D
  index_t heads = 0;     // num_heads
  index_t kv_heads = 0;  // num_kv_heads (0: heads)
  index_t head = 0;      // head size (0: hidden / heads, SSE-H's)
  bool qkv_bias = false;
  bool qk_norm = false;  // q_norm, k_norm: RMSNorm over the head size before RoPE
  double norm_eps = 1e-6;
  index_t window = 0;  // 0: unlimited
  double rope_theta = 10000.0;
  /// MoBA (section 4b): a prefill on an empty cache attends block-sparsely (blocks of
  /// moba_chunk_size keys, moba_topk of them per query); 0: dense.
  index_t moba_chunk_size = 0;
  index_t moba_topk = 0;

  index_t key_value_heads() const noexcept { return kv_heads > 0 ? kv_heads : heads; }
  index_t head_dim() const noexcept { return head > 0 ? head : heads > 0 ? hidden / heads : 0; }
  bool is_moba() const noexcept { return moba_chunk_size > 0; }
};

}  // namespace sse
