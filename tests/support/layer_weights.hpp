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

/// Adds random weights for `specs` under `prefix` (norm weights near 1, A_log in [-1, 0.5]).
inline void add_random(Weights& w, const std::vector<ParameterSpec>& specs,
                       const std::string& prefix, std::uint64_t& seed) {
  for (const ParameterSpec& spec : specs) {
    std::size_t n = 1;
    for (index_t d : spec.shape) n *= std::size_t(d);
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 1.0;
    std::vector<float> data = randn<float>(n, seed++, 1.0 / std::sqrt(fan_in));
    const bool norm = spec.key.find("norm.weight") != std::string::npos;
    if (norm) {
      for (float& e : data) e = 1.0f + 0.2f * e;
    } else if (spec.key == "A_log") {
      data = uniform<float>(n, seed++, -1.0, 0.5);
    } else if (spec.shape.size() == 1) {
      for (float& e : data) e *= 0.25f;  // biases
    }
    w.add(prefix + spec.key, spec.shape, data);
  }
}

/// Random weights of a whole SSE-H model, under upstream's keys.
inline Weights random_model_weights(const HybridConfig& c, index_t intermediate,
                                    std::uint64_t seed) {
  Weights w;
  const index_t D = c.hidden_size;
  add_random(w, {{"model.embeddings.weight", {c.vocab_size, D}}, {"model.norm.weight", {D}}}, "",
             seed);
  if (!c.tie_word_embeddings) add_random(w, {{"lm_head.weight", {c.vocab_size, D}}}, "", seed);
  for (index_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    add_random(w, {{"attn_norm.weight", {D}}, {"mlp_norm.weight", {D}}}, prefix, seed);
    if (c.is_attention_layer(i)) {
      add_random(w, SoftmaxAttentionLayer::parameters(c.attention_layer()), prefix + "attn.", seed);
    } else if (c.linear_attn_type == "gdn") {
      add_random(w, SseLayer<GdnRule>::parameters(c.sse_layer()), prefix + "attn.", seed);
    } else {
      add_random(w, SseLayer<GlaRule>::parameters(c.sse_layer()), prefix + "attn.", seed);
    }
    add_random(w, SwiGluMlp::parameters(D, intermediate), prefix + "mlp.", seed);
  }
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

}  // namespace sse::test
