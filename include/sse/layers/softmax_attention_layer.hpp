#pragma once

/// \file
/// `SoftmaxAttentionLayer`: the standard attention layer SSE-H interleaves with SSE layers
/// (DESIGN.md section 4, upstream `Attention`), with upstream's parameter names:
///
///   head_dim = D / num_heads
///   q = x Wq^T (+ bq)            q_proj: D -> D
///   k = x Wk^T (+ bk)            k_proj: D -> num_kv_heads * head_dim
///   v = x Wv^T (+ bv)            v_proj: D -> num_kv_heads * head_dim   (biases if qkv_bias)
///   q, k <- RoPE(positions)      non-interleaved halves, theta = rope_theta
///   o = causal softmax attention (grouped-query heads, optional window)
///   y = o Wo^T                   o_proj: D -> D
///
/// Positions continue across calls through a `Cache` (the rotated keys and the values of every
/// earlier token, per sequence).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sse/attention/rope.hpp"
#include "sse/attention/softmax_attention.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

class SoftmaxAttentionLayer {
 public:
  /// Keys and values of the tokens seen so far, per sequence: [B, capacity, HKV, head_dim].
  struct Cache {
    index_t batch = 0;
    index_t length = 0;  // tokens seen (every sequence of the batch advances together)
    index_t capacity = 0;
    std::vector<float> keys, values;
  };

  static std::vector<ParameterSpec> parameters(const SoftmaxAttentionConfig& c) {
    const index_t D = c.hidden, KV = c.key_value_heads() * c.head_dim();
    std::vector<ParameterSpec> specs = {{"q_proj.weight", {D, D}},
                                        {"k_proj.weight", {KV, D}},
                                        {"v_proj.weight", {KV, D}},
                                        {"o_proj.weight", {D, D}}};
    if (c.qkv_bias) {
      specs.push_back({"q_proj.bias", {D}});
      specs.push_back({"k_proj.bias", {KV}});
      specs.push_back({"v_proj.bias", {KV}});
    }
    return specs;
  }

  /// Checks the configuration and the weights; throws sse::invalid_argument naming the problem.
  SoftmaxAttentionLayer(const SoftmaxAttentionConfig& config, Weights weights)
      : config_(config), weights_(std::move(weights)) {
    const SoftmaxAttentionConfig& c = config_;
    if (c.hidden < 1 || c.heads < 1 || c.hidden % c.heads != 0 || c.head_dim() % 2 != 0) {
      report_invalid_argument("config: hidden = " + std::to_string(c.hidden) +
                              " must split into heads = " + std::to_string(c.heads) +
                              " of an even head_dim (rotary embedding)");
    }
    if (c.key_value_heads() < 1 || c.heads % c.key_value_heads() != 0) {
      report_invalid_argument("config: num_kv_heads = " + std::to_string(c.key_value_heads()) +
                              " must divide num_heads = " + std::to_string(c.heads));
    }
    if (c.window < 0) report_invalid_argument("config: window must be >= 0");
    throw_if_error(check_parameters(weights_, parameters(c)));
  }

  const SoftmaxAttentionConfig& config() const noexcept { return config_; }

  /// An empty cache for `batch` sequences with room for `capacity` tokens (it grows if needed).
  Cache make_cache(index_t batch, index_t capacity = 0) const {
    Cache cache;
    cache.batch = batch;
    reserve(cache, capacity);
    return cache;
  }

