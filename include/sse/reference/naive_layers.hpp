#pragma once

/// \file
/// The float64 oracle of the SSE layers (layers/sse_layer.hpp): every step of DESIGN.md
/// section 4 as plain loops over tokens, heads and channels, then the float64 SSE oracle.
/// Weights are assumed valid (check_parameters).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/sse_layer_config.hpp"
#include "sse/layers/weights.hpp"
#include "sse/reference/naive_attention.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

namespace sse::reference {

/// What a layer carries between calls, in double: states [B,1+N,HV,K,V] and the convolution
/// histories [B,W-1,H*K] (empty: zeros).
struct LayerState {
  std::vector<double> state, q_conv, k_conv;
};

namespace detail {

/// y [rows, out] = x [rows, in] W^T (+ b), W from `key` as [out, in].
inline std::vector<double> project(const Weights& w, const std::string& key,
                                   const std::vector<double>& x, index_t rows,
                                   const std::string& bias = "") {
  const Parameter& p = w.at(key);
  const index_t out = p.shape[0], in = p.shape[1];
  const std::vector<float> weight = p.to_float32();  // the stored values, any precision
  std::vector<double> y(static_cast<std::size_t>(rows * out), 0.0);
  for (index_t r = 0; r < rows; ++r) {
    for (index_t o = 0; o < out; ++o) {
      double sum = bias.empty() ? 0.0 : double(w.at(bias).data[o]);
      for (index_t i = 0; i < in; ++i) sum += x[r * in + i] * double(weight[o * in + i]);
      y[r * out + o] = sum;
    }
  }
  return y;
}

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }

/// The rule's key activation on one head's K channels: GLA softmax, GDN silu.
inline void activate_key(GlaRule, double* row, index_t K) {
  double largest = row[0], sum = 0;
  for (index_t i = 1; i < K; ++i) largest = std::max(largest, row[i]);
  for (index_t i = 0; i < K; ++i) sum += std::exp(row[i] - largest);
  for (index_t i = 0; i < K; ++i) row[i] = std::exp(row[i] - largest) / sum;
}
inline void activate_key(GdnRule, double* row, index_t K) {
  for (index_t i = 0; i < K; ++i) row[i] = silu(row[i]);
}

/// The gates per value head j (q/k head j / (HV/H)): g1, g2 [rows, HV, K] (GLA) or [rows, HV]
/// (GDN); beta1, beta2 [rows, HV] (GDN).
struct Gates {
  std::vector<double> g1, g2, beta1, beta2;
};

/// GLA: g_i = logsigmoid(gk_proj.i.1(gk_proj.i.0(x))) / 16, per key head, repeated.
inline Gates gates(GlaRule, const SseLayerConfig& c, const Weights& w, const std::vector<double>& x,
                   index_t rows) {
  const index_t H = c.heads, K = c.head_dim, HV = c.value_heads(), group = HV / H;
  Gates out;
  out.g1.resize(static_cast<std::size_t>(rows * HV * K));
  out.g2.resize(out.g1.size());
  for (const auto& [i, g] : {std::pair{"0", &out.g1}, std::pair{"1", &out.g2}}) {
    const std::string base = std::string("gk_proj.") + i;
    const std::vector<double> per_key = project(
        w, base + ".1.weight", project(w, base + ".0.weight", x, rows), rows, base + ".1.bias");
    for (index_t r = 0; r < rows; ++r) {
      for (index_t j = 0; j < HV; ++j) {
        for (index_t d = 0; d < K; ++d) {
          const double z = per_key[(r * H + j / group) * K + d];
          (*g)[(r * HV + j) * K + d] = (std::min(z, 0.0) - std::log1p(std::exp(-std::abs(z)))) / 16;
        }
      }
    }
  }
  return out;
}

/// GDN: g = -exp(A_log) softplus(a_proj(x) + dt_bias), beta = sigmoid(b_proj(x)) (x2 with
/// allow_neg_eigval); channels [0, HV) are the shared branch's, [HV, 2 HV) the partitions'.
inline Gates gates(GdnRule, const SseLayerConfig& c, const Weights& w, const std::vector<double>& x,
                   index_t rows) {
  const index_t HV = c.value_heads();
  Gates out;
  for (std::vector<double>* t : {&out.g1, &out.g2, &out.beta1, &out.beta2}) {
    t->resize(static_cast<std::size_t>(rows * HV));
  }
  const std::vector<double> a = project(w, "a_proj.weight", x, rows);
  const std::vector<double> b = project(w, "b_proj.weight", x, rows);
  for (index_t r = 0; r < rows; ++r) {
    for (index_t j = 0; j < 2 * HV; ++j) {
      const double z = a[r * 2 * HV + j] + w.at("dt_bias").data[j];
      const double softplus = z > 20 ? z : std::log1p(std::exp(z));
      const double gate = -std::exp(double(w.at("A_log").data[j])) * softplus;
      const double beta = (c.allow_neg_eigval ? 2.0 : 1.0) / (1.0 + std::exp(-b[r * 2 * HV + j]));
      (j < HV ? out.g1 : out.g2)[r * HV + j % HV] = gate;
      (j < HV ? out.beta1 : out.beta2)[r * HV + j % HV] = beta;
    }
  }
  return out;
}

}  // namespace detail

