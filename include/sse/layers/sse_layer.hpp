#pragma once

/// \file
/// `SseLayer<Rule>`: the SSE-GLA and SSE-GDN layers of DESIGN.md section 4 (upstream `SSEGLA`,
/// `SSEGDN`), with upstream's parameter names. For x [B,T,D]:
///
///   q1 = x Wq^T, k1 = x Wk^T                        q_proj, k_proj: D -> H*K
///   q2 = q1 + LoRA_q(x), k2 = k1 + LoRA_k(x)         lora_{q,k}_proj.0: D -> V, .1: V -> H*K
///   v = x Wv^T                                       v_proj: D -> HV*V
///   eta = x We^T                                     e_proj: D -> N
///   short conv on q1, k1 (optional, after q2, k2)    {q,k}_conv1d_shared.weight [H*K,1,W]
///   q1, q2, v <- silu;  k1, k2 <- softmax over K (GLA) or silu (GDN)
///   GLA: g_i = logsigmoid(gk_proj.i.1(gk_proj.i.0(x))) / 16       (i = 0 shared, 1 partitions)
///   GDN: g = -exp(A_log) softplus(a_proj(x) + dt_bias), beta = sigmoid(b_proj(x)) (x2)
///   value head j uses q/k head j / (HV/H)
///   o = sse_attention(...)                           (GDN with qk_l2norm)
///   o = rmsnorm_V(o) * o_norm.weight [* silu(g_proj.1(g_proj.0(x)))]
///   y = o Wo^T                                       o_proj: HV*V -> D
///
/// Decode runs through a `Cache` (the recurrent states [B,1+N,HV,K,V] and the convolutions'
/// last W-1 inputs), updated in place: prefill then T = 1 steps equals one prefill.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "sse/attention/sse_attention.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"
#include "sse/layers/activations.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/norm.hpp"
#include "sse/layers/weights.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

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
  Path path = Path::kAuto;
  Mode mode = Mode::kAuto;

  index_t value_heads() const noexcept { return v_heads > 0 ? v_heads : heads; }
};

/// The low-rank bottleneck of GLA's gate projections (gk_proj.i.0: D -> 16).
inline constexpr index_t kGateLowRank = 16;

namespace detail {

/// x [rows, D] through `key`'s weight [out, D] (and bias) into y [rows, out].
inline void project(const Weights& w, const std::string& key, ConstMatrixMap<float> x, float* y,
                    index_t out, const std::string& bias_key = "") {
  linear<float>(x, w.at(key).data.data(), bias_key.empty() ? nullptr : w.at(bias_key).data.data(),
                MatrixMap<float>(y, x.rows(), out, Eigen::OuterStride<>(out)));
}

inline ConstMatrixMap<float> rows_of(const std::vector<float>& x, index_t rows, index_t cols) {
  return {x.data(), rows, cols, Eigen::OuterStride<>(cols)};
}

/// Causal depthwise convolution over time of x [B, T, C] (in place), width W, with the last
/// W-1 inputs of each row in `history` [B, W-1, C] (read, then replaced by the new last ones):
///   y[t, c] = sum_j weight[c, j] x[t - (W-1) + j, c]
inline void causal_conv(std::vector<float>& x, index_t B, index_t T, index_t C, index_t W,
                        const std::vector<float>& weight, std::vector<float>& history) {
  std::vector<float> padded(static_cast<std::size_t>((W - 1 + T) * C));
  for (index_t b = 0; b < B; ++b) {
    float* xb = x.data() + b * T * C;
    float* hb = history.data() + b * (W - 1) * C;
    std::copy(hb, hb + (W - 1) * C, padded.begin());
    std::copy(xb, xb + T * C, padded.begin() + (W - 1) * C);
    for (index_t t = 0; t < T; ++t) {
      for (index_t c = 0; c < C; ++c) {
        float sum = 0;
        for (index_t j = 0; j < W; ++j) sum += weight[c * W + j] * padded[(t + j) * C + c];
        xb[t * C + c] = sum;
      }
    }
    std::copy(padded.end() - (W - 1) * C, padded.end(), hb);
  }
}

}  // namespace detail