  /// Bytes of the `Workspace` with which `forward` of x [B,T,D] on `executor` allocates
  /// nothing for up to kLinearDotRows tokens B T (a decode step), as long as the cache has room
  /// for them (make_cache's capacity).
  std::size_t workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    return detail::WorkerScratch::required_bytes(
        0, 0, measure_scratch<Scratch>(config_, B, T, attention_workspace_size(executor)));
  }

  /// y [B,T,D] = the layer of x [B,T,D] at positions cache.length.. (0.. without a cache); the
  /// new keys and values are appended to the cache (which grows when full).
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor, Workspace workspace = {}) const {
    const SoftmaxAttentionConfig& c = config_;
    const index_t B = x.extent(0), T = x.extent(1), D = c.hidden;
    detail::check_layer_io(x, y, D, cache != nullptr ? cache->batch : -1);
    Cache local = cache == nullptr ? make_cache(B, T) : Cache{};
    Cache& kv = cache == nullptr ? local : *cache;
    const index_t HQ = c.heads, HKV = c.key_value_heads(), hd = c.head_dim(), rows = B * T;
    const index_t past = kv.length, width = HKV * hd;
    reserve(kv, past + T);
    const std::size_t attention_bytes = attention_workspace_size(executor);
    const detail::WorkerScratch region(workspace, 0, 0,
                                       measure_scratch<Scratch>(c, B, T, attention_bytes));
    ScratchArena arena = region.shared();
    const Scratch s(arena, c, B, T, attention_bytes);

    const ConstMatrixMap<float> X(x.data(), rows, D, Eigen::OuterStride<>(D));
    auto bias = [&](std::string_view key) {
      return c.qkv_bias ? weights_.at(key).data.data() : nullptr;
    };
    linear<float>(X, weights_.at("q_proj.weight").data.data(), bias("q_proj.bias"),
                  MatrixMap<float>(s.q, rows, D, Eigen::OuterStride<>(D)));
    linear<float>(X, weights_.at("k_proj.weight").data.data(), bias("k_proj.bias"),
                  MatrixMap<float>(s.k, rows, width, Eigen::OuterStride<>(width)));
    linear<float>(X, weights_.at("v_proj.weight").data.data(), bias("v_proj.bias"),
                  MatrixMap<float>(s.v, rows, width, Eigen::OuterStride<>(width)));
    std::fill_n(s.positions, B, past);
    const TensorView<const std::int64_t, 1> positions{s.positions, {B}};
    apply_rope(TensorView<float, 4>{s.q, {B, T, HQ, hd}}, positions, c.rope_theta);
    apply_rope(TensorView<float, 4>{s.k, {B, T, HKV, hd}}, positions, c.rope_theta);

    // Append to the cache: token t of row b at position past + t.
    for (index_t b = 0; b < B; ++b) {
      const index_t to = (b * kv.capacity + past) * width;
      std::copy_n(s.k + b * T * width, T * width, kv.keys.data() + to);
      std::copy_n(s.v + b * T * width, T * width, kv.values.data() + to);
    }
    kv.length = past + T;

    SoftmaxAttentionInputs<float> in;
    in.q = {s.q, {B, T, HQ, hd}};
    const Extents<4> cache_strides{kv.capacity * width, width, hd, 1};
    in.k = {kv.keys.data(), {B, kv.length, HKV, hd}, cache_strides};
    in.v = {kv.values.data(), {B, kv.length, HKV, hd}, cache_strides};
    in.offsets = positions;
    SoftmaxAttentionOptions options;
    options.window = c.window;
    softmax_attention(in, TensorView<float, 4>{s.o, {B, T, HQ, hd}}, options, executor,
                      Workspace(s.attention, attention_bytes));
    linear<float>(ConstMatrixMap<float>(s.o, rows, D, Eigen::OuterStride<>(D)),
                  weights_.at("o_proj.weight").data.data(), nullptr,
                  MatrixMap<float>(y.data(), rows, D, Eigen::OuterStride<>(D)));
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

 private:
  /// The activations of one forward over B x T tokens, carved from one arena.
  struct Scratch {
    float *q, *o;             // [B*T, D]
    float *k, *v;             // [B*T, HKV*head_dim]
    std::int64_t* positions;  // [B]: the position of each row's first new token
    std::byte* attention;     // the attention kernel's workspace

    Scratch(ScratchArena& arena, const SoftmaxAttentionConfig& c, index_t B, index_t T,
            std::size_t attention_bytes) {
      const auto rows = static_cast<std::size_t>(B * T);
      const auto width = static_cast<std::size_t>(c.key_value_heads() * c.head_dim());
      q = arena.take<float>(rows * c.hidden), o = arena.take<float>(rows * c.hidden);
      k = arena.take<float>(rows * width), v = arena.take<float>(rows * width);
      positions = arena.take<std::int64_t>(static_cast<std::size_t>(B));
      attention = arena.take<std::byte>(attention_bytes);
    }
  };

  /// The attention kernel's workspace: it depends only on the head size and the executor.
  std::size_t attention_workspace_size(const Executor& executor) const noexcept {
    SoftmaxAttentionInputs<float> shapes;
    shapes.v = {nullptr, {1, 1, 1, config_.head_dim()}};
    return softmax_attention_workspace_size(shapes, executor);
  }

  /// Grows `cache` to hold at least `tokens` tokens per sequence (doubling), keeping its data.
  void reserve(Cache& cache, index_t tokens) const {
    if (tokens <= cache.capacity) return;
    const index_t capacity = std::max(tokens, 2 * cache.capacity);
    const index_t width = config_.key_value_heads() * config_.head_dim();
    for (std::vector<float>* data : {&cache.keys, &cache.values}) {
      std::vector<float> grown(static_cast<std::size_t>(cache.batch * capacity * width));
      for (index_t b = 0; b < cache.batch; ++b) {
        std::copy_n(data->begin() + b * cache.capacity * width, cache.length * width,
                    grown.begin() + b * capacity * width);
      }
      data->swap(grown);
    }
    cache.capacity = capacity;
  }

  SoftmaxAttentionConfig config_;
  Weights weights_;
};

}  // namespace sse
