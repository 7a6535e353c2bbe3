#pragma once

/// \file
/// `SoftmaxAttentionConfig`: the sizes and switches of one softmax attention layer (DESIGN.md
/// section 4, upstream `Attention`).

#include "sse/core/shape.hpp"

namespace sse {

struct SoftmaxAttentionConfig {
  index_t hidden = 0;    // D
  index_t heads = 0;     // num_heads
  index_t kv_heads = 0;  // num_kv_heads (0: heads)
  bool qkv_bias = false;
  index_t window = 0;  // 0: unlimited
  double rope_theta = 10000.0;

  index_t key_value_heads() const noexcept { return kv_heads > 0 ? kv_heads : heads; }
  index_t head_dim() const noexcept { return heads > 0 ? hidden / heads : 0; }
};

}  // namespace sse