template <class Rule>
class SseLayer {
  static_assert(std::is_same_v<Rule, GlaRule> || std::is_same_v<Rule, GdnRule>,
                "sse::SseLayer: Rule must be GlaRule (SSE-GLA) or GdnRule (SSE-GDN)");
  static constexpr bool kGla = std::is_same_v<Rule, GlaRule>;

 public:
  /// Decode state of B sequences: recurrent states and convolution histories.
  struct Cache {
    index_t batch = 0;
    std::vector<float> state;   // [B,1+N,HV,K,V]
    std::vector<float> q_conv;  // [B,W-1,H*K] (short conv only)
    std::vector<float> k_conv;  // [B,W-1,H*K]
  };

  /// The keys and shapes the layer takes (upstream state_dict names).
  static std::vector<ParameterSpec> parameters(const SseLayerConfig& c) {
    const index_t D = c.hidden, HK = c.heads * c.head_dim, V = c.value_dim;
    const index_t HV = c.value_heads();
    std::vector<ParameterSpec> specs = {
        {"q_proj.weight", {HK, D}},       {"k_proj.weight", {HK, D}},
        {"lora_q_proj.0.weight", {V, D}}, {"lora_q_proj.1.weight", {HK, V}},
        {"lora_k_proj.0.weight", {V, D}}, {"lora_k_proj.1.weight", {HK, V}},
        {"v_proj.weight", {HV * V, D}},   {"e_proj.weight", {c.partitions, D}},
        {"o_norm.weight", {V}},           {"o_proj.weight", {D, HV * V}}};
    if constexpr (kGla) {
      for (const char* i : {"0", "1"}) {
        const std::string base = std::string("gk_proj.") + i;
        specs.push_back({base + ".0.weight", {kGateLowRank, D}});
        specs.push_back({base + ".1.weight", {HK, kGateLowRank}});
        specs.push_back({base + ".1.bias", {HK}});
      }
    } else {
      specs.push_back({"a_proj.weight", {2 * HV, D}});
      specs.push_back({"A_log", {2 * HV}});
      specs.push_back({"dt_bias", {2 * HV}});
      specs.push_back({"b_proj.weight", {2 * HV, D}});
    }
    if (c.use_output_gate) {
      specs.push_back({"g_proj.0.weight", {V, D}});
      specs.push_back({"g_proj.1.weight", {HV * V, V}});
    }
    if (c.use_short_conv) {
      specs.push_back({"q_conv1d_shared.weight", {HK, 1, c.conv_size}});
      specs.push_back({"k_conv1d_shared.weight", {HK, 1, c.conv_size}});
    }
    return specs;
  }

  /// Checks the configuration and the weights; throws sse::invalid_argument naming the problem.
  SseLayer(const SseLayerConfig& config, Weights weights)
      : config_(config), weights_(std::move(weights)) {
    const SseLayerConfig& c = config_;
    if (c.hidden < 1 || c.heads < 1 || c.head_dim < 1 || c.value_dim < 1 || c.partitions < 1) {
      report_invalid_argument(
          "config: hidden, heads, head_dim, value_dim and partitions must be >= 1");
    }
    if (c.value_heads() % c.heads != 0) {
      report_invalid_argument("config: v_heads = " + std::to_string(c.value_heads()) +
                              " is not a multiple of heads = " + std::to_string(c.heads));
    }
    if (c.use_short_conv && c.conv_size < 1) report_invalid_argument("config: conv_size < 1");
    if (!(c.norm_eps > 0)) report_invalid_argument("config: norm_eps must be positive");
    throw_if_error(check_parameters(weights_, parameters(c)));
  }

  const SseLayerConfig& config() const noexcept { return config_; }

  /// A zero cache for `batch` sequences.
  Cache make_cache(index_t batch) const {
    const SseLayerConfig& c = config_;
    Cache cache;
    cache.batch = batch;
    cache.state.assign(static_cast<std::size_t>(batch * (1 + c.partitions) * c.value_heads() *
                                                c.head_dim * c.value_dim),
                       0.0f);
    if (c.use_short_conv) {
      const auto history =
          static_cast<std::size_t>(batch * (c.conv_size - 1) * c.heads * c.head_dim);
      cache.q_conv.assign(history, 0.0f);
      cache.k_conv.assign(history, 0.0f);
    }
    return cache;
  }

