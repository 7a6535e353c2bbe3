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
#include <vector>

#include "sse/attention/rope.hpp"
#include "sse/attention/softmax_attention.hpp"
#include "sse/core/parallel.hpp"
#include "sse/error.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

struct SoftmaxAttentionConfig {
  index_t hidden = 0;    // D
  index_t heads = 0;     // num_heads
  index_t kv_heads = 0;  // num_kv_heads (0: heads)
  bool qkv_bias = false;
  index_t window = 0;  // 0: unlimited
  double rope_theta = 10000.0;

  index_t key_value_heads() const noexcept { return kv_heads > 0 ? kv_heads : heads; }
  index_t head_dim() const noexcept { return heads > 0 ? hidden / heads : 0; }
};

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

  /// y [B,T,D] = the layer of x [B,T,D] at positions cache.length.. (0.. without a cache); the
  /// new keys and values are appended to the cache.
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor) const {
    const SoftmaxAttentionConfig& c = config_;
    const index_t B = x.extent(0), T = x.extent(1), D = c.hidden;
    detail::check_layer_io(x, y, D, cache != nullptr ? cache->batch : -1);
    Cache local = cache == nullptr ? make_cache(B, T) : Cache{};
    Cache& kv = cache == nullptr ? local : *cache;
    const index_t HQ = c.heads, HKV = c.key_value_heads(), hd = c.head_dim(), rows = B * T;
    const index_t past = kv.length;
    reserve(kv, past + T);

    const ConstMatrixMap<float> X(x.data(), rows, D, Eigen::OuterStride<>(D));
    auto bias = [&](const char* key) {
      return c.qkv_bias ? weights_.at(key).data.data() : nullptr;
    };
    std::vector<float> q(static_cast<std::size_t>(rows * D));
    std::vector<float> k(static_cast<std::size_t>(rows * HKV * hd)), v(k.size());
    linear<float>(X, weights_.at("q_proj.weight").data.data(), bias("q_proj.bias"),
                  MatrixMap<float>(q.data(), rows, D, Eigen::OuterStride<>(D)));
    linear<float>(X, weights_.at("k_proj.weight").data.data(), bias("k_proj.bias"),
                  MatrixMap<float>(k.data(), rows, HKV * hd, Eigen::OuterStride<>(HKV * hd)));
    linear<float>(X, weights_.at("v_proj.weight").data.data(), bias("v_proj.bias"),
                  MatrixMap<float>(v.data(), rows, HKV * hd, Eigen::OuterStride<>(HKV * hd)));
    const std::vector<std::int64_t> offsets(static_cast<std::size_t>(B), past);
    const TensorView<const std::int64_t, 1> positions{offsets.data(), {B}};
    apply_rope(TensorView<float, 4>{q.data(), {B, T, HQ, hd}}, positions, c.rope_theta);
    apply_rope(TensorView<float, 4>{k.data(), {B, T, HKV, hd}}, positions, c.rope_theta);

    // Append to the cache: token t of row b at position past + t.
    const index_t width = HKV * hd;
    for (index_t b = 0; b < B; ++b) {
      const std::size_t from = static_cast<std::size_t>(b * T * width);
      const std::size_t to = static_cast<std::size_t>((b * kv.capacity + past) * width);
      std::copy_n(k.begin() + from, T * width, kv.keys.begin() + to);
      std::copy_n(v.begin() + from, T * width, kv.values.begin() + to);
    }
    kv.length = past + T;

    SoftmaxAttentionInputs<float> in;
    in.q = {q.data(), {B, T, HQ, hd}};
    const Extents<4> cache_strides{kv.capacity * width, width, hd, 1};
    in.k = {kv.keys.data(), {B, kv.length, HKV, hd}, cache_strides};
    in.v = {kv.values.data(), {B, kv.length, HKV, hd}, cache_strides};
    in.offsets = positions;
    std::vector<float> o(static_cast<std::size_t>(rows * D));
    SoftmaxAttentionOptions options;
    options.window = c.window;
    softmax_attention(in, TensorView<float, 4>{o.data(), {B, T, HQ, hd}}, options, executor);
    linear<float>(ConstMatrixMap<float>(o.data(), rows, D, Eigen::OuterStride<>(D)),
                  weights_.at("o_proj.weight").data.data(), nullptr,
                  MatrixMap<float>(y.data(), rows, D, Eigen::OuterStride<>(D)));
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

 private:
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
