#pragma once

/// \file
/// `SoftmaxAttentionLayer`: the softmax attention layers, with upstream's parameter names:
/// SSE-H's (DESIGN.md section 4, upstream `Attention`) and SpikingBrain2.0's full attention,
/// MoBA attention and the window branch of its SSE-SWA layers (section 4b).
///
///   hd = head_dim (SSE-H: D / num_heads)
///   q = x Wq^T (+ bq)            q_proj: D -> HQ*hd
///   k = x Wk^T (+ bk)            k_proj: D -> HKV*hd
///   v = x Wv^T (+ bv)            v_proj: D -> HKV*hd   (biases if qkv_bias)
///   q, k <- RMSNorm_hd           q_norm, k_norm (qk_norm only)
///   q, k <- RoPE(positions)      non-interleaved halves, theta = rope_theta, float32 angles
///   o = causal softmax attention (grouped-query heads, optional window W; MoBA on a prefill
///       from an empty cache)
///   y = o Wo^T                   o_proj: HQ*hd -> D
///
/// Positions continue across calls through a `Cache`, per sequence. Without a window it keeps
/// the rotated keys and values of every earlier token (it grows); with a window W it keeps only
/// the last W (memory bounded by W). A MoBA layer attends block-sparsely only when the cache is
/// empty; every later call is dense causal attention over the cache, as upstream.
///
/// Speculative decoding: `verify` appends F tokens per sequence and attends each as a decode
/// step would (one query row per kernel call, bit for bit); `commit` keeps the first m_b of
/// them, truncating each sequence's keys and values (a window's cache holds W + F meanwhile).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sse/attention/moba_attention.hpp"
#include "sse/attention/rope.hpp"
#include "sse/attention/softmax_attention.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/layer_io.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/norm.hpp"
#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

class SoftmaxAttentionLayer {
 public:
  /// Keys and values per sequence: [B, capacity, HKV, head_dim], of which the first `kept`
  /// rows are the latest tokens' (all of them without a window, the last <= W with one).
  struct Cache {
    index_t batch = 0;
    std::vector<index_t> length;  // [B] tokens each sequence has seen
    std::vector<index_t> kept;    // [B] tokens whose keys and values are stored
    index_t capacity = 0;
    std::vector<float> keys, values;
    index_t verify_room = 0;  // drafts a window's cache keeps room for (the largest verify)
    index_t verified = 0;     // F of the pending verify; 0: none
    std::vector<index_t> length_before, kept_before;  // [B] at the pending verify

    /// The most keys any sequence stores.
    index_t most_kept() const noexcept {
      return kept.empty() ? 0 : *std::max_element(kept.begin(), kept.end());
    }
  };

  static std::vector<ParameterSpec> parameters(const SoftmaxAttentionConfig& c) {
    const index_t D = c.hidden, Q = c.heads * c.head_dim();
    const index_t KV = c.key_value_heads() * c.head_dim();
    std::vector<ParameterSpec> specs = {{"q_proj.weight", {Q, D}},
                                        {"k_proj.weight", {KV, D}},
                                        {"v_proj.weight", {KV, D}},
                                        {"o_proj.weight", {D, Q}}};
    if (c.qkv_bias) {
      specs.push_back({"q_proj.bias", {Q}});
      specs.push_back({"k_proj.bias", {KV}});
      specs.push_back({"v_proj.bias", {KV}});
    }
    if (c.qk_norm) {
      specs.push_back({"q_norm.weight", {c.head_dim()}});
      specs.push_back({"k_norm.weight", {c.head_dim()}});
    }
    return specs;
  }

  /// Checks the configuration and the weights; throws sse::invalid_argument naming the problem.
  SoftmaxAttentionLayer(const SoftmaxAttentionConfig& config, Weights weights)
      : config_(config), weights_(std::move(weights)) {
    const SoftmaxAttentionConfig& c = config_;
    if (c.hidden < 1 || c.heads < 1 || (c.head == 0 && c.hidden % c.heads != 0) ||
        c.head_dim() < 2 || c.head_dim() % 2 != 0) {
      report_invalid_argument("config: hidden = " + std::to_string(c.hidden) +
                              ", heads = " + std::to_string(c.heads) +
                              ": expected heads of an even head_dim " + "(rotary embedding)");
    }
    if (c.key_value_heads() < 1 || c.heads % c.key_value_heads() != 0) {
      report_invalid_argument("config: num_kv_heads = " + std::to_string(c.key_value_heads()) +
                              " must divide num_heads = " + std::to_string(c.heads));
    }
    if (c.window < 0) report_invalid_argument("config: window must be >= 0");
    if (c.is_moba() && (c.moba_topk < 1 || c.window != 0)) {
      report_invalid_argument("config: MoBA needs moba_topk >= 1 and no window");
    }
    if (c.qk_norm && !(c.norm_eps > 0)) report_invalid_argument("config: norm_eps must be > 0");
    throw_if_error(check_parameters(weights_, parameters(c)));
  }