/// y [B,T,D] of the layer for x [B,T,D]; `carry` (if given) holds the state before the call and
/// receives the state after it.
template <class Rule>
std::vector<double> sse_layer(const SseLayerConfig& c, const Weights& w,
                              const std::vector<double>& x, index_t B, index_t T,
                              LayerState* carry = nullptr) {
  const index_t H = c.heads, K = c.head_dim, V = c.value_dim;
  const index_t HV = c.value_heads(), HK = H * K, N = c.partitions, rows = B * T;
  const index_t W = c.conv_size, group = HV / H;
  using detail::project;

  std::vector<double> q1 = project(w, "q_proj.weight", x, rows, c.qkv_bias ? "q_proj.bias" : "");
  std::vector<double> k1 = project(w, "k_proj.weight", x, rows, c.qkv_bias ? "k_proj.bias" : "");
  std::vector<double> q2 =
      project(w, "lora_q_proj.1.weight", project(w, "lora_q_proj.0.weight", x, rows), rows);
  std::vector<double> k2 =
      project(w, "lora_k_proj.1.weight", project(w, "lora_k_proj.0.weight", x, rows), rows);
  for (std::size_t i = 0; i < q2.size(); ++i) q2[i] += q1[i], k2[i] += k1[i];
  std::vector<double> v = project(w, "v_proj.weight", x, rows, c.qkv_bias ? "v_proj.bias" : "");
  const std::vector<double> eta_d = project(w, "e_proj.weight", x, rows);

  if (c.use_short_conv) {  // y[t] = sum_j w[c, j] x[t - (W-1) + j], history before t = 0
    struct Conv {
      const char* key;
      std::vector<double>* values;
      std::vector<double>* history;
    };
    for (const Conv& conv :
         {Conv{"q_conv1d_shared.weight", &q1, carry ? &carry->q_conv : nullptr},
          Conv{"k_conv1d_shared.weight", &k1, carry ? &carry->k_conv : nullptr}}) {
      std::vector<double>* t = conv.values;
      std::vector<double>* hist = conv.history;
      const std::vector<float>& weight = w.at(conv.key).data;
      std::vector<double> out(t->size());
      for (index_t b = 0; b < B; ++b) {
        auto input = [&](index_t s, index_t ch) {  // position s may be negative: history
          if (s >= 0) return (*t)[(b * T + s) * HK + ch];
          if (hist == nullptr || hist->empty()) return 0.0;
          return (*hist)[(b * (W - 1) + (W - 1 + s)) * HK + ch];
        };
        for (index_t s = 0; s < T; ++s) {
          for (index_t ch = 0; ch < HK; ++ch) {
            double sum = 0;
            for (index_t j = 0; j < W; ++j) sum += weight[ch * W + j] * input(s - (W - 1) + j, ch);
            out[(b * T + s) * HK + ch] = sum;
          }
        }
        if (hist != nullptr) {
          std::vector<double> next(static_cast<std::size_t>((W - 1) * HK));
          for (index_t j = 0; j < W - 1; ++j) {
            for (index_t ch = 0; ch < HK; ++ch) next[j * HK + ch] = input(T - (W - 1) + j, ch);
          }
          hist->resize(static_cast<std::size_t>(B * (W - 1) * HK));
          std::copy(next.begin(), next.end(), hist->begin() + b * (W - 1) * HK);
        }
      }
      *t = out;
    }
  }

  // SpikingBrain2.0's sse_qk_relu: relu in place of silu on q (and on GDN's keys).
  for (std::vector<double>* t : {&q1, &q2}) {
    for (double& e : *t) e = c.qk_relu ? std::max(e, 0.0) : detail::silu(e);
  }
  for (double& e : v) e = detail::silu(e);
  for (std::vector<double>* t : {&k1, &k2}) {
    for (index_t r = 0; r < rows * H; ++r) {
      if (c.qk_relu && !Rule::kPerKeyDecay) {  // GDN; GLA's keys stay softmax
        for (index_t i = 0; i < K; ++i) (*t)[r * K + i] = std::max((*t)[r * K + i], 0.0);
      } else {
        detail::activate_key(Rule{}, t->data() + r * K, K);
      }
    }
  }

  // Gates, then everything per value head j (q/k head j / group).
  const detail::Gates gates = detail::gates(Rule{}, c, w, x, rows);
  auto widen = [&](const std::vector<double>& t) {
    std::vector<double> out(static_cast<std::size_t>(rows * HV * K));
    for (index_t r = 0; r < rows; ++r) {
      for (index_t j = 0; j < HV; ++j) {
        for (index_t d = 0; d < K; ++d) out[(r * HV + j) * K + d] = t[(r * H + j / group) * K + d];
      }
    }
    return out;
  };
  const std::vector<double> Q1 = widen(q1), Q2 = widen(q2), K1 = widen(k1), K2 = widen(k2);
  const std::vector<float> eta(eta_d.begin(), eta_d.end());

  SseInputs<Rule, double> in;
  in.q1 = {Q1.data(), {B, T, HV, K}}, in.k1 = {K1.data(), {B, T, HV, K}};
  in.q2 = {Q2.data(), {B, T, HV, K}}, in.k2 = {K2.data(), {B, T, HV, K}};
  in.v = {v.data(), {B, T, HV, V}};
  in.eta = {eta.data(), {B, T, N}};
  if constexpr (Rule::kPerKeyDecay) {
    in.g1 = {gates.g1.data(), {B, T, HV, K}}, in.g2 = {gates.g2.data(), {B, T, HV, K}};
  } else {
    in.g1 = {gates.g1.data(), {B, T, HV}}, in.g2 = {gates.g2.data(), {B, T, HV}};
  }
  if constexpr (Rule::kHasBeta) {
    in.beta1 = {gates.beta1.data(), {B, T, HV}}, in.beta2 = {gates.beta2.data(), {B, T, HV}};
  }
  if (carry != nullptr && !carry->state.empty())
    in.h0 = {carry->state.data(), {B, 1 + N, HV, K, V}};
  AttentionOptions options;
  options.writers = c.writers, options.readers = c.readers;
  options.allow_neg_eigval = c.allow_neg_eigval;
  options.qk_l2norm = Rule::kDefaultQkL2norm;
  const SseResult r = sse_attention<Rule>(in, options);
  if (carry != nullptr) carry->state = r.ht;

  std::vector<double> o = r.o;
  std::vector<double> gate;
  if (c.use_output_gate)
    gate = project(w, "g_proj.1.weight", project(w, "g_proj.0.weight", x, rows), rows);
  for (index_t row = 0; row < rows * HV; ++row) {
    double ms = 0;
    for (index_t j = 0; j < V; ++j) ms += o[row * V + j] * o[row * V + j];
    const double inv = 1.0 / std::sqrt(ms / double(V) + c.norm_eps);
    for (index_t j = 0; j < V; ++j) {
      double e = o[row * V + j] * inv * double(w.at("o_norm.weight").data[j]);
      if (c.use_output_gate) e *= detail::silu(gate[row * V + j]);
      o[row * V + j] = e;
    }
  }
  return project(w, "o_proj.weight", o, rows);
}

