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
///   q1, q2, v <- silu;  k1, k2 <- softmax over K (GLA) or silu (GDN)     (per rule:
///                                                              layers/layer_gates.hpp)
///   (SpikingBrain2.0's SSE branch, section 4b: qk_relu puts relu in place of silu on q1, q2
///   and GDN's keys; qkv_bias adds biases to q_proj, k_proj, v_proj)
///   GLA: g_i = logsigmoid(gk_proj.i.1(gk_proj.i.0(x))) / 16       (i = 0 shared, 1 partitions)
///   GDN: g = -exp(A_log) softplus(a_proj(x) + dt_bias), beta = sigmoid(b_proj(x)) (x2)
///   value head j uses q/k head j / (HV/H)
///   o = sse_attention(...)                           (GDN with qk_l2norm)
///   o = rmsnorm_V(o) * o_norm.weight [* silu(g_proj.1(g_proj.0(x)))]
///   y = o Wo^T                                       o_proj: HV*V -> D
///
/// Decode runs through a `Cache` (the recurrent states [B,1+N,HV,K,V] and the convolutions'
/// last W-1 inputs), updated in place: prefill then T = 1 steps equals one prefill.
///
/// Speculative decoding: `verify` runs F tokens per sequence with the arithmetic of F decode
/// steps (its outputs equal theirs bit for bit) and keeps in the cache what `commit` needs to
/// keep the first m_b of them per sequence: its activations (the operator's inputs), the
/// convolution histories before it and its tokens' inputs to them, and the operator's rollback
/// (attention/sse_speculative.hpp).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sse/attention/sse_attention.hpp"
#include "sse/attention/sse_speculative.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/activations.hpp"
#include "sse/layers/layer_gates.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/norm.hpp"
#include "sse/layers/sse_layer_config.hpp"
#include "sse/layers/weights.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

namespace sse {

namespace detail {

/// Causal depthwise convolution over time of x [B, T, C] (in place), width W, with the last
/// W-1 inputs of each row in `history` [B, W-1, C] (read, then replaced by the new last ones);
/// `padded` holds (W-1+T) C floats:
///   y[t, c] = sum_j weight[c, j] x[t - (W-1) + j, c]
inline void causal_conv(float* x, index_t B, index_t T, index_t C, index_t W, const float* weight,
                        float* history, float* padded) {
  const index_t kept = (W - 1) * C;
  for (index_t b = 0; b < B; ++b) {
    float* xb = x + b * T * C;
    float* hb = history + b * kept;
    std::copy(hb, hb + kept, padded);
    std::copy(xb, xb + T * C, padded + kept);
    for (index_t t = 0; t < T; ++t) {
      for (index_t c = 0; c < C; ++c) {
        float sum = 0;
        for (index_t j = 0; j < W; ++j) sum += weight[c * W + j] * padded[(t + j) * C + c];
        xb[t * C + c] = sum;
      }
    }
    std::copy(padded + T * C, padded + T * C + kept, hb);
  }
}

/// Value head j of HV reads head j / (HV / H) of t [rows, H, width]: wide [rows, HV, width].
inline void repeat_heads(const float* t, index_t rows, index_t H, index_t HV, index_t width,
                         float* wide) {
  const index_t group = HV / H;
  for (index_t r = 0; r < rows; ++r) {
    for (index_t j = 0; j < HV; ++j) {
      const float* src = t + (r * H + j / group) * width;
      std::copy(src, src + width, wide + (r * HV + j) * width);
    }
  }
}

}  // namespace detail

template <class Rule>
class SseLayer {
  static_assert(is_update_rule_v<Rule>, "sse::SseLayer: Rule must be an update rule policy");
  using Gates = LayerGates<Rule>;

