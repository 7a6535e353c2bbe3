#pragma once

// Random weights for an SSE layer, under upstream's keys, scaled like a trained layer's.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/sse_layer.hpp"
#include "sse/layers/weights.hpp"

#include "support/random.hpp"

namespace sse::test {

/// Random weights for `config`, scaled like a trained layer's (1 / sqrt(fan-in)).
template <class Rule>
Weights weights_for(const SseLayerConfig& config, std::uint64_t seed) {
  Weights w;
  for (const ParameterSpec& spec : SseLayer<Rule>::parameters(config)) {
    std::size_t n = 1;
    for (index_t d : spec.shape) n *= std::size_t(d);
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 1.0;
    std::vector<float> data = randn<float>(n, seed++, 1.0 / std::sqrt(fan_in));
    if (spec.key == "o_norm.weight") {
      for (float& e : data) e = 1.0f + 0.2f * e;
    } else if (spec.key == "A_log") {
      data = uniform<float>(n, seed++, -1.0, 0.5);
    }
    w.add(spec.key, spec.shape, data);
  }
  return w;
}

/// Adds random weights for `specs` under `prefix` (norm weights near 1, A_log in [-1, 0.5],
/// biases small).
inline void add_random(Weights& w, const std::vector<ParameterSpec>& specs,
                       const std::string& prefix, std::uint64_t& seed) {
  auto ends_with = [](const std::string& key, const std::string& tail) {
    return key.size() >= tail.size() &&
           key.compare(key.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (const ParameterSpec& spec : specs) {
    std::size_t n = 1;
    for (index_t d : spec.shape) n *= std::size_t(d);
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 1.0;
    std::vector<float> data = randn<float>(n, seed++, 1.0 / std::sqrt(fan_in));
    if (ends_with(spec.key, "norm.weight")) {
      for (float& e : data) e = 1.0f + 0.2f * e;
    } else if (ends_with(spec.key, "A_log")) {
      data = uniform<float>(n, seed++, -1.0, 0.5);
    } else if (spec.shape.size() == 1) {
      for (float& e : data) e *= 0.25f;  // biases
    }
    w.add(prefix + spec.key, spec.shape, data);
  }
}

/// Random weights of a whole model (SSE-H or SpikingBrain2.0), under upstream's keys.
inline Weights random_model_weights(const HybridConfig& c, index_t intermediate,
                                    std::uint64_t seed) {
  Weights w;
  add_random(w, HybridModel::parameters(c, intermediate), "", seed);
  return w;
}

/// A small SSE-H configuration: 3 blocks, the middle one softmax attention.
inline HybridConfig small_model_config(const std::string& linear_attn_type, bool tied) {
  HybridConfig c;
  c.hidden_size = 16, c.num_hidden_layers = 3, c.num_heads = 2, c.vocab_size = 50;
  c.head_dim = 8, c.expand_v = 1, c.num_sparse_partition = 3;
  c.linear_attn_type = linear_attn_type;
  c.use_short_conv = true;
  c.tie_word_embeddings = tied;
  c.attn_layers = {1}, c.attn_num_heads = 2, c.attn_num_kv_heads = 1;
  return c;
}

/// A small sse_swa_moba config (DESIGN.md section 4b) as JSON text: 4 blocks (SSE-SWA, MoBA,
/// SSE-SWA, full attention), hidden 32, 4 heads of 8 (attention: 4 query heads of 8 over 2 kv
/// heads), N = 4, k = 2, short convolution, window 6, MoBA C = 8 top-2, intermediate 48,
/// vocab 60.
inline std::string small_spikingbrain_config_text(const std::string& base, bool tied = true) {
  return R"({"model_type": "sse_swa_moba", "hidden_size": 32, "num_hidden_layers": 4,
    "num_heads": 4, "head_dim": 8, "vocab_size": 60, "expand_v": 1.0, "linear_attn_type": ")" +
         base + R"(", "num_sparse_partition": 4, "num_writer": 2, "num_reader": 2,
    "use_output_gate": false, "use_short_conv": true, "intermediate_size": 48,
    "norm_eps": 1e-06, "tie_word_embeddings": )" +
         (tied ? "true" : "false") + R"(, "num_v_heads": null,
    "attn": {"layers": [1, 3], "full_layers": [3], "num_heads": 4, "num_kv_heads": 2,
             "qk_norm": true, "qkv_bias": false, "rope_theta": 5000000.0, "window_size": 6,
             "moba_chunk_size": 8, "moba_topk": 2}})";
}

}  // namespace sse::test
