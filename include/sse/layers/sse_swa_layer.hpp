#pragma once

/// \file
/// `SseSwaLayer<Rule>`: SpikingBrain2.0's SSE + sliding-window layer (DESIGN.md section 4b,
/// upstream `SSEGDNH` / `SSEGLAH`). Two branches read the same normalised input x [B,T,D]:
///
///   sse_y = the SSE layer of section 4 (layers/sse_layer.hpp) with SpikingBrain2.0's names:
///           sse_q_proj, sse_k_proj, sse_v_proj, sse_e_proj, sse_o_norm, sse_o_proj,
///           sse_g_proj.{0,1}, GDN sse_a_proj, sse_b_proj, GLA sse_gk_proj.{0,1}.{0,1};
///           unprefixed lora_q_proj.*, lora_k_proj.*, A_log, dt_bias, q/k_conv1d_shared
///   swa_y = softmax attention over a window of W keys (layers/softmax_attention_layer.hpp)
///           with swa_q_proj, swa_k_proj, swa_v_proj, swa_o_proj, swa_q_norm, swa_k_norm
///   y = (RMSNorm_D(sse_y) * sse_merge_norm.weight + RMSNorm_D(swa_y) * swa_merge_norm.weight) / 2
///
/// Decode keeps the SSE states (and convolution histories) and the window's last W keys and
/// values: memory bounded by W (without a window, the branch is plain causal attention and its
/// cache grows, as upstream). A speculative `verify` and `commit` run both branches' own.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/norm.hpp"
#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/softmax_attention_layer.hpp"
#include "sse/layers/sse_layer.hpp"
#include "sse/layers/sse_layer_config.hpp"
#include "sse/layers/sse_swa_layer_config.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

template <class Rule>
class SseSwaLayer {
 public:
  struct Cache {
    index_t batch = 0;
    typename SseLayer<Rule>::Cache sse;
    SoftmaxAttentionLayer::Cache window;
  };

  /// The SSE branch's upstream name of an SSE-layer key: `sse_` + key, except the LoRA
  /// projections, A_log, dt_bias and the short convolutions, which keep their names.
  static std::string sse_key(const std::string& key) {
    const bool unprefixed = key.rfind("lora_", 0) == 0 || key == "A_log" || key == "dt_bias" ||
                            key.rfind("q_conv1d_shared", 0) == 0 ||
                            key.rfind("k_conv1d_shared", 0) == 0;
    return unprefixed ? key : "sse_" + key;
  }

  /// The keys and shapes the layer takes (upstream state_dict names).
  static std::vector<ParameterSpec> parameters(const SseSwaLayerConfig& c) {
    std::vector<ParameterSpec> specs;
    for (ParameterSpec spec : SseLayer<Rule>::parameters(c.sse)) {
      specs.push_back({sse_key(spec.key), std::move(spec.shape)});
    }
    for (ParameterSpec spec : SoftmaxAttentionLayer::parameters(c.window)) {
      specs.push_back({"swa_" + spec.key, std::move(spec.shape)});
    }
    specs.push_back({"sse_merge_norm.weight", {c.sse.hidden}});
    specs.push_back({"swa_merge_norm.weight", {c.sse.hidden}});
    return specs;
  }

  /// Checks the configuration and the weights (by their upstream names); throws
  /// sse::invalid_argument naming the problem.
  SseSwaLayer(const SseSwaLayerConfig& config, Weights weights)
      : config_(config),
        sse_merge_(checked(config, weights).take("sse_merge_norm.weight")->data),
        swa_merge_(weights.take("swa_merge_norm.weight")->data),
        swa_(config.window, weights.take_prefix("swa_")),
        sse_(config.sse, sse_branch(std::move(weights))) {
    if (config.window.hidden != config.sse.hidden) {
      report_invalid_argument("config: the SSE and window branches must share hidden");
    }
  }

  const SseSwaLayerConfig& config() const noexcept { return config_; }
  /// Bytes the layer's weights take in memory.
  std::size_t weight_bytes() const noexcept {
    return sse_.weight_bytes() + swa_.weight_bytes() + 4 * (sse_merge_.size() + swa_merge_.size());
  }
  /// Calls f(parameter) for every matrix of both branches.
  template <class F>
  void for_each_matrix(F&& f) const {
    sse_.for_each_matrix(f);
    swa_.for_each_matrix(f);
  }

  /// A fresh cache; the window keeps room for verifies of `verify_tokens` tokens.
  Cache make_cache(index_t batch, index_t verify_tokens = 0) const {
    return Cache{batch, sse_.make_cache(batch), swa_.make_cache(batch, 0, verify_tokens)};
  }

