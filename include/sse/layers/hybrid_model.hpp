#pragma once

/// \file
/// `HybridModel`: SSE-H (DESIGN.md section 4) and SpikingBrain2.0 (section 4b). Token
/// embeddings, then blocks
///
///   x <- x + mixer(rmsnorm(x, attn_norm));   x <- x + mlp(rmsnorm(x, mlp_norm))
///
/// where the mixer is (HybridConfig::mixer_kind) an SSE layer (SSE-GLA or SSE-GDN,
/// `linear_attn_type`), softmax attention, MoBA attention or an SSE-SWA layer; then a final
/// rmsnorm and lm_head (the embedding matrix when tied). Matrices stay in the precision the
/// checkpoint stores them in (layers/weights.hpp). Weight names as upstream:
/// model.embeddings.weight, model.layers.{i}.attn_norm.weight, model.layers.{i}.attn.*,
/// model.layers.{i}.mlp_norm.weight, model.layers.{i}.mlp.*, model.norm.weight, lm_head.weight.
/// Prefill and decode go through a `Cache` (one per mixer). Speculative decoding: `verify`
/// feeds F tokens per sequence (the last accepted one and its drafts) and returns the logits of
/// every row, each bit for bit what a decode step would give; `commit` keeps the first m_b
/// tokens of each sequence, as if only they had been decoded.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sse/core/parallel.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/layers/hybrid_config.hpp"
#include "sse/layers/linear.hpp"
#include "sse/layers/mlp.hpp"
#include "sse/layers/norm.hpp"
#include "sse/layers/softmax_attention_layer.hpp"
#include "sse/layers/sse_layer.hpp"
#include "sse/layers/sse_swa_layer.hpp"
#include "sse/layers/weights.hpp"

namespace sse {

class HybridModel {
 public:
  using Mixer = std::variant<SseLayer<GlaRule>, SseLayer<GdnRule>, SoftmaxAttentionLayer,
                             SseSwaLayer<GlaRule>, SseSwaLayer<GdnRule>>;
  using MixerCache =
      std::variant<SseLayer<GlaRule>::Cache, SseLayer<GdnRule>::Cache, SoftmaxAttentionLayer::Cache,
                   SseSwaLayer<GlaRule>::Cache, SseSwaLayer<GdnRule>::Cache>;

  /// The decode state of B sequences: one cache per block, and the tokens seen.
  struct Cache {
    index_t batch = 0;
    std::vector<MixerCache> mixers;
    std::vector<index_t> seen;  // [B] tokens each sequence has seen
    index_t verified = 0;       // F of the pending verify; 0: none
  };