 public:
  /// Decode state of B sequences: recurrent states and convolution histories; and a verify's
  /// record until its commit.
  struct Cache {
    index_t batch = 0;
    std::vector<float> state;              // [B,1+N,HV,K,V]
    std::vector<float> q_conv;             // [B,W-1,H*K] (short conv only)
    std::vector<float> k_conv;             // [B,W-1,H*K]
    std::vector<std::byte> verify_record;  // VerifyRecord (grows to the largest verify)
    index_t verified = 0;                  // F of the pending verify; 0: none
    std::size_t verified_operator_bytes = 0;
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
    if (c.qkv_bias) {
      specs.push_back({"q_proj.bias", {HK}});
      specs.push_back({"k_proj.bias", {HK}});
      specs.push_back({"v_proj.bias", {HV * V}});
    }
    Gates::add_parameters(c, specs);
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
  /// Bytes the layer's weights take in memory.
  std::size_t weight_bytes() const noexcept { return weights_.bytes(); }
  /// Calls f(parameter) for every matrix of the layer: the weights a token's step reads.
  template <class F>
  void for_each_matrix(F&& f) const {
    weights_.for_each([&](const std::string&, const Parameter& p) {
      if (p.shape.size() == 2) f(p);
    });
  }

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

  /// Bytes of the `Workspace` with which `forward` of x [B,T,D] on `executor` allocates
  /// nothing (the activations and the operator's scratch).
  std::size_t workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    return detail::WorkerScratch::required_bytes(
        0, 0, scratch_bytes(B, T, operator_workspace_size(B, T, executor)));
  }