  /// y [B,T,D] = the layer of x [B,T,D] (already normalised by the block). With a cache, the
  /// recurrent states and convolution histories continue from it and are updated in place;
  /// without, they start from zero. Throws sse::invalid_argument on bad shapes.
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor) const {
    const SseLayerConfig& c = config_;
    const index_t B = x.extent(0), T = x.extent(1), D = c.hidden;
    detail::check_layer_io(x, y, D, cache != nullptr ? cache->batch : -1);
    const index_t rows = B * T, H = c.heads, K = c.head_dim, V = c.value_dim;
    const index_t HV = c.value_heads(), HK = H * K, N = c.partitions, group = HV / H;
    const Weights& w = weights_;
    const ConstMatrixMap<float> X(x.data(), rows, D, Eigen::OuterStride<>(D));
    auto buffer = [](index_t n) { return std::vector<float>(static_cast<std::size_t>(n)); };

    // Projections.
    std::vector<float> q1 = buffer(rows * HK), k1 = buffer(rows * HK), low = buffer(rows * V);
    std::vector<float> q2 = buffer(rows * HK), k2 = buffer(rows * HK);
    detail::project(w, "q_proj.weight", X, q1.data(), HK);
    detail::project(w, "k_proj.weight", X, k1.data(), HK);
    for (const auto& [lora, base, out] :
         {std::tuple{"lora_q_proj", &q1, &q2}, std::tuple{"lora_k_proj", &k1, &k2}}) {
      detail::project(w, std::string(lora) + ".0.weight", X, low.data(), V);
      detail::project(w, std::string(lora) + ".1.weight", detail::rows_of(low, rows, V),
                      out->data(), HK);
      for (std::size_t i = 0; i < out->size(); ++i) (*out)[i] += (*base)[i];
    }
    std::vector<float> v = buffer(rows * HV * V), eta = buffer(rows * N);
    detail::project(w, "v_proj.weight", X, v.data(), HV * V);
    detail::project(w, "e_proj.weight", X, eta.data(), N);
    if (c.use_short_conv) {  // q1 and k1 only, after q2 and k2 were formed
      Cache fresh = cache == nullptr ? make_cache(B) : Cache{};
      Cache& history = cache == nullptr ? fresh : *cache;
      detail::causal_conv(q1, B, T, HK, c.conv_size, w.at("q_conv1d_shared.weight").data,
                          history.q_conv);
      detail::causal_conv(k1, B, T, HK, c.conv_size, w.at("k_conv1d_shared.weight").data,
                          history.k_conv);
    }

    // Activations.
    for (std::vector<float>* q : {&q1, &q2, &v}) {
      for (float& e : *q) e = silu(e);
    }
    for (std::vector<float>* k : {&k1, &k2}) {
      if constexpr (kGla) {  // softmax over each head's K channels
        for (index_t r = 0; r < rows * H; ++r) {
          float* row = k->data() + r * K;
          const float largest = *std::max_element(row, row + K);
          float sum = 0;
          for (index_t i = 0; i < K; ++i) sum += (row[i] = std::exp(row[i] - largest));
          for (index_t i = 0; i < K; ++i) row[i] /= sum;
        }
      } else {
        for (float& e : *k) e = silu(e);
      }
    }

    // Gates: GLA [rows, H*K] per key head, GDN [rows, HV] per value head.
    const index_t gate_width = kGla ? HK : HV;
    std::vector<float> g1 = buffer(rows * gate_width), g2 = buffer(rows * gate_width);
    std::vector<float> beta1, beta2;
    if constexpr (kGla) {
      std::vector<float> low_rank = buffer(rows * kGateLowRank);
      for (const auto& [i, g] : {std::pair{"0", &g1}, std::pair{"1", &g2}}) {
        const std::string base = std::string("gk_proj.") + i;
        detail::project(w, base + ".0.weight", X, low_rank.data(), kGateLowRank);
        detail::project(w, base + ".1.weight", detail::rows_of(low_rank, rows, kGateLowRank),
                        g->data(), HK, base + ".1.bias");
        for (float& e : *g) e = logsigmoid(e) / 16.0f;
      }
    } else {
      std::vector<float> a = buffer(rows * 2 * HV), b = buffer(rows * 2 * HV);
      detail::project(w, "a_proj.weight", X, a.data(), 2 * HV);
      detail::project(w, "b_proj.weight", X, b.data(), 2 * HV);
      const std::vector<float>& a_log = w.at("A_log").data;
      const std::vector<float>& dt_bias = w.at("dt_bias").data;
      beta1 = buffer(rows * HV), beta2 = buffer(rows * HV);
      const float beta_scale = c.allow_neg_eigval ? 2.0f : 1.0f;
      for (index_t r = 0; r < rows; ++r) {
        for (index_t j = 0; j < 2 * HV; ++j) {
          const float gate = -std::exp(a_log[j]) * softplus(a[r * 2 * HV + j] + dt_bias[j]);
          const float beta = beta_scale * sigmoid(b[r * 2 * HV + j]);
          (j < HV ? g1 : g2)[r * HV + j % HV] = gate;
          (j < HV ? beta1 : beta2)[r * HV + j % HV] = beta;
        }
      }
    }

    // Grouped value heads: value head j reads q/k (and GLA gate) head j / group.
    auto per_value_head = [&](std::vector<float>& t) {
      if (group == 1) return;
      std::vector<float> wide = buffer(rows * HV * K);
      for (index_t r = 0; r < rows; ++r) {
        for (index_t j = 0; j < HV; ++j) {
          const float* src = t.data() + (r * H + j / group) * K;
          std::copy(src, src + K, wide.data() + (r * HV + j) * K);
        }
      }
      t.swap(wide);
    };
    for (std::vector<float>* t : {&q1, &q2, &k1, &k2}) per_value_head(*t);
    if constexpr (kGla) {
      per_value_head(g1);
      per_value_head(g2);
    }

    // The operator.
    SseInputs<Rule> in;
    in.q1 = {q1.data(), {B, T, HV, K}}, in.k1 = {k1.data(), {B, T, HV, K}};
    in.q2 = {q2.data(), {B, T, HV, K}}, in.k2 = {k2.data(), {B, T, HV, K}};
    in.v = {v.data(), {B, T, HV, V}};
    in.eta = {eta.data(), {B, T, N}};
    if constexpr (kGla) {
      in.g1 = {g1.data(), {B, T, HV, K}}, in.g2 = {g2.data(), {B, T, HV, K}};
    } else {
      in.g1 = {g1.data(), {B, T, HV}}, in.g2 = {g2.data(), {B, T, HV}};
      in.beta1 = {beta1.data(), {B, T, HV}}, in.beta2 = {beta2.data(), {B, T, HV}};
    }
    std::vector<float> o = buffer(rows * HV * V);
    SseOutputs<float> out;
    out.o = {o.data(), {B, T, HV, V}};
    if (cache != nullptr) {
      in.h0 = {cache->state.data(), {B, 1 + N, HV, K, V}};
      out.ht = {cache->state.data(), {B, 1 + N, HV, K, V}};
    }
    AttentionOptions options;
    options.writers = c.writers;
    options.readers = c.readers;
    options.allow_neg_eigval = c.allow_neg_eigval;
    options.qk_l2norm = !kGla;  // upstream SSE-GDN normalises q and k in the kernel
    options.path = c.path;
    options.mode = c.mode;
    sse_attention<Rule>(in, out, options, executor);

    // Output norm (per head over V), optional output gate, o_proj.
    const float eps = static_cast<float>(c.norm_eps);
    const float* norm_weight = w.at("o_norm.weight").data.data();
    std::vector<float> gate;
    if (c.use_output_gate) {
      gate = buffer(rows * HV * V);
      detail::project(w, "g_proj.0.weight", X, low.data(), V);
      detail::project(w, "g_proj.1.weight", detail::rows_of(low, rows, V), gate.data(), HV * V);
    }
    for (index_t r = 0; r < rows * HV; ++r) {
      float* row = o.data() + r * V;
      if (c.use_output_gate) {
        gated_rms_norm_row(row, gate.data() + r * V, norm_weight, eps, row,
                           static_cast<std::size_t>(V));
      } else {
        rms_norm_row(row, norm_weight, eps, row, static_cast<std::size_t>(V));
      }
    }
    detail::project(w, "o_proj.weight", detail::rows_of(o, rows, HV * V), y.data(), D);
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

 private:
  SseLayerConfig config_;
  Weights weights_;
};

}  // namespace sse