/// The rotation angle of RoPE for position p and pair i of a head of size hd, as DESIGN.md
/// section 4b defines it (upstream's float32 forms): inv_freq = 1 / theta^(2i/hd) in float32,
/// angle = float32(p * inv_freq).
inline double rope_angle(double theta, index_t position, index_t i, index_t hd) {
  const float exponent = float(2 * i) / float(hd);
  const float inv_freq = 1.0f / float(std::pow(double(float(theta)), double(exponent)));
  return double(float(position) * inv_freq);
}

/// y [B,T,D] of the softmax attention layer (SSE-H's, or SpikingBrain2.0's full, MoBA or
/// window attention) for x [B,T,D] at positions 0..T-1: projections, q/k RMSNorm (qk_norm),
/// rotary embedding, causal (windowed) softmax over the visible keys, o_proj; plain loops.
/// A MoBA layer treats tokens [0, moba_prompt) as its prefill from an empty cache (block-sparse
/// among themselves) and every later token as a decode step (dense over all earlier keys);
/// moba_prompt < 0 means all T tokens are the prefill.
inline std::vector<double> softmax_attention_layer(const SoftmaxAttentionConfig& c,
                                                   const Weights& w, const std::vector<double>& x,
                                                   index_t B, index_t T, index_t moba_prompt = -1) {
  const index_t HQ = c.heads, HKV = c.key_value_heads(), hd = c.head_dim();
  const index_t rows = B * T, half = hd / 2;
  const index_t prompt = moba_prompt < 0 ? T : moba_prompt;
  using detail::project;
  std::vector<double> q = project(w, "q_proj.weight", x, rows, c.qkv_bias ? "q_proj.bias" : "");
  std::vector<double> k = project(w, "k_proj.weight", x, rows, c.qkv_bias ? "k_proj.bias" : "");
  const std::vector<double> v =
      project(w, "v_proj.weight", x, rows, c.qkv_bias ? "v_proj.bias" : "");
  auto normalise = [&](std::vector<double>& t, const char* key) {
    for (std::size_t r = 0; r < t.size() / std::size_t(hd); ++r) {
      double ms = 0;
      for (index_t i = 0; i < hd; ++i) ms += t[r * hd + i] * t[r * hd + i];
      const double inv = 1.0 / std::sqrt(ms / double(hd) + c.norm_eps);
      for (index_t i = 0; i < hd; ++i) t[r * hd + i] *= inv * double(w.at(key).data[i]);
    }
  };
  if (c.qk_norm) normalise(q, "q_norm.weight"), normalise(k, "k_norm.weight");
  auto rotate = [&](std::vector<double>& t, index_t heads) {
    for (index_t r = 0; r < rows; ++r) {
      for (index_t h = 0; h < heads; ++h) {
        double* row = t.data() + (r * heads + h) * hd;
        for (index_t i = 0; i < half; ++i) {
          const double angle = rope_angle(c.rope_theta, r % T, i, hd);
          const double x1 = row[i], x2 = row[i + half];
          row[i] = x1 * std::cos(angle) - x2 * std::sin(angle);
          row[i + half] = x2 * std::cos(angle) + x1 * std::sin(angle);
        }
      }
    }
  };
  rotate(q, HQ);
  rotate(k, HKV);
  // The attention: MoBA over the prompt tokens (their prefill), dense causal (windowed)
  // attention for every other query over all earlier keys.
  std::vector<double> o(static_cast<std::size_t>(rows * HQ * hd), 0.0);
  const Extents<4> q_strides{T * HQ * hd, HQ * hd, hd, 1},
      kv_strides{T * HKV * hd, HKV * hd, hd, 1};
  const index_t dense_from = c.is_moba() ? prompt : 0;
  if (c.is_moba() && prompt > 0) {
    SoftmaxAttentionInputs<double> in;
    in.q = {q.data(), {B, prompt, HQ, hd}, q_strides};
    in.k = {k.data(), {B, prompt, HKV, hd}, kv_strides};
    in.v = {v.data(), {B, prompt, HKV, hd}, kv_strides};
    const std::vector<double> part = moba_attention(in, c.moba_chunk_size, c.moba_topk);
    for (index_t b = 0; b < B; ++b) {
      std::copy_n(part.begin() + b * prompt * HQ * hd, prompt * HQ * hd,
                  o.begin() + b * T * HQ * hd);
    }
  }
  if (dense_from < T) {
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(B), dense_from);
    SoftmaxAttentionInputs<double> in;
    in.q = {q.data() + dense_from * HQ * hd, {B, T - dense_from, HQ, hd}, q_strides};
    in.k = {k.data(), {B, T, HKV, hd}, kv_strides};
    in.v = {v.data(), {B, T, HKV, hd}, kv_strides};
    in.offsets = {offsets.data(), {B}};
    SoftmaxAttentionOptions options;
    options.window = c.window;
    const std::vector<double> part = softmax_attention(in, options);
    const index_t n = (T - dense_from) * HQ * hd;
    for (index_t b = 0; b < B; ++b) {
      std::copy_n(part.begin() + b * n, n, o.begin() + (b * T + dense_from) * HQ * hd);
    }
  }
  return project(w, "o_proj.weight", o, rows);
}

}  // namespace sse::reference