  /// y [B,T,D] = the layer of x [B,T,D] (already normalised by the block). With a cache, the
  /// recurrent states and convolution histories continue from it and are updated in place;
  /// without, they start from zero. Throws sse::invalid_argument on bad shapes. With a
  /// workspace of workspace_size(B, T, executor) bytes it allocates nothing for up to
  /// kLinearDotRows tokens B T (a decode step; above, Eigen's products may pack on the heap);
  /// without one, it allocates one buffer per call.
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor, Workspace workspace = {}) const {
    detail::check_layer_io(x, y, config_.hidden, cache != nullptr ? cache->batch : -1);
    const index_t B = x.extent(0), T = x.extent(1);
    const std::size_t attention_bytes = operator_workspace_size(B, T, executor);
    const detail::WorkerScratch region(workspace, 0, 0, scratch_bytes(B, T, attention_bytes));
    ScratchArena arena = region.shared();
    const Scratch s(arena, config_, B, T, attention_bytes);
    run(x, y, cache, executor, s, nullptr);
    if (cache != nullptr) cache->verified = 0;  // a pending verify keeps all its tokens
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

  /// Speculative verify: y [B,F,D] of x [B,F,D], F tokens per sequence continuing `cache`,
  /// each row with the arithmetic of a one-token decode step (bit for bit). The cache moves
  /// past all F tokens and keeps what `commit` needs; its record grows to the largest verify
  /// (allocating then, not after). Throws sse::invalid_argument, with nothing changed, on bad
  /// shapes.
  void verify(TensorView<const float, 3> x, TensorView<float, 3> y, Cache& cache,
              Executor& executor) const {
    detail::check_layer_io(x, y, config_.hidden, cache.batch);
    detail::check_verify_tokens(x.extent(1));
    const index_t B = x.extent(0), F = x.extent(1);
    const std::size_t operator_bytes = operator_workspace_size(B, F, executor);
    const std::size_t bytes = verify_record_bytes(B, F, operator_bytes);
    if (cache.verify_record.size() < bytes) cache.verify_record.resize(bytes);
    const VerifyRecord record = verify_record(cache, B, F, operator_bytes);
    run(x, y, &cache, executor, record.activations, &record);
    cache.verified = F;
    cache.verified_operator_bytes = operator_bytes;
  }

  /// Keeps the first kept[b] tokens of each sequence of the pending verify (1 <= kept[b] <= F):
  /// the states and convolution histories end as decoding only those tokens leaves them.
  /// Throws sse::invalid_argument, with nothing changed, on a bad count or without a verify.
  void commit(TensorView<const index_t, 1> kept, Cache& cache, Executor& executor) const {
    detail::check_commit(kept, cache.batch, cache.verified);
    const SseLayerConfig& c = config_;
    const index_t B = cache.batch, F = cache.verified;
    const VerifyRecord record = verify_record(cache, B, F, cache.verified_operator_bytes);
    if (c.use_short_conv) {  // the last W-1 of (the history before, the kept tokens' inputs)
      const index_t HK = c.heads * c.head_dim, kept_rows = c.conv_size - 1;
      for (const auto& [history, before, inputs] :
           {std::tuple{cache.q_conv.data(), record.q_history, record.q_inputs},
            std::tuple{cache.k_conv.data(), record.k_history, record.k_inputs}}) {
        for (index_t b = 0; b < B; ++b) {
          for (index_t i = 0; i < kept_rows; ++i) {
            const index_t from = kept(b) + i;  // in the history before, then the tokens
            const float* row = from < kept_rows ? before + (b * kept_rows + from) * HK
                                                : inputs + (b * F + from - kept_rows) * HK;
            std::copy_n(row, HK, history + (b * kept_rows + i) * HK);
          }
        }
      }
    }
    SseInputs<Rule> in = operator_inputs(record.activations, B, F);
    const TensorView<float, 5> states = state_view(cache);
    in.h0 = states;
    Rollback rollback(record.rollback, record.rollback_bytes);
    sse_commit<Rule>(in, kept, states, operator_options(), executor, rollback,
                     Workspace(record.activations.attention, record.activations.attention_bytes));
    cache.verified = 0;
  }

 private:
  struct Scratch;
  struct VerifyRecord;

  /// The layer on x [B,T,D] with the activations in `s`: a forward, or with `record` a verify
  /// (every product row by row, the operator's verify, the convolutions' inputs kept).
  void run(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache, Executor& executor,
           const Scratch& s, const VerifyRecord* record) const {
    const SseLayerConfig& c = config_;
    const index_t B = x.extent(0), T = x.extent(1), D = c.hidden;
    const index_t rows = B * T, H = c.heads, K = c.head_dim, V = c.value_dim;
    const index_t HV = c.value_heads(), HK = H * K, N = c.partitions;
    const Weights& w = weights_;
    const ConstMatrixMap<float> X(x.data(), rows, D, Eigen::OuterStride<>(D));
    const LinearRows form = record != nullptr ? LinearRows::kEachAsDecode : LinearRows::kAuto;

    // Projections.
    auto bias = [&](std::string_view key) { return c.qkv_bias ? key : std::string_view{}; };
    detail::project(w, "q_proj.weight", X, s.q1, HK, executor, bias("q_proj.bias"), form);
    detail::project(w, "k_proj.weight", X, s.k1, HK, executor, bias("k_proj.bias"), form);
    detail::project(w, "lora_q_proj.0.weight", X, s.low, V, executor, {}, form);
    detail::project(w, "lora_q_proj.1.weight", detail::rows_of(s.low, rows, V), s.q2, HK, executor,
                    {}, form);
    detail::project(w, "lora_k_proj.0.weight", X, s.low, V, executor, {}, form);
    detail::project(w, "lora_k_proj.1.weight", detail::rows_of(s.low, rows, V), s.k2, HK, executor,
                    {}, form);
    for (index_t i = 0; i < rows * HK; ++i) s.q2[i] += s.q1[i], s.k2[i] += s.k1[i];
    detail::project(w, "v_proj.weight", X, s.v, HV * V, executor, bias("v_proj.bias"), form);
    detail::project(w, "e_proj.weight", X, s.eta, N, executor, {}, form);
    if (c.use_short_conv) {  // q1 and k1 only, after q2 and k2 were formed
      float* q_history = cache != nullptr ? cache->q_conv.data() : s.q_history;
      float* k_history = cache != nullptr ? cache->k_conv.data() : s.k_history;
      if (cache == nullptr) {
        std::fill_n(s.q_history, B * (c.conv_size - 1) * HK, 0.0f);
        std::fill_n(s.k_history, B * (c.conv_size - 1) * HK, 0.0f);
      }
      if (record != nullptr) {  // what a commit rebuilds the histories from
        const index_t history = B * (c.conv_size - 1) * HK;
        std::copy_n(q_history, history, record->q_history);
        std::copy_n(k_history, history, record->k_history);
        std::copy_n(s.q1, rows * HK, record->q_inputs);
        std::copy_n(s.k1, rows * HK, record->k_inputs);
      }
      detail::causal_conv(s.q1, B, T, HK, c.conv_size, w.at("q_conv1d_shared.weight").data.data(),
                          q_history, s.conv_padded);
      detail::causal_conv(s.k1, B, T, HK, c.conv_size, w.at("k_conv1d_shared.weight").data.data(),
                          k_history, s.conv_padded);
    }

    // Activations.
    for (float* q : {s.q1, s.q2}) {
      if (c.qk_relu) {
        for (index_t i = 0; i < rows * HK; ++i) q[i] = std::max(q[i], 0.0f);
      } else {
        for (index_t i = 0; i < rows * HK; ++i) q[i] = silu(q[i]);
      }
    }
    for (index_t i = 0; i < rows * HV * V; ++i) s.v[i] = silu(s.v[i]);
    for (float* k : {s.k1, s.k2}) Gates::activate_keys(k, rows * H, K, c.qk_relu);

    // Gates (the rule's policy, layers/layer_gates.hpp).
    Gates::compute(w, X, c, s.gate_scratch, {s.g1, s.g2, s.beta1, s.beta2}, executor, form);

    // Grouped value heads: value head j reads q/k (and per-key-head gate) head j / (HV / H).
    if (HV != H) {
      for (const auto& [narrow, wide] : s.grouped())
        detail::repeat_heads(narrow, rows, H, HV, K, wide);
    }

    // The operator, then the output norm (per head over V), the optional output gate, o_proj.
    SseInputs<Rule> in = operator_inputs(s, B, T);
    SseOutputs<float> out = operator_outputs(s, B, T);
    if (cache != nullptr) in.h0 = out.ht = state_view(*cache);
    if (record != nullptr) {
      Rollback rollback(record->rollback, record->rollback_bytes);
      sse_verify<Rule>(in, out, operator_options(), executor, rollback,
                       Workspace(s.attention, s.attention_bytes));
    } else {
      sse_attention<Rule>(in, out, operator_options(), executor,
                          Workspace(s.attention, s.attention_bytes));
    }

    const float eps = static_cast<float>(c.norm_eps);
    const float* norm_weight = w.at("o_norm.weight").data.data();
    if (c.use_output_gate) {
      detail::project(w, "g_proj.0.weight", X, s.low, V, executor, {}, form);
      detail::project(w, "g_proj.1.weight", detail::rows_of(s.low, rows, V), s.gate, HV * V,
                      executor, {}, form);
    }
    for (index_t r = 0; r < rows * HV; ++r) {
      float* row = s.o + r * V;
      if (c.use_output_gate) {
        gated_rms_norm_row(row, s.gate + r * V, norm_weight, eps, row, static_cast<std::size_t>(V));
      } else {
        rms_norm_row(row, norm_weight, eps, row, static_cast<std::size_t>(V));
      }
    }
    detail::project(w, "o_proj.weight", detail::rows_of(s.o, rows, HV * V), y.data(), D, executor,
                    {}, form);
  }

  /// The activations of one forward over B x T tokens (rows = B T), carved from one arena; on a
  /// measuring arena every pointer is null and only the sizes count.
  struct Scratch {
    float *q1, *k1, *q2, *k2;  // [rows, H*K]
    float *v, *o, *gate;       // [rows, HV*V] (gate: output gate only)
    float *low, *eta;          // [rows, V], [rows, N]
    float *g1, *g2;            // [rows, Gates::gate_width]: GLA H*K, GDN HV
    float* gate_scratch;       // the gates' own scratch (Gates::scratch_floats)
    float *beta1, *beta2;      // [rows, HV] (rules with beta)
    float *q1_wide, *k1_wide, *q2_wide, *k2_wide, *g1_wide, *g2_wide;  // [rows, HV*K], HV > H
    float *q_history, *k_history, *conv_padded;  // short conv: [B, W-1, H*K] x2, [W-1+T, H*K]
    std::byte* attention;                        // the operator's workspace
    std::size_t attention_bytes;

    Scratch(ScratchArena& arena, const SseLayerConfig& c, index_t B, index_t T,
            std::size_t attention_size) {
      const index_t rows = B * T, HK = c.heads * c.head_dim, HV = c.value_heads();
      const index_t HVK = HV * c.head_dim, HVV = HV * c.value_dim;
      auto take = [&](index_t n) { return arena.take<float>(static_cast<std::size_t>(n)); };
      q1 = take(rows * HK), k1 = take(rows * HK), q2 = take(rows * HK), k2 = take(rows * HK);
      v = take(rows * HVV), o = take(rows * HVV), gate = take(c.use_output_gate ? rows * HVV : 0);
      low = take(rows * c.value_dim), eta = take(rows * c.partitions);
      g1 = take(rows * Gates::gate_width(c)), g2 = take(rows * Gates::gate_width(c));
      gate_scratch = take(Gates::scratch_floats(c, rows));
      beta1 = take(Rule::kHasBeta ? rows * HV : 0), beta2 = take(Rule::kHasBeta ? rows * HV : 0);
      const index_t wide = HV != c.heads ? rows * HVK : 0;
      q1_wide = take(wide), k1_wide = take(wide), q2_wide = take(wide), k2_wide = take(wide);
      g1_wide = take(Gates::kPerKeyHead ? wide : 0), g2_wide = take(Gates::kPerKeyHead ? wide : 0);
      const index_t kept = c.use_short_conv ? (c.conv_size - 1) * HK : 0;
      q_history = take(B * kept), k_history = take(B * kept);
      conv_padded = take(c.use_short_conv ? kept + T * HK : 0);
      attention = arena.take<std::byte>(attention_size), attention_bytes = attention_size;
    }

    /// (narrow, wide) pairs that grouped value heads repeat.
    std::array<std::pair<const float*, float*>, Gates::kPerKeyHead ? 6 : 4> grouped() const {
      if constexpr (Gates::kPerKeyHead) {
        return {{{q1, q1_wide},
                 {k1, k1_wide},
                 {q2, q2_wide},
                 {k2, k2_wide},
                 {g1, g1_wide},
                 {g2, g2_wide}}};
      } else {
        return {{{q1, q1_wide}, {k1, k1_wide}, {q2, q2_wide}, {k2, k2_wide}}};
      }
    }
  };

  /// What a verify leaves in the cache for its commit, carved from `Cache::verify_record`: the
  /// activations of the F tokens (the operator's inputs, which a commit replays), the
  /// convolution histories before the verify and the tokens' inputs to the convolutions, and
  /// the operator's rollback.
  struct VerifyRecord {
    Scratch activations;
    float *q_history, *k_history;  // [B, W-1, H*K]
    float *q_inputs, *k_inputs;    // [B, F, H*K]
    std::byte* rollback;
    std::size_t rollback_bytes;

    VerifyRecord(ScratchArena& arena, const SseLayerConfig& c, index_t B, index_t F,
                 std::size_t operator_bytes, std::size_t rollback_size)
        : activations(arena, c, B, F, operator_bytes) {
      const index_t HK = c.heads * c.head_dim;
      const index_t history = c.use_short_conv ? B * (c.conv_size - 1) * HK : 0;
      const index_t inputs = c.use_short_conv ? B * F * HK : 0;
      q_history = arena.take<float>(static_cast<std::size_t>(history));
      k_history = arena.take<float>(static_cast<std::size_t>(history));
      q_inputs = arena.take<float>(static_cast<std::size_t>(inputs));
      k_inputs = arena.take<float>(static_cast<std::size_t>(inputs));
      rollback = arena.take<std::byte>(rollback_size);
      rollback_bytes = rollback_size;
    }
  };

  /// The operator's rollback for a verify of F tokens per sequence.
  std::size_t rollback_size(index_t B, index_t F) const noexcept {
    ScratchArena measure;
    const Scratch shapes(measure, config_, B, F, 0);
    return rollback_bytes(operator_inputs(shapes, B, F), operator_options());
  }

  std::size_t verify_record_bytes(index_t B, index_t F, std::size_t operator_bytes) const noexcept {
    return measure_scratch<VerifyRecord>(config_, B, F, operator_bytes, rollback_size(B, F)) +
           kScratchAlignment;
  }

  /// The record in `cache` (its memory sized by verify_record_bytes).
  VerifyRecord verify_record(Cache& cache, index_t B, index_t F, std::size_t operator_bytes) const {
    std::byte* base = cache.verify_record.data();
    const auto address = reinterpret_cast<std::uintptr_t>(base);
    const std::uintptr_t aligned = (address + kScratchAlignment - 1) & ~(kScratchAlignment - 1);
    ScratchArena arena(base + (aligned - address), cache.verify_record.size());
    return VerifyRecord(arena, config_, B, F, operator_bytes, rollback_size(B, F));
  }

  TensorView<float, 5> state_view(Cache& cache) const {
    const SseLayerConfig& c = config_;
    return {cache.state.data(),
            {cache.batch, 1 + c.partitions, c.value_heads(), c.head_dim, c.value_dim}};
  }

  /// The operator's inputs over the scratch (h0 is set by the caller).
  SseInputs<Rule> operator_inputs(const Scratch& s, index_t B, index_t T) const {
    const SseLayerConfig& c = config_;
    const index_t HV = c.value_heads(), K = c.head_dim, V = c.value_dim;
    const bool grouped = HV != c.heads;
    SseInputs<Rule> in;
    in.q1 = {grouped ? s.q1_wide : s.q1, {B, T, HV, K}};
    in.k1 = {grouped ? s.k1_wide : s.k1, {B, T, HV, K}};
    in.q2 = {grouped ? s.q2_wide : s.q2, {B, T, HV, K}};
    in.k2 = {grouped ? s.k2_wide : s.k2, {B, T, HV, K}};
    in.v = {s.v, {B, T, HV, V}};
    in.eta = {s.eta, {B, T, c.partitions}};
    const bool gates_wide = grouped && Gates::kPerKeyHead;
    const float* g1 = gates_wide ? s.g1_wide : s.g1;
    const float* g2 = gates_wide ? s.g2_wide : s.g2;
    if constexpr (Rule::kPerKeyDecay) {
      in.g1 = {g1, {B, T, HV, K}}, in.g2 = {g2, {B, T, HV, K}};
    } else {
      in.g1 = {g1, {B, T, HV}}, in.g2 = {g2, {B, T, HV}};
    }
    if constexpr (Rule::kHasBeta) {
      in.beta1 = {s.beta1, {B, T, HV}}, in.beta2 = {s.beta2, {B, T, HV}};
    }
    return in;
  }

  SseOutputs<float> operator_outputs(const Scratch& s, index_t B, index_t T) const {
    SseOutputs<float> out;
    out.o = {s.o, {B, T, config_.value_heads(), config_.value_dim}};
    return out;
  }

  AttentionOptions operator_options() const noexcept {
    AttentionOptions options;
    options.writers = config_.writers;
    options.readers = config_.readers;
    options.allow_neg_eigval = config_.allow_neg_eigval;
    options.qk_l2norm = Rule::kDefaultQkL2norm;  // as upstream's layers run their kernels
    options.path = config_.path;
    options.mode = config_.mode;
    return options;
  }

  /// The operator's workspace, sized for a call without ht (the larger case): it reads only
  /// the views' shapes, so views over a measuring arena's null pointers do.
  std::size_t operator_workspace_size(index_t B, index_t T,
                                      const Executor& executor) const noexcept {
    ScratchArena measure;
    const Scratch shapes(measure, config_, B, T, 0);
    return sse_attention_workspace_size<Rule>(operator_inputs(shapes, B, T),
                                              operator_outputs(shapes, B, T), operator_options(),
                                              executor);
  }

  std::size_t scratch_bytes(index_t B, index_t T, std::size_t attention_bytes) const noexcept {
    return measure_scratch<Scratch>(config_, B, T, attention_bytes);
  }

  SseLayerConfig config_;
  Weights weights_;
};

}  // namespace sse