  /// Bytes of the `Workspace` with which `forward` of x [B,T,D] on `executor` allocates
  /// nothing for up to kLinearDotRows tokens B T (a decode step).
  std::size_t workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    return detail::WorkerScratch::required_bytes(
        0, 0, measure_scratch<Scratch>(B * T * config_.sse.hidden, branch_bytes(B, T, executor)));
  }

  /// y [B,T,D] = the layer of x [B,T,D] (already normalised by the block), continuing from
  /// `cache` when given (and updating it).
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor, Workspace workspace = {}) const {
    detail::check_layer_io(x, y, config_.sse.hidden, cache != nullptr ? cache->batch : -1);
    run(x, y, cache, executor, workspace, false);
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

  /// Speculative verify of F tokens per sequence (SseLayer::verify, SoftmaxAttentionLayer::
  /// verify): every row bit for bit a decode step's. Throws sse::invalid_argument, with
  /// nothing changed, on bad shapes or an empty sequence.
  void verify(TensorView<const float, 3> x, TensorView<float, 3> y, Cache& cache,
              Executor& executor, Workspace workspace = {}) const {
    detail::check_layer_io(x, y, config_.sse.hidden, cache.batch);
    run(x, y, &cache, executor, workspace, true);
  }

  /// Keeps the first kept[b] tokens of each sequence of the pending verify, in both branches.
  void commit(TensorView<const index_t, 1> kept, Cache& cache, Executor& executor) const {
    detail::check_commit(kept, cache.batch, cache.window.verified);
    sse_.commit(kept, cache.sse, executor);
    swa_.commit(kept, cache.window);
  }

 private:
  /// Both branches and the merge; a verify runs the window's first (it checks the cache is
  /// not empty before anything changes).
  void run(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache, Executor& executor,
           Workspace workspace, bool verifying) const {
    const index_t B = x.extent(0), T = x.extent(1), D = config_.sse.hidden;
    const std::size_t branch = branch_bytes(B, T, executor);
    const detail::WorkerScratch region(workspace, 0, 0,
                                       measure_scratch<Scratch>(B * T * D, branch));
    ScratchArena arena = region.shared();
    const Scratch s(arena, B * T * D, branch);
    const TensorView<float, 3> sse_y{s.sse_y, {B, T, D}}, swa_y{s.swa_y, {B, T, D}};
    if (verifying) {
      swa_.verify(x, swa_y, cache->window, executor, Workspace(s.branch, branch));
      sse_.verify(x, sse_y, cache->sse, executor);
    } else {
      sse_.forward(x, sse_y, cache ? &cache->sse : nullptr, executor, Workspace(s.branch, branch));
      swa_.forward(x, swa_y, cache ? &cache->window : nullptr, executor,
                   Workspace(s.branch, branch));
    }
    const auto eps = static_cast<float>(config_.sse.norm_eps);
    const auto n = static_cast<std::size_t>(D);
    for (index_t r = 0; r < B * T; ++r) {
      float* a = s.sse_y + r * D;
      float* b = s.swa_y + r * D;
      rms_norm_row(a, sse_merge_.data(), eps, a, n);
      rms_norm_row(b, swa_merge_.data(), eps, b, n);
      float* out = y.data() + r * D;
      for (index_t i = 0; i < D; ++i) out[i] = (a[i] + b[i]) / 2.0f;
    }
  }

  struct Scratch {
    float *sse_y, *swa_y;  // [B*T, D]
    std::byte* branch;     // either branch's workspace (they run one after the other)
    Scratch(ScratchArena& arena, index_t activations, std::size_t branch_bytes)
        : sse_y(arena.take<float>(static_cast<std::size_t>(activations))),
          swa_y(arena.take<float>(static_cast<std::size_t>(activations))),
          branch(arena.take<std::byte>(branch_bytes)) {}
  };

  std::size_t branch_bytes(index_t B, index_t T, const Executor& executor) const noexcept {
    return std::max(sse_.workspace_size(B, T, executor), swa_.workspace_size(B, T, executor));
  }

  static Weights& checked(const SseSwaLayerConfig& c, Weights& weights) {
    throw_if_error(check_parameters(weights, parameters(c)));
    return weights;
  }

  /// The SSE branch's weights under the SSE layer's names: the `sse_` keys with the prefix
  /// removed and the unprefixed ones (what remains once the window's are taken).
  static Weights sse_branch(Weights weights) {
    Weights branch = weights.take_prefix("sse_");
    for (const std::string& key : weights.keys()) branch.add(key, *weights.take(key));
    return branch;
  }

  SseSwaLayerConfig config_;
  std::vector<float> sse_merge_, swa_merge_;
  SoftmaxAttentionLayer swa_;
  SseLayer<Rule> sse_;
};

}  // namespace sse