  const SoftmaxAttentionConfig& config() const noexcept { return config_; }
  /// Bytes the layer's weights take in memory.
  std::size_t weight_bytes() const noexcept { return weights_.bytes(); }
  /// Calls f(parameter) for every matrix of the layer: the weights a token's step reads.
  template <class F>
  void for_each_matrix(F&& f) const {
    weights_.for_each([&](const std::string&, const Parameter& p) {
      if (p.shape.size() == 2) f(p);
    });
  }

  /// An empty cache for `batch` sequences with room for `capacity` tokens (it grows if
  /// needed). With a window W the room is W + kLinearDotRows whatever `capacity` says: a
  /// prefill grows it for the call, and it shrinks back after, so between calls it holds
  /// O(W) memory and a decode step never allocates.
  Cache make_cache(index_t batch, index_t capacity = 0, index_t verify_tokens = 0) const {
    Cache cache;
    cache.batch = batch;
    cache.length.assign(static_cast<std::size_t>(batch), 0);
    cache.kept.assign(static_cast<std::size_t>(batch), 0);
    cache.verify_room = verify_tokens;
    reserve(cache, config_.window > 0 ? window_room(cache) : capacity);
    return cache;
  }

  /// Bytes of the `Workspace` with which `forward` of x [B,T,D] on `executor` allocates
  /// nothing for up to kLinearDotRows tokens B T (a decode step), as long as the cache has room
  /// for them (make_cache's capacity).
  std::size_t workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    return detail::WorkerScratch::required_bytes(
        0, 0, measure_scratch<Scratch>(config_, B, T, kernel_workspace_size(B, T, executor)));
  }

  /// y [B,T,D] = the layer of x [B,T,D] at positions cache.length[b].. (0.. without a cache);
  /// the new keys and values go into the cache.
  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache,
               Executor& executor, Workspace workspace = {}) const {
    detail::check_layer_io(x, y, config_.hidden, cache != nullptr ? cache->batch : -1);
    const index_t B = x.extent(0), T = x.extent(1);
    Cache local = cache == nullptr ? make_cache(B, T) : Cache{};
    run(x, y, cache == nullptr ? local : *cache, executor, workspace, false);
    if (cache != nullptr) cache->verified = 0;  // a pending verify keeps all its tokens
  }

  void forward(TensorView<const float, 3> x, TensorView<float, 3> y, Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(x, y, cache, serial);
  }

  /// Speculative verify: y [B,F,D] of x [B,F,D], F tokens per sequence continuing `cache` (every
  /// sequence has seen a token), each row attended as a one-token decode step attends it (bit
  /// for bit). The keys and values of all F go into the cache until `commit`. Throws
  /// sse::invalid_argument, with nothing changed, on bad shapes or an empty sequence.
  void verify(TensorView<const float, 3> x, TensorView<float, 3> y, Cache& cache,
              Executor& executor, Workspace workspace = {}) const {
    detail::check_layer_io(x, y, config_.hidden, cache.batch);
    detail::check_verify_tokens(x.extent(1));
    for (index_t b = 0; b < cache.batch; ++b) {
      if (cache.length[static_cast<std::size_t>(b)] == 0) {
        report_invalid_argument("cache: a verify continues a prefilled cache; sequence " +
                                std::to_string(b) + " has seen no token");
      }
    }
    const auto batch = static_cast<std::size_t>(cache.batch);
    cache.length_before.assign(cache.length.begin(), cache.length.begin() + batch);
    cache.kept_before.assign(cache.kept.begin(), cache.kept.begin() + batch);
    cache.verify_room = std::max(cache.verify_room, x.extent(1));
    run(x, y, cache, executor, workspace, true);
    cache.verified = x.extent(1);
  }

  /// Keeps the first kept[b] tokens of each sequence of the pending verify (1 <= kept[b] <= F):
  /// each sequence's keys, values and position end as decoding only those tokens leaves them.
  /// Throws sse::invalid_argument, with nothing changed, on a bad count or without a verify.
  void commit(TensorView<const index_t, 1> kept, Cache& cache) const {
    detail::check_commit(kept, cache.batch, cache.verified);
    for (index_t b = 0; b < cache.batch; ++b) {
      const auto i = static_cast<std::size_t>(b);
      cache.kept[i] = cache.kept_before[i] + kept(b);
      cache.length[i] = cache.length_before[i] + kept(b);
    }
    cache.verified = 0;
    if (config_.window > 0) keep_window(cache);
  }

 private:
  /// The layer on x [B,T,D] from `kv`: a forward, or a verify (every product row by row, each
  /// token attended on its own as a decode step, the window not yet cut).
  void run(TensorView<const float, 3> x, TensorView<float, 3> y, Cache& kv, Executor& executor,
           Workspace workspace, bool verifying) const {
    const SoftmaxAttentionConfig& c = config_;
    const index_t B = x.extent(0), T = x.extent(1), D = c.hidden;
    const index_t HQ = c.heads, HKV = c.key_value_heads(), hd = c.head_dim(), rows = B * T;
    const index_t width = HKV * hd, Q = HQ * hd;
    const LinearRows form = verifying ? LinearRows::kEachAsDecode : LinearRows::kAuto;
    const std::size_t kernel_bytes = kernel_workspace_size(B, T, executor);
    const detail::WorkerScratch region(workspace, 0, 0,
                                       measure_scratch<Scratch>(c, B, T, kernel_bytes));
    ScratchArena arena = region.shared();
    const Scratch s(arena, c, B, T, kernel_bytes);
    const ConstMatrixMap<float> X(x.data(), rows, D, Eigen::OuterStride<>(D));
    auto bias = [&](std::string_view key) { return c.qkv_bias ? key : std::string_view{}; };
    detail::project(weights_, "q_proj.weight", X, s.q, Q, executor, bias("q_proj.bias"), form);
    detail::project(weights_, "k_proj.weight", X, s.k, width, executor, bias("k_proj.bias"), form);
    detail::project(weights_, "v_proj.weight", X, s.v, width, executor, bias("v_proj.bias"), form);
    if (c.qk_norm) {  // per head, before the rotation
      const auto eps = static_cast<float>(c.norm_eps);
      for (const auto& [t, heads, key] :
           {std::tuple{s.q, HQ, "q_norm.weight"}, std::tuple{s.k, HKV, "k_norm.weight"}}) {
        const float* weight = weights_.at(key).data.data();
        for (index_t r = 0; r < rows * heads; ++r) {
          rms_norm_row(t + r * hd, weight, eps, t + r * hd, static_cast<std::size_t>(hd));
        }
      }
    }
    std::copy_n(kv.length.begin(), B, s.positions);
    const TensorView<const std::int64_t, 1> positions{s.positions, {B}};
    apply_rope(TensorView<float, 4>{s.q, {B, T, HQ, hd}}, positions, c.rope_theta);
    apply_rope(TensorView<float, 4>{s.k, {B, T, HKV, hd}}, positions, c.rope_theta);
    const bool empty =
        std::all_of(kv.length.begin(), kv.length.end(), [](index_t n) { return n == 0; });
    SoftmaxAttentionInputs<float> in;
    in.q = {s.q, {B, T, HQ, hd}};
    if (c.is_moba() && empty && !verifying) {  // MoBA: a prefill on an empty cache
      in.k = {s.k, {B, T, HKV, hd}};
      in.v = {s.v, {B, T, HKV, hd}};
      moba_attention(in, TensorView<float, 4>{s.o, {B, T, HQ, hd}}, moba_options(), executor,
                     Workspace(s.kernel, kernel_bytes));
      append(kv, s.k, s.v, T);
    } else {
      // The keys the new tokens see: each sequence's kept ones, then its new ones.
      std::copy_n(kv.kept.begin(), B, s.offsets);  // the new tokens' rows in the cache
      append(kv, s.k, s.v, T);
      const Extents<4> cache_strides{kv.capacity * width, width, hd, 1};
      in.offsets = {s.offsets, {B}};
      SoftmaxAttentionOptions options;
      options.window = c.window;
      // A forward attends all T rows at once; a verify one row per call, each seeing the keys
      // up to its own, as the decode step of that token sees them.
      const index_t calls = verifying ? T : 1, rows_per_call = verifying ? 1 : T;
      for (index_t j = 0; j < calls; ++j) {
        index_t keys = 0;
        for (index_t b = 0; b < B; ++b) keys = std::max(keys, s.offsets[b] + rows_per_call);
        in.q = {s.q + j * Q, {B, rows_per_call, HQ, hd}, {T * Q, Q, hd, 1}};
        in.k = {kv.keys.data(), {B, keys, HKV, hd}, cache_strides};
        in.v = {kv.values.data(), {B, keys, HKV, hd}, cache_strides};
        const TensorView<float, 4> o{s.o + j * Q, {B, rows_per_call, HQ, hd}, {T * Q, Q, hd, 1}};
        softmax_attention(in, o, options, executor, Workspace(s.kernel, kernel_bytes));
        for (index_t b = 0; b < B; ++b) s.offsets[b] += verifying ? 1 : 0;
      }
    }
    for (index_t b = 0; b < B; ++b) kv.length[static_cast<std::size_t>(b)] += T;
    if (c.window > 0 && !verifying) keep_window(kv);
    detail::project(weights_, "o_proj.weight", detail::rows_of(s.o, rows, Q), y.data(), D, executor,
                    {}, form);
  }

  /// The activations of one forward over B x T tokens, carved from one arena.
  struct Scratch {
    float *q, *o;             // [B*T, HQ*head_dim]
    float *k, *v;             // [B*T, HKV*head_dim]
    std::int64_t* positions;  // [B] each sequence's first new position
    std::int64_t* offsets;    // [B] its first new row in the cache
    std::byte* kernel;        // the attention kernel's workspace

    Scratch(ScratchArena& arena, const SoftmaxAttentionConfig& c, index_t B, index_t T,
            std::size_t kernel_bytes) {
      const auto rows = static_cast<std::size_t>(B * T);
      const auto width = static_cast<std::size_t>(c.key_value_heads() * c.head_dim());
      const auto query_width = static_cast<std::size_t>(c.heads * c.head_dim());
      q = arena.take<float>(rows * query_width), o = arena.take<float>(rows * query_width);
      k = arena.take<float>(rows * width), v = arena.take<float>(rows * width);
      positions = arena.take<std::int64_t>(static_cast<std::size_t>(B));
      offsets = arena.take<std::int64_t>(static_cast<std::size_t>(B));
      kernel = arena.take<std::byte>(kernel_bytes);
    }
  };

  MobaOptions moba_options() const noexcept {
    MobaOptions options;
    options.chunk_size = config_.moba_chunk_size;
    options.topk = config_.moba_topk;
    return options;
  }

  /// The attention kernel's workspace: the dense kernel's depends only on the head size and
  /// the executor; MoBA's on the prefill's length too.
  std::size_t kernel_workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    const index_t hd = config_.head_dim(), HQ = config_.heads, HKV = config_.key_value_heads();
    SoftmaxAttentionInputs<float> shapes;
    shapes.q = {nullptr, {B, T, HQ, hd}};
    shapes.k = {nullptr, {B, T, HKV, hd}};
    shapes.v = {nullptr, {B, T, HKV, hd}};
    std::size_t bytes = softmax_attention_workspace_size(shapes, executor);
    if (config_.is_moba()) {
      bytes = std::max(bytes, moba_attention_workspace_size(shapes, moba_options(), executor));
    }
    return bytes;
  }

  /// Appends the T new tokens' keys and values (rows of k, v [B*T, HKV*hd]) after each
  /// sequence's kept ones.
  void append(Cache& kv, const float* k, const float* v, index_t T) const {
    reserve(kv, kv.most_kept() + T);
    const index_t width = config_.key_value_heads() * config_.head_dim();
    for (index_t b = 0; b < kv.batch; ++b) {
      index_t& kept = kv.kept[static_cast<std::size_t>(b)];
      const index_t to = (b * kv.capacity + kept) * width;
      std::copy_n(k + b * T * width, T * width, kv.keys.data() + to);
      std::copy_n(v + b * T * width, T * width, kv.values.data() + to);
      kept += T;
    }
  }

  /// A window's cache after a forward or a commit: each sequence's last W keys and values, in
  /// the room between calls.
  void keep_window(Cache& kv) const {
    const index_t width = config_.key_value_heads() * config_.head_dim();
    for (index_t b = 0; b < kv.batch; ++b) {
      index_t& kept = kv.kept[static_cast<std::size_t>(b)];
      const index_t oldest = kept - std::min(kept, config_.window);
      if (oldest == 0) continue;
      for (std::vector<float>* data : {&kv.keys, &kv.values}) {
        float* row = data->data() + b * kv.capacity * width;
        std::copy(row + oldest * width, row + kept * width, row);
      }
      kept -= oldest;
    }
    if (kv.capacity > window_room(kv)) set_capacity(kv, window_room(kv));
  }

  /// The rows a window's cache keeps between calls: W and a decode step's or a verify's tokens.
  index_t window_room(const Cache& kv) const noexcept {
    return config_.window + std::max(kLinearDotRows, kv.verify_room);
  }

  /// Grows `cache` to hold at least `tokens` tokens per sequence (doubling), keeping its data.
  void reserve(Cache& cache, index_t tokens) const {
    if (tokens > cache.capacity) set_capacity(cache, std::max(tokens, 2 * cache.capacity));
  }

  /// Reallocates `cache` with room for `capacity` >= kept tokens per sequence, keeping its data.
  void set_capacity(Cache& cache, index_t capacity) const {
    const index_t width = config_.key_value_heads() * config_.head_dim();
    for (std::vector<float>* data : {&cache.keys, &cache.values}) {
      std::vector<float> grown(static_cast<std::size_t>(cache.batch * capacity * width));
      for (index_t b = 0; b < cache.batch; ++b) {
        std::copy_n(data->begin() + b * cache.capacity * width,
                    cache.kept[static_cast<std::size_t>(b)] * width,
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