  /// Every key and shape of a model of `config` whose MLPs have `intermediate` channels
  /// (config.intermediate_size when it gives one).
  static std::vector<ParameterSpec> parameters(const HybridConfig& config, index_t intermediate) {
    const HybridConfig& c = config;
    const index_t D = c.hidden_size;
    std::vector<ParameterSpec> specs = {{"model.embeddings.weight", {c.vocab_size, D}}};
    for (index_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string prefix = "model.layers." + std::to_string(i) + ".";
      specs.push_back({prefix + "attn_norm.weight", {D}});
      for (ParameterSpec& spec : mixer_parameters(c, i)) {
        specs.push_back({prefix + "attn." + spec.key, std::move(spec.shape)});
      }
      specs.push_back({prefix + "mlp_norm.weight", {D}});
      for (ParameterSpec& spec : SwiGluMlp::parameters(D, intermediate)) {
        specs.push_back({prefix + "mlp." + spec.key, std::move(spec.shape)});
      }
    }
    specs.push_back({"model.norm.weight", {D}});
    if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, D}});
    return specs;
  }

  /// Block i's mixer's keys and shapes (under model.layers.{i}.attn.).
  static std::vector<ParameterSpec> mixer_parameters(const HybridConfig& c, index_t i) {
    switch (c.mixer_kind(i)) {
      case MixerKind::kAttention:
        return SoftmaxAttentionLayer::parameters(c.attention_layer());
      case MixerKind::kMoba:
        return SoftmaxAttentionLayer::parameters(c.attention_layer(true));
      case MixerKind::kSseSwa:
        return c.linear_attn_type == "gdn" ? SseSwaLayer<GdnRule>::parameters(sse_swa_config(c))
                                           : SseSwaLayer<GlaRule>::parameters(sse_swa_config(c));
      case MixerKind::kSse:
        break;
    }
    return c.linear_attn_type == "gdn" ? SseLayer<GdnRule>::parameters(c.sse_layer())
                                       : SseLayer<GlaRule>::parameters(c.sse_layer());
  }

  /// Builds every block from `weights` (all of the model's keys); throws sse::invalid_argument
  /// naming the first missing, misshapen or extra key.
  HybridModel(const HybridConfig& config, Weights weights) : config_(config) {
    const HybridConfig& c = config_;
    const index_t D = c.hidden_size;
    Parts parts;
    parts.embeddings = take_matrix(weights, "model.embeddings.weight", {c.vocab_size, D});
    for (index_t i = 0; i < c.num_hidden_layers; ++i) {
      const std::string prefix = "model.layers." + std::to_string(i) + ".";
      std::vector<float> attn_norm = take(weights, prefix + "attn_norm.weight", {D});
      std::vector<float> mlp_norm = take(weights, prefix + "mlp_norm.weight", {D});
      Mixer mixer = make_mixer(c, i, weights.take_prefix(prefix + "attn."));
      Weights mlp = weights.take_prefix(prefix + "mlp.");
      index_t intermediate = c.intermediate_size.value_or(0);
      if (intermediate == 0 && mlp.contains("gate_proj.weight")) {
        intermediate = mlp.at("gate_proj.weight").shape[0];
      }
      throw_if_error(check_parameters(mlp, SwiGluMlp::parameters(D, intermediate)));
      parts.blocks.push_back(Block{std::move(attn_norm), std::move(mlp_norm), std::move(mixer),
                                   SwiGluMlp(std::move(mlp), D, intermediate)});
    }
    parts.final_norm = take(weights, "model.norm.weight", {D});
    if (!c.tie_word_embeddings) {
      parts.lm_head = take_matrix(weights, "lm_head.weight", {c.vocab_size, D});
    }
    if (weights.size() != 0) {
      report_invalid_argument(detail::quoted_text(weights.keys().front()) + ": unexpected key" +
                              (weights.origin().empty() ? "" : " in " + weights.origin()) +
                              " (not a parameter of this model)");
    }
    parts_ = std::make_shared<const Parts>(std::move(parts));
  }

  /// The model of this one's first `layers` blocks, its final norm and its head: a draft for
  /// speculative decoding that needs no weights of its own (it shares these).
  HybridModel first_layers(index_t layers) const {
    if (layers < 1 || layers > config_.num_hidden_layers) {
      report_invalid_argument("layers: expected 1 to " + std::to_string(config_.num_hidden_layers) +
                              ", got " + std::to_string(layers));
    }
    HybridModel prefix = *this;
    prefix.config_.num_hidden_layers = layers;
    return prefix;
  }

  const HybridConfig& config() const noexcept { return config_; }

  /// Bytes the weights take in memory (matrices in their stored precision).
  std::size_t weight_bytes() const noexcept {
    std::size_t bytes =
        parts_->embeddings.bytes() + parts_->lm_head.bytes() + 4 * parts_->final_norm.size();
    for (const Block& block : blocks()) {
      bytes += 4 * (block.attn_norm.size() + block.mlp_norm.size()) + block.mlp.weight_bytes();
      bytes += std::visit([](const auto& mixer) { return mixer.weight_bytes(); }, block.mixer);
    }
    return bytes;
  }

  /// Calls f(parameter, is_head) for every matrix a decode step reads: the blocks' (is_head
  /// false), then the head's (the embedding matrix when tied). An untied embedding matrix is
  /// not visited: a step reads one row of it.
  template <class F>
  void for_each_matrix(F&& f) const {
    for (const Block& block : blocks()) {
      std::visit(
          [&](const auto& mixer) {
            mixer.for_each_matrix([&](const Parameter& p) { f(p, false); });
          },
          block.mixer);
      block.mlp.for_each_matrix([&](const Parameter& p) { f(p, false); });
    }
    f(config_.tie_word_embeddings ? parts_->embeddings : parts_->lm_head, true);
  }

  /// A fresh cache for `batch` sequences; the softmax attention layers keep room for `capacity`
  /// tokens (they grow beyond it, which allocates), and window caches for verifies of
  /// `verify_tokens` tokens.
  Cache make_cache(index_t batch, index_t capacity = 0, index_t verify_tokens = 0) const {
    Cache cache;
    cache.batch = batch;
    cache.seen.assign(static_cast<std::size_t>(batch), 0);
    for (const Block& block : blocks()) {
      std::visit(
          [&](const auto& mixer) {
            using Layer = std::decay_t<decltype(mixer)>;
            if constexpr (std::is_same_v<Layer, SoftmaxAttentionLayer>) {
              cache.mixers.emplace_back(mixer.make_cache(batch, capacity, verify_tokens));
            } else if constexpr (std::is_same_v<Layer, SseSwaLayer<GlaRule>> ||
                                 std::is_same_v<Layer, SseSwaLayer<GdnRule>>) {
              cache.mixers.emplace_back(mixer.make_cache(batch, verify_tokens));
            } else {
              cache.mixers.emplace_back(mixer.make_cache(batch));
            }
          },
          block.mixer);
    }
    return cache;
  }

  /// Bytes of the `Workspace` with which `forward` of tokens [B,T] on `executor` allocates
  /// nothing for up to kLinearDotRows tokens B T (a decode step) when the cache has room for
  /// them.
  std::size_t workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    return detail::WorkerScratch::required_bytes(
        0, 0,
        measure_scratch<Scratch>(B * T * config_.hidden_size, mlp_scratch_size(B * T),
                                 mixer_workspace_size(B, T, executor)));
  }

  /// The logits of tokens [B,T] (ids in [0, vocab)), continuing from `cache` when given (and
  /// updating it): of every position when `logits` is [B,T,vocab], of each sequence's last
  /// position only when it is [B,1,vocab] (what generation needs: the head, 0.4 GFLOP a row
  /// at SpikingBrain2.0's widths, runs once per sequence). Throws sse::invalid_argument on a bad
  /// id or shape. Every product splits its output columns over `executor`, the mixers' kernels
  /// their heads or tasks; the results do not depend on the thread count.
  void forward(TensorView<const std::int64_t, 2> tokens, TensorView<float, 3> logits, Cache* cache,
               Executor& executor, Workspace workspace = {}) const {
    check_call(tokens, logits, cache, false);
    Cache local = cache == nullptr ? make_cache(tokens.extent(0), tokens.extent(1)) : Cache{};
    run(tokens, logits, cache == nullptr ? local : *cache, executor, workspace, false);
    if (cache != nullptr) cache->verified = 0;  // a pending verify keeps all its tokens
  }

  void forward(TensorView<const std::int64_t, 2> tokens, TensorView<float, 3> logits,
               Cache* cache = nullptr) const {
    SerialExecutor serial;
    forward(tokens, logits, cache, serial);
  }

  /// Speculative verify: the logits [B,F,vocab] of tokens [B,F] (each sequence's last accepted
  /// token and F - 1 drafts) continuing `cache`, every row bit for bit what decoding the tokens
  /// one by one gives. The cache moves past all F tokens and keeps what `commit` needs. Every
  /// sequence must have seen a token (a verify follows a prefill). Throws
  /// sse::invalid_argument, with nothing changed, on a bad id, shape or cache.
  void verify(TensorView<const std::int64_t, 2> tokens, TensorView<float, 3> logits, Cache& cache,
              Executor& executor, Workspace workspace = {}) const {
    check_call(tokens, logits, &cache, true);
    run(tokens, logits, cache, executor, workspace, true);
    cache.verified = tokens.extent(1);
  }

  /// Keeps the first kept[b] tokens of each sequence of the pending verify (1 <= kept[b] <= F):
  /// the cache ends as decoding only those tokens leaves it, so the next step's logits are the
  /// same bits. Throws sse::invalid_argument, with nothing changed, on a bad count or without a
  /// verify.
  void commit(TensorView<const index_t, 1> kept, Cache& cache, Executor& executor) const {
    detail::check_commit(kept, cache.batch, cache.verified);
    for (std::size_t i = 0; i < blocks().size(); ++i) {
      std::visit(
          [&](const auto& mixer) {
            using Layer = std::decay_t<decltype(mixer)>;
            auto& state = std::get<typename Layer::Cache>(cache.mixers[i]);
            if constexpr (std::is_same_v<Layer, SoftmaxAttentionLayer>) {
              mixer.commit(kept, state);
            } else {
              mixer.commit(kept, state, executor);
            }
          },
          blocks()[i].mixer);
    }
    for (index_t b = 0; b < cache.batch; ++b) cache.seen[static_cast<std::size_t>(b)] += kept(b);
    cache.verified = 0;
  }

 private:
  /// The checks of forward and verify, before anything changes.
  void check_call(TensorView<const std::int64_t, 2> tokens, TensorView<float, 3> logits,
                  const Cache* cache, bool verifying) const {
    const HybridConfig& c = config_;
    const index_t B = tokens.extent(0), T = tokens.extent(1);
    if (verifying) {
      detail::check_verify_tokens(T);
      if (logits.extent(0) != B || logits.extent(1) != T || logits.extent(2) != c.vocab_size ||
          !logits.is_row_major_contiguous()) {
        report_invalid_argument(
            "logits: a verify gives every row's, expected a contiguous "
            "[B,F,vocab] = " +
            format_shape(Extents<3>{B, T, c.vocab_size}) + ", got " +
            format_shape(logits.extents()));
      }
    }
    if (logits.extent(0) != B || (logits.extent(1) != T && logits.extent(1) != 1) ||
        logits.extent(2) != c.vocab_size || !logits.is_row_major_contiguous()) {
      report_invalid_argument("logits: expected a contiguous [B,T,vocab] = " +
                              format_shape(Extents<3>{B, T, c.vocab_size}) +
                              " or [B,1,vocab] = " + format_shape(Extents<3>{B, 1, c.vocab_size}) +
                              ", got " + format_shape(logits.extents()));
    }
    if (cache != nullptr && cache->batch != B) {
      report_invalid_argument("cache: made for " + std::to_string(cache->batch) +
                              " sequences, the input has B = " + std::to_string(B));
    }
    if (verifying) {
      for (index_t b = 0; b < B; ++b) {
        if (cache->seen[static_cast<std::size_t>(b)] == 0) {
          report_invalid_argument("cache: a verify continues a prefilled cache; sequence " +
                                  std::to_string(b) + " has seen no token");
        }
      }
    }
    for (index_t b = 0; b < B; ++b) {
      for (index_t t = 0; t < T; ++t) {
        const std::int64_t id = tokens(b, t);
        if (id < 0 || id >= c.vocab_size) {
          report_invalid_argument("tokens: element [" + std::to_string(b) + "," +
                                  std::to_string(t) + "] = " + std::to_string(id) +
                                  " is not a token id in [0, " + std::to_string(c.vocab_size) +
                                  ")");
        }
      }
    }
  }

  /// A forward, or a verify (the mixers' verifies, every product row by row), on checked input.
  void run(TensorView<const std::int64_t, 2> tokens, TensorView<float, 3> logits, Cache& state,
           Executor& executor, Workspace workspace, bool verifying) const {
    const HybridConfig& c = config_;
    const index_t B = tokens.extent(0), T = tokens.extent(1), D = c.hidden_size;
    const index_t rows = B * T;
    const LinearRows form = verifying ? LinearRows::kEachAsDecode : LinearRows::kAuto;
    const std::size_t mixer_bytes = mixer_workspace_size(B, T, executor);
    const detail::WorkerScratch region(
        workspace, 0, 0, measure_scratch<Scratch>(rows * D, mlp_scratch_size(rows), mixer_bytes));
    ScratchArena arena = region.shared();
    const Scratch s(arena, rows * D, mlp_scratch_size(rows), mixer_bytes);
    for (index_t r = 0; r < rows; ++r) {
      parts_->embeddings.widen(static_cast<std::size_t>(tokens(r / T, r % T) * D),
                               static_cast<std::size_t>(D), s.x + r * D);
    }
    const float eps = static_cast<float>(c.norm_eps);
    auto norm_rows = [&](const std::vector<float>& weight) {
      for (index_t r = 0; r < rows; ++r) {
        rms_norm_row(s.x + r * D, weight.data(), eps, s.normed + r * D,
                     static_cast<std::size_t>(D));
      }
    };
    auto add_delta = [&] {
      for (index_t i = 0; i < rows * D; ++i) s.x[i] += s.delta[i];
    };
    const ConstMatrixMap<float> normed(s.normed, rows, D, Eigen::OuterStride<>(D));
    for (std::size_t i = 0; i < blocks().size(); ++i) {
      const Block& block = blocks()[i];
      norm_rows(block.attn_norm);
      const TensorView<const float, 3> in{s.normed, {B, T, D}};
      const TensorView<float, 3> out{s.delta, {B, T, D}};
      std::visit(
          [&](const auto& mixer) {
            using Layer = std::decay_t<decltype(mixer)>;
            auto& mixer_cache = std::get<typename Layer::Cache>(state.mixers[i]);
            if constexpr (std::is_same_v<Layer, SseLayer<GlaRule>> ||
                          std::is_same_v<Layer, SseLayer<GdnRule>>) {
              if (verifying) {  // the record of an SSE layer's verify lives in its cache
                mixer.verify(in, out, mixer_cache, executor);
                return;
              }
            } else {
              if (verifying) {
                mixer.verify(in, out, mixer_cache, executor, Workspace(s.mixer, mixer_bytes));
                return;
              }
            }
            mixer.forward(in, out, &mixer_cache, executor, Workspace(s.mixer, mixer_bytes));
          },
          block.mixer);
      add_delta();
      norm_rows(block.mlp_norm);
      block.mlp.forward(normed, MatrixMap<float>(s.delta, rows, D, Eigen::OuterStride<>(D)), s.mlp,
                        executor, form);
      add_delta();
    }
    // The head over every row, or over rows T-1, 2T-1, ... (stride T D) for the last positions.
    const index_t head_rows = logits.extent(1) == T ? rows : B;
    const index_t row_step = head_rows == rows ? 1 : T, first_row = head_rows == rows ? 0 : T - 1;
    for (index_t r = 0; r < head_rows; ++r) {
      const index_t row = first_row + r * row_step;
      rms_norm_row(s.x + row * D, parts_->final_norm.data(), eps, s.normed + row * D,
                   static_cast<std::size_t>(D));
    }
    const Parameter& head = c.tie_word_embeddings ? parts_->embeddings : parts_->lm_head;
    linear(ConstMatrixMap<float>(s.normed + first_row * D, head_rows, D,
                                 Eigen::OuterStride<>(row_step * D)),
           head, nullptr,
           MatrixMap<float>(logits.data(), head_rows, c.vocab_size,
                            Eigen::OuterStride<>(c.vocab_size)),
           executor, form);
    if (!verifying) {
      for (index_t b = 0; b < B; ++b) state.seen[static_cast<std::size_t>(b)] += T;
    }
  }

  struct Block {
    std::vector<float> attn_norm, mlp_norm;
    Mixer mixer;
    SwiGluMlp mlp;
  };

  /// The residual stream and scratch of one forward, carved from one arena: x, normed and
  /// delta [B*T, D], the MLPs' scratch, and the mixers' workspace (one block at a time).
  struct Scratch {
    float *x, *normed, *delta, *mlp;
    std::byte* mixer;

    Scratch(ScratchArena& arena, index_t activations, std::size_t mlp_floats,
            std::size_t mixer_bytes) {
      const auto n = static_cast<std::size_t>(activations);
      x = arena.take<float>(n), normed = arena.take<float>(n), delta = arena.take<float>(n);
      mlp = arena.take<float>(mlp_floats);
      mixer = arena.take<std::byte>(mixer_bytes);
    }
  };

  std::size_t mlp_scratch_size(index_t rows) const noexcept {
    std::size_t floats = 0;
    for (const Block& block : blocks()) floats = std::max(floats, block.mlp.scratch_size(rows));
    return floats;
  }

  std::size_t mixer_workspace_size(index_t B, index_t T, const Executor& executor) const noexcept {
    std::size_t bytes = 0;
    for (const Block& block : blocks()) {
      bytes = std::max(
          bytes, std::visit([&](const auto& mixer) { return mixer.workspace_size(B, T, executor); },
                            block.mixer));
    }
    return bytes;
  }

  static SseSwaLayerConfig sse_swa_config(const HybridConfig& c) {
    return SseSwaLayerConfig{c.sse_layer(), c.window_layer()};
  }

  /// Block i's mixer, by HybridConfig::mixer_kind.
  static Mixer make_mixer(const HybridConfig& c, index_t i, Weights weights) {
    const MixerKind kind = c.mixer_kind(i);
    if (kind == MixerKind::kAttention || kind == MixerKind::kMoba) {
      return Mixer(std::in_place_type<SoftmaxAttentionLayer>,
                   c.attention_layer(kind == MixerKind::kMoba), std::move(weights));
    }
    if (kind == MixerKind::kSseSwa) {
      if (c.linear_attn_type == "gdn") {
        return Mixer(std::in_place_type<SseSwaLayer<GdnRule>>, sse_swa_config(c),
                     std::move(weights));
      }
      return Mixer(std::in_place_type<SseSwaLayer<GlaRule>>, sse_swa_config(c), std::move(weights));
    }
    if (c.linear_attn_type == "gdn") {
      return Mixer(std::in_place_type<SseLayer<GdnRule>>, c.sse_layer(), std::move(weights));
    }
    return Mixer(std::in_place_type<SseLayer<GlaRule>>, c.sse_layer(), std::move(weights));
  }

  /// Moves parameter `key` out of `weights`, checking its shape (float32 values).
  static std::vector<float> take(Weights& weights, const std::string& key,
                                 const std::vector<index_t>& shape) {
    return take_matrix(weights, key, shape).data;
  }

  /// Moves parameter `key` out of `weights`, checking its shape (in its stored precision).
  static Parameter take_matrix(Weights& weights, const std::string& key,
                               const std::vector<index_t>& shape) {
    const std::string from = weights.origin().empty() ? "" : " in " + weights.origin();
    std::optional<Parameter> p = weights.take(key);
    if (!p) {
      report_invalid_argument(key + ": missing" + from + " (expected float32 " +
                              format_shape(shape) + ")");
    }
    if (p->shape != shape) {
      report_invalid_argument(key + ": expected shape " + format_shape(shape) + ", got " +
                              format_shape(p->shape) + from);
    }
    return std::move(*p);
  }

  /// The weights, shared by the models `first_layers` makes.
  struct Parts {
    Parameter embeddings, lm_head;  // [vocab, D], stored precision
    std::vector<float> final_norm;
    std::vector<Block> blocks;
  };
  /// The first config_.num_hidden_layers blocks: the ones this model runs.
  struct BlockRange {
    const Block* first;
    std::size_t count;
    const Block* begin() const noexcept { return first; }
    const Block* end() const noexcept { return first + count; }
    std::size_t size() const noexcept { return count; }
    const Block& operator[](std::size_t i) const noexcept { return first[i]; }
  };
  BlockRange blocks() const noexcept {
    return {parts_->blocks.data(), static_cast<std::size_t>(config_.num_hidden_layers)};
  }

  HybridConfig config_;  // num_hidden_layers: the blocks this model runs
  std::shared_ptr<const Parts> parts_;
};

/// The model of an upstream-style folder: `config.json` and `model.safetensors`, or, when that
/// is absent, `model.safetensors.index.json` and the shards it names (F32, BF16 or F16).
/// Throws sse::invalid_argument naming the file and the key on any problem.
inline HybridModel load_hybrid_model(const std::string& folder) {
  namespace fs = std::filesystem;
  const fs::path base(folder);
  HybridConfig config = read_hybrid_config((base / "config.json").string());
  const fs::path single = base / "model.safetensors", index = base / "model.safetensors.index.json";
  if (!fs::exists(single) && fs::exists(index)) {
    return HybridModel(config, Weights::from_safetensors_index(index.string()));
  }
  return HybridModel(config, Weights::from_safetensors(single.string()));
}

/// Greedy generation: the argmax of logits (lowest id on ties).
inline std::int64_t argmax_token(const float* logits, index_t vocab) noexcept {
  index_t best = 0;
  for (index_t i = 1; i < vocab; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

}  // namespace sse
