#pragma once

/// \file
/// `LayerGates<Rule>`: what an SSE layer does differently per update rule (DESIGN.md section
/// 4), as one policy per rule: the keys' activation, the parameters that make the gates, and
/// the gates (g1, g2, and beta1, beta2 for rules with beta) computed from the layer input.
/// `SseLayer<Rule>` asks its policy and never tests which rule it runs, so a new rule is a new
/// specialization here (and the rule itself).
///
///   GLA: k <- softmax over each head's K channels (relu never applies to them);
///        g_i = logsigmoid(gk_proj.i.1(gk_proj.i.0(x))) / 16 per key head [rows, H*K]
///        (i = 0 shared, 1 partitions; gk_proj.i.0: D -> 16, gk_proj.i.1: 16 -> H*K + bias)
///   GDN: k <- silu (relu with sse_qk_relu);  g = -exp(A_log) softplus(a_proj(x) + dt_bias) per
///   value head [rows, HV],
///        beta = sigmoid(b_proj(x)) (x2 with allow_neg_eigval); the first HV channels of
///        a_proj and b_proj are the shared branch's, the last HV the partitions'

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "sse/core/matrix.hpp"
#include "sse/core/shape.hpp"
#include "sse/layers/activations.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/sse_layer_config.hpp"
#include "sse/layers/weights.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

namespace sse {

/// The gates' output of one layer call: g1, g2 [rows, gate_width(c)], beta1, beta2 [rows, HV]
/// (rules with beta).
struct GateBuffers {
  float *g1, *g2, *beta1, *beta2;
};

template <class Rule>
struct LayerGates {
  static_assert(sizeof(Rule) == 0, "sse::LayerGates: no SSE layer gates for this rule");
};

template <>
struct LayerGates<GlaRule> {
  /// The low-rank bottleneck of the gate projections (gk_proj.i.0: D -> 16).
  static constexpr index_t kLowRank = 16;
  /// Gates are per key head, so grouped value heads repeat them like q and k.
  static constexpr bool kPerKeyHead = true;

  static index_t gate_width(const SseLayerConfig& c) noexcept { return c.heads * c.head_dim; }
  static index_t scratch_floats(const SseLayerConfig& /*c*/, index_t rows) noexcept {
    return rows * kLowRank;
  }

  static void add_parameters(const SseLayerConfig& c, std::vector<ParameterSpec>& specs) {
    const index_t HK = c.heads * c.head_dim;
    for (const char* i : {"0", "1"}) {
      const std::string base = std::string("gk_proj.") + i;
      specs.push_back({base + ".0.weight", {kLowRank, c.hidden}});
      specs.push_back({base + ".1.weight", {HK, kLowRank}});
      specs.push_back({base + ".1.bias", {HK}});
    }
  }

  /// Softmax over each of the `rows` rows of K channels of k, in place (with or without
  /// SpikingBrain2.0's sse_qk_relu: its GLA keys stay softmax).
  static void activate_keys(float* k, index_t rows, index_t K, bool /*qk_relu*/) noexcept {
    for (index_t r = 0; r < rows; ++r) {
      float* row = k + r * K;
      const float largest = *std::max_element(row, row + K);
      float sum = 0;
      for (index_t i = 0; i < K; ++i) sum += (row[i] = std::exp(row[i] - largest));
      for (index_t i = 0; i < K; ++i) row[i] /= sum;
    }
  }

  static void compute(const Weights& w, ConstMatrixMap<float> X, const SseLayerConfig& c,
                      float* scratch, const GateBuffers& out, Executor& executor,
                      LinearRows form = LinearRows::kAuto) {
    const index_t rows = X.rows(), HK = gate_width(c);
    detail::project(w, "gk_proj.0.0.weight", X, scratch, kLowRank, executor, {}, form);
    detail::project(w, "gk_proj.0.1.weight", detail::rows_of(scratch, rows, kLowRank), out.g1, HK,
                    executor, "gk_proj.0.1.bias", form);
    detail::project(w, "gk_proj.1.0.weight", X, scratch, kLowRank, executor, {}, form);
    detail::project(w, "gk_proj.1.1.weight", detail::rows_of(scratch, rows, kLowRank), out.g2, HK,
                    executor, "gk_proj.1.1.bias", form);
    for (float* g : {out.g1, out.g2}) {
      for (index_t i = 0; i < rows * HK; ++i) g[i] = logsigmoid(g[i]) / 16.0f;
    }
  }
};

template <>
struct LayerGates<GdnRule> {
  /// Gates are per value head already.
  static constexpr bool kPerKeyHead = false;

  static index_t gate_width(const SseLayerConfig& c) noexcept { return c.value_heads(); }
  /// a and b [rows, 2 HV] each.
  static index_t scratch_floats(const SseLayerConfig& c, index_t rows) noexcept {
    return 2 * rows * 2 * c.value_heads();
  }

  static void add_parameters(const SseLayerConfig& c, std::vector<ParameterSpec>& specs) {
    const index_t HV2 = 2 * c.value_heads();
    specs.push_back({"a_proj.weight", {HV2, c.hidden}});
    specs.push_back({"A_log", {HV2}});
    specs.push_back({"dt_bias", {HV2}});
    specs.push_back({"b_proj.weight", {HV2, c.hidden}});
  }

  /// silu, or relu with SpikingBrain2.0's sse_qk_relu, on every key channel, in place.
  static void activate_keys(float* k, index_t rows, index_t K, bool qk_relu) noexcept {
    if (qk_relu) {
      for (index_t i = 0; i < rows * K; ++i) k[i] = std::max(k[i], 0.0f);
    } else {
      for (index_t i = 0; i < rows * K; ++i) k[i] = silu(k[i]);
    }
  }

  static void compute(const Weights& w, ConstMatrixMap<float> X, const SseLayerConfig& c,
                      float* scratch, const GateBuffers& out, Executor& executor,
                      LinearRows form = LinearRows::kAuto) {
    const index_t rows = X.rows(), HV = c.value_heads();
    float* a = scratch;
    float* b = scratch + rows * 2 * HV;
    detail::project(w, "a_proj.weight", X, a, 2 * HV, executor, {}, form);
    detail::project(w, "b_proj.weight", X, b, 2 * HV, executor, {}, form);
    const float* a_log = w.at("A_log").data.data();
    const float* dt_bias = w.at("dt_bias").data.data();
    const float beta_scale = c.allow_neg_eigval ? 2.0f : 1.0f;
    for (index_t r = 0; r < rows; ++r) {
      for (index_t j = 0; j < 2 * HV; ++j) {
        const float gate = -std::exp(a_log[j]) * softplus(a[r * 2 * HV + j] + dt_bias[j]);
        const float beta = beta_scale * sigmoid(b[r * 2 * HV + j]);
        (j < HV ? out.g1 : out.g2)[r * HV + j % HV] = gate;
        (j < HV ? out.beta1 : out.beta2)[r * HV + j % HV] = beta;
      }
    }
  }
};

}  // namespace sse
