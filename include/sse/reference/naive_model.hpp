#pragma once

/// \file
/// The float64 oracles of SpikingBrain2.0's SSE-SWA layer (DESIGN.md section 4b) and of whole
/// models (SSE-H, section 4, and SpikingBrain2.0): every block in double, from the layer
/// oracles of reference/naive_layers.hpp. Weights are assumed valid (any stored precision:
/// the oracles read the stored values exactly).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sse/layers/hybrid_config.hpp"
#include "sse/layers/sse_swa_layer_config.hpp"
#include "sse/layers/weights.hpp"
#include "sse/reference/naive_layers.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

namespace sse::reference {

namespace detail {

/// rmsnorm of each row of x [rows, n] with `weight`.
inline std::vector<double> rms_norm(const std::vector<double>& x, index_t n,
                                    const std::vector<float>& weight, double eps) {
  std::vector<double> y(x.size());
  for (std::size_t r = 0; r < x.size() / std::size_t(n); ++r) {
    double ms = 0;
    for (index_t i = 0; i < n; ++i) ms += x[r * n + i] * x[r * n + i];
    const double inv = 1.0 / std::sqrt(ms / double(n) + eps);
    for (index_t i = 0; i < n; ++i) y[r * n + i] = x[r * n + i] * inv * double(weight[i]);
  }
  return y;
}

/// The parameters of `w` whose key starts with `prefix`, prefix removed (copies).
inline Weights with_prefix(const Weights& w, const std::string& prefix) {
  Weights out;
  for (const std::string& key : w.keys()) {
    if (key.compare(0, prefix.size(), prefix) == 0) out.add(key.substr(prefix.size()), w.at(key));
  }
  return out;
}

/// The SSE branch's weights under the SSE layer's names: `sse_` removed, plus the unprefixed
/// LoRA projections, A_log, dt_bias and short convolutions.
inline Weights sse_branch(const Weights& w) {
  Weights out;
  for (const std::string& key : w.keys()) {
    if (key.rfind("swa_", 0) == 0 || key.find("merge_norm") != std::string::npos) continue;
    out.add(key.rfind("sse_", 0) == 0 ? key.substr(4) : key, w.at(key));
  }
  return out;
}

}  // namespace detail

/// y [B,T,D] of the SSE-SWA layer for x [B,T,D] from position 0 (upstream names in `w`):
/// (rmsnorm(sse branch) * sse_merge_norm + rmsnorm(window branch) * swa_merge_norm) / 2.
template <class Rule>
std::vector<double> sse_swa_layer(const SseSwaLayerConfig& c, const Weights& w,
                                  const std::vector<double>& x, index_t B, index_t T) {
  const index_t D = c.sse.hidden;
  const std::vector<double> sse_y = sse_layer<Rule>(c.sse, detail::sse_branch(w), x, B, T);
  const std::vector<double> swa_y =
      softmax_attention_layer(c.window, detail::with_prefix(w, "swa_"), x, B, T);
  const std::vector<double> a =
      detail::rms_norm(sse_y, D, w.at("sse_merge_norm.weight").data, c.sse.norm_eps);
  const std::vector<double> b =
      detail::rms_norm(swa_y, D, w.at("swa_merge_norm.weight").data, c.sse.norm_eps);
  std::vector<double> y(a.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = (a[i] + b[i]) / 2;
  return y;
}

/// logits [B,T,vocab] of a whole model (SSE-H or SpikingBrain2.0) for tokens [B,T] from
/// position 0, every block in double. MoBA layers treat the first `moba_prompt` tokens as
/// their prefill and the rest as decode steps (see softmax_attention_layer; < 0: all).
inline std::vector<double> model_logits(const HybridConfig& c, const Weights& w,
                                        const std::vector<std::int64_t>& tokens, index_t B,
                                        index_t T, index_t moba_prompt = -1) {
  const index_t D = c.hidden_size, rows = B * T;
  const std::vector<float> embeddings = w.at("model.embeddings.weight").to_float32();
  std::vector<double> x(static_cast<std::size_t>(rows * D));
  for (index_t r = 0; r < rows; ++r) {
    for (index_t i = 0; i < D; ++i) x[r * D + i] = embeddings[tokens[r] * D + i];
  }
  for (index_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    const Weights mixer = detail::with_prefix(w, prefix + "attn.");
    const std::vector<double> normed =
        detail::rms_norm(x, D, w.at(prefix + "attn_norm.weight").data, c.norm_eps);
    std::vector<double> delta;
    const bool gdn = c.linear_attn_type == "gdn";
    switch (c.mixer_kind(layer)) {
      case MixerKind::kAttention:
        delta = softmax_attention_layer(c.attention_layer(), mixer, normed, B, T);
        break;
      case MixerKind::kMoba:
        delta = softmax_attention_layer(c.attention_layer(true), mixer, normed, B, T, moba_prompt);
        break;
      case MixerKind::kSseSwa: {
        const SseSwaLayerConfig swa{c.sse_layer(), c.window_layer()};
        delta = gdn ? sse_swa_layer<GdnRule>(swa, mixer, normed, B, T)
                    : sse_swa_layer<GlaRule>(swa, mixer, normed, B, T);
        break;
      }
      case MixerKind::kSse:
        delta = gdn ? sse_layer<GdnRule>(c.sse_layer(), mixer, normed, B, T)
                    : sse_layer<GlaRule>(c.sse_layer(), mixer, normed, B, T);
        break;
    }
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += delta[i];
    // SwiGLU MLP: down(silu(gate(x)) * up(x)).
    const Weights mlp = detail::with_prefix(w, prefix + "mlp.");
    const std::vector<double> h =
        detail::rms_norm(x, D, w.at(prefix + "mlp_norm.weight").data, c.norm_eps);
    std::vector<double> gate = detail::project(mlp, "gate_proj.weight", h, rows);
    const std::vector<double> up = detail::project(mlp, "up_proj.weight", h, rows);
    for (std::size_t i = 0; i < gate.size(); ++i) gate[i] = detail::silu(gate[i]) * up[i];
    const std::vector<double> out = detail::project(mlp, "down_proj.weight", gate, rows);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += out[i];
  }
  const std::vector<double> h = detail::rms_norm(x, D, w.at("model.norm.weight").data, c.norm_eps);
  return detail::project(w, c.tie_word_embeddings ? "model.embeddings.weight" : "lm_head.weight", h,
                         rows);
}

}  // namespace sse::reference
