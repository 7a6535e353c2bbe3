#pragma once

/// \file
/// `SseSwaLayerConfig`: the two branches of a SpikingBrain2.0 SSE-SWA layer (DESIGN.md
/// section 4b).

#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/sse_layer_config.hpp"

namespace sse {

struct SseSwaLayerConfig {
  SseLayerConfig sse;             // the SSE branch (no grouped value heads, V = K)
  SoftmaxAttentionConfig window;  // the window branch (window 0: plain causal)
};

}  // namespace sse
