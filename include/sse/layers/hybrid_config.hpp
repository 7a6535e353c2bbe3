#pragma once

/// \file
/// The configuration of an SSE-H model (DESIGN.md section 4) or of a SpikingBrain2.0 model
/// (`model_type` "sse_swa_moba", section 4b), read from an upstream-style `config.json`.
/// `model_type` absent or "sse" is SSE-H; anything else but "sse_swa_moba" is an error. Keys
/// (unknown keys are ignored; a key whose value is null counts as absent):
///
///   hidden_size, num_hidden_layers, num_heads, vocab_size         required
///   num_v_heads (num_heads), head_dim (hidden_size / num_heads), expand_v (1.0, a real number:
///   V = head_dim * expand_v must be within 1e-5 of an integer, as upstream requires),
///   num_sparse_partition (4), num_writer (1), num_reader (1), linear_attn_type ("gla"),
///   use_output_gate (true), use_short_conv (false), conv_size (4), allow_neg_eigval (false),
///   intermediate_size (absent: the rows of gate_proj), norm_eps (1e-6),
///   tie_word_embeddings (false),
///   attn: {layers [], num_heads, num_kv_heads (num_heads), qkv_bias (false),
///          window_size (null: unlimited), rope_theta (10000)}      absent: no attention layer
///
/// sse_swa_moba adds sse_qk_relu (false) and, in attn (then required), full_layers, qk_norm
/// and rope_theta (required, as upstream fails without them), moba_chunk_size (1024) and
/// moba_topk (4); window_size belongs to the SSE-SWA layers' window branch. Layer i is full
/// attention if it is in attn.layers and attn.full_layers, MoBA if only in attn.layers, else
/// SSE-SWA. head_dim is every mixer's head size.
///
/// An integer key accepts any integral JSON number (`4` or `4.0`, as Python's json writes a
/// float-typed config value). Defaults (in parentheses) are recorded in docs/decisions.md.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "sse/core/shape.hpp"
#include "sse/error.hpp"
#include "sse/io/json.hpp"
#include "sse/layers/softmax_attention_config.hpp"
#include "sse/layers/sse_layer_config.hpp"

#include <nlohmann/json.hpp>

namespace sse {

/// What a block's mixer is.
enum class MixerKind {
  kSse,        // SSE-GLA or SSE-GDN (SSE-H)
  kAttention,  // softmax attention (SSE-H's, or SpikingBrain2.0's full attention)
  kMoba,       // SpikingBrain2.0's MoBA attention
  kSseSwa,     // SpikingBrain2.0's SSE + sliding-window layer
};

enum class ModelType { kSseH, kSseSwaMoba };

struct HybridConfig {
  ModelType model_type = ModelType::kSseH;
  index_t hidden_size = 0, num_hidden_layers = 0, num_heads = 0, vocab_size = 0;
  index_t num_v_heads = 0, head_dim = 0;
  double expand_v = 1.0;
  index_t num_sparse_partition = 4, num_writer = 1, num_reader = 1;
  std::string linear_attn_type = "gla";
  bool use_output_gate = true, use_short_conv = false, allow_neg_eigval = false;
  index_t conv_size = 4;
  std::optional<index_t> intermediate_size;
  double norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  std::vector<index_t> attn_layers;
  index_t attn_num_heads = 0, attn_num_kv_heads = 0, attn_window = 0;
  bool attn_qkv_bias = false;
  double attn_rope_theta = 10000.0;
  // sse_swa_moba only (section 4b).
  std::vector<index_t> attn_full_layers;
  bool attn_qk_norm = false, sse_qk_relu = false;
  index_t moba_chunk_size = 1024, moba_topk = 4;

  bool is_spikingbrain() const noexcept { return model_type == ModelType::kSseSwaMoba; }

  /// V = head_dim * expand_v (parse_hybrid_config checks that it is within 1e-5 of an integer).
  index_t value_dim() const noexcept {
    return static_cast<index_t>(std::llround(static_cast<double>(head_dim) * expand_v));
  }

  bool is_attention_layer(index_t layer) const {
    return std::find(attn_layers.begin(), attn_layers.end(), layer) != attn_layers.end();
  }

  MixerKind mixer_kind(index_t layer) const {
    if (!is_spikingbrain())
      return is_attention_layer(layer) ? MixerKind::kAttention : MixerKind::kSse;
    if (!is_attention_layer(layer)) return MixerKind::kSseSwa;
    const bool full = std::find(attn_full_layers.begin(), attn_full_layers.end(), layer) !=
                      attn_full_layers.end();
    return full ? MixerKind::kAttention : MixerKind::kMoba;
  }

  /// The SSE layers' configuration (SSE-H's SSE layers, or the SSE branch of SSE-SWA layers:
  /// no grouped value heads there, as upstream's SSEGDNH/SSEGLAH ignore num_v_heads).
  SseLayerConfig sse_layer() const {
    SseLayerConfig c;
    c.hidden = hidden_size;
    c.heads = num_heads;
    c.v_heads = num_v_heads;
    c.head_dim = head_dim;
    c.value_dim = value_dim();
    c.partitions = num_sparse_partition;
    c.writers = num_writer;
    c.readers = num_reader;
    c.use_output_gate = use_output_gate;
    c.use_short_conv = use_short_conv;
    c.conv_size = conv_size;
    c.allow_neg_eigval = allow_neg_eigval;
    c.norm_eps = norm_eps;
    if (is_spikingbrain()) {
      c.v_heads = num_heads;
      c.qk_relu = sse_qk_relu;
      c.qkv_bias = attn_qkv_bias && linear_attn_type == "gla";  // SSEGDNH has no qkv biases
    }
    return c;
  }

  /// The attention layers' configuration (SSE-H's attention layers; SpikingBrain2.0's full
  /// attention and, with moba, MoBA layers).
  SoftmaxAttentionConfig attention_layer(bool moba = false) const {
    SoftmaxAttentionConfig c;
    c.hidden = hidden_size;
    c.heads = attn_num_heads;
    c.kv_heads = attn_num_kv_heads;
    c.qkv_bias = attn_qkv_bias;
    c.rope_theta = attn_rope_theta;
    c.norm_eps = norm_eps;
    if (is_spikingbrain()) {
      c.head = head_dim;
      c.qk_norm = attn_qk_norm;
      if (moba) c.moba_chunk_size = moba_chunk_size, c.moba_topk = moba_topk;
    } else {
      c.window = attn_window;
    }
    return c;
  }

  /// The window branch of SpikingBrain2.0's SSE-SWA layers: the top-level num_heads query
  /// heads, attn.num_kv_heads key/value heads, window attn.window_size.
  SoftmaxAttentionConfig window_layer() const {
    SoftmaxAttentionConfig c = attention_layer();
    c.heads = num_heads;
    c.window = attn_window;
    return c;
  }
};

namespace detail {

/// Converts the JSON `value` of the key `name` to `out`; an error naming the key when it has
/// the wrong type.
template <class T>
Status convert_config_value(const nlohmann::json& value, const std::string& name, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return Status::error(name, std::string("expected true or false"));
    out = value.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) return Status::error(name, std::string("expected a string"));
    out = value.get<std::string>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!value.is_number()) return Status::error(name, std::string("expected a number"));
    out = value.get<double>();
  } else {
    // An integer, or a float with an integral value (Python writes 4.0 for a float field).
    // The range keeps the conversion defined and any real size representable.
    constexpr double kLimit = 9.0e15;  // below 2^53: every integer up to it is exact
    constexpr auto kIntLimit = static_cast<std::int64_t>(kLimit);
    if (value.is_number_unsigned()) {
      if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(kIntLimit)) {
        return Status::error(name, std::string("integer out of range"));
      }
      out = static_cast<T>(value.get<std::uint64_t>());
    } else if (value.is_number_integer()) {
      const std::int64_t v = value.get<std::int64_t>();
      if (v < -kIntLimit || v > kIntLimit)
        return Status::error(name, std::string("integer out of range"));
      out = static_cast<T>(v);
    } else if (value.is_number_float()) {
      const double v = value.get<double>();
      if (!(std::fabs(v) <= kLimit) || v != std::floor(v)) {
        return Status::error(name, std::string("expected an integer"));
      }
      out = static_cast<T>(v);
    } else {
      return Status::error(name, std::string("expected an integer"));
    }
  }
  return {};
}

/// Reads `key` of `json` into `out` when present and not null (else leaves `out` alone).
template <class T>
Status read_config_value(const nlohmann::json& json, const char* key, T& out,
                         const std::string& where = "") {
  if (!json.contains(key) || json[key].is_null()) return {};
  return convert_config_value(json[key], where + key, out);
}

}  // namespace detail

/// The checks of section 4b a sse_swa_moba config must pass beyond the common ones (upstream
/// asserts them, or its layers could not be built); the message names the key.
inline Status check_spikingbrain_config(const HybridConfig& c) {
  for (index_t layer : c.attn_full_layers) {
    if (!c.is_attention_layer(layer)) {
      return Status::error("attn.full_layers", "layer " + std::to_string(layer) +
                                                   " is not in attn.layers (a full layer must be "
                                                   "an attention layer)");
    }
  }
  if (c.attn_num_heads < 1) return Status::error("attn.num_heads", std::string("must be >= 1"));
  if (c.attn_num_kv_heads < 1 || c.attn_num_heads % c.attn_num_kv_heads != 0 ||
      c.num_heads % c.attn_num_kv_heads != 0) {
    return Status::error("attn.num_kv_heads",
                         std::to_string(c.attn_num_kv_heads) +
                             " must divide attn.num_heads = " + std::to_string(c.attn_num_heads) +
                             " and num_heads = " + std::to_string(c.num_heads));
  }
  if (c.moba_chunk_size < 1) {
    return Status::error("attn.moba_chunk_size", std::string("must be >= 1"));
  }
  if (c.moba_topk < 1) return Status::error("attn.moba_topk", std::string("must be >= 1"));
  if (c.head_dim % 2 != 0) {
    return Status::error("head_dim", std::string("must be even (rotary embedding), got ") +
                                         std::to_string(c.head_dim));
  }
  if (!(c.attn_rope_theta > 1.0) || !std::isfinite(c.attn_rope_theta)) {
    return Status::error("attn.rope_theta", std::string("must be a finite base > 1"));
  }
  std::vector<index_t> attention = c.attn_layers;  // distinct, all in range
  std::sort(attention.begin(), attention.end());
  attention.erase(std::unique(attention.begin(), attention.end()), attention.end());
  const bool has_sse_layer = static_cast<index_t>(attention.size()) < c.num_hidden_layers;
  if (has_sse_layer) {
    if (c.expand_v != 1.0) {
      return Status::error("expand_v", std::string("must be 1 in SSE-SWA layers (upstream "
                                                   "asserts it)"));
    }
    if (c.num_sparse_partition < 1) {
      return Status::error("num_sparse_partition", std::string("must be >= 1"));
    }
    for (auto [key, k] :
         {std::pair{"num_writer", c.num_writer}, std::pair{"num_reader", c.num_reader}}) {
      if (k < 1 || k >= c.num_sparse_partition) {
        return Status::error(
            key, std::to_string(k) + " must be >= 1 and less than num_sparse_partition = " +
                     std::to_string(c.num_sparse_partition) + " (upstream asserts it)");
      }
    }
  }
  return {};
}

/// Parses the text of a config.json; the message names the key.
inline Status parse_hybrid_config(const std::string& text, HybridConfig& c) {
  nlohmann::json json;
  if (Status s = io::parse_json(text, json); !s) return s;
  if (!json.is_object()) return Status::error("expected a JSON object");
  c = {};
  std::string model_type = "sse";
  if (Status s = detail::read_config_value(json, "model_type", model_type); !s) return s;
  if (model_type == "sse_swa_moba") {
    c.model_type = ModelType::kSseSwaMoba;
  } else if (model_type != "sse") {
    return Status::error("model_type",
                         "expected \"sse\" (SSE-H) or \"sse_swa_moba\" "
                         "(SpikingBrain2.0), got \"" +
                             detail::quoted_text(model_type) + "\"");
  }
  for (const char* key : {"hidden_size", "num_hidden_layers", "num_heads", "vocab_size"}) {
    if (!json.contains(key) || json[key].is_null()) {
      return Status::error(key, std::string("missing"));
    }
  }
  index_t intermediate = 0;
  for (const Status& s : {
           detail::read_config_value(json, "hidden_size", c.hidden_size),
           detail::read_config_value(json, "num_hidden_layers", c.num_hidden_layers),
           detail::read_config_value(json, "num_heads", c.num_heads),
           detail::read_config_value(json, "vocab_size", c.vocab_size),
           detail::read_config_value(json, "num_v_heads", c.num_v_heads),
           detail::read_config_value(json, "head_dim", c.head_dim),
           detail::read_config_value(json, "expand_v", c.expand_v),
           detail::read_config_value(json, "num_sparse_partition", c.num_sparse_partition),
           detail::read_config_value(json, "num_writer", c.num_writer),
           detail::read_config_value(json, "num_reader", c.num_reader),
           detail::read_config_value(json, "linear_attn_type", c.linear_attn_type),
           detail::read_config_value(json, "use_output_gate", c.use_output_gate),
           detail::read_config_value(json, "use_short_conv", c.use_short_conv),
           detail::read_config_value(json, "conv_size", c.conv_size),
           detail::read_config_value(json, "allow_neg_eigval", c.allow_neg_eigval),
           detail::read_config_value(json, "intermediate_size", intermediate),
           detail::read_config_value(json, "norm_eps", c.norm_eps),
           detail::read_config_value(json, "tie_word_embeddings", c.tie_word_embeddings),
       }) {
    if (!s) return s;
  }
  if (intermediate > 0) c.intermediate_size = intermediate;
  if (c.hidden_size < 1 || c.num_hidden_layers < 1 || c.num_heads < 1 || c.vocab_size < 1) {
    return Status::error("hidden_size, num_hidden_layers, num_heads, vocab_size: must be >= 1");
  }
  if (c.head_dim == 0) c.head_dim = c.hidden_size / c.num_heads;
  if (c.num_v_heads == 0) c.num_v_heads = c.num_heads;
  if (c.head_dim < 1) return Status::error("head_dim", std::string("must be >= 1"));
  // Upstream: head_v_dim = head_dim * expand_v must be an integer (it raises otherwise).
  const double value_dim = static_cast<double>(c.head_dim) * c.expand_v;
  if (!(value_dim >= 0.5 && value_dim <= 9.0e15) ||
      std::fabs(value_dim - std::round(value_dim)) > 1e-5) {
    return Status::error("expand_v", std::string("head_dim * expand_v = ") +
                                         std::to_string(value_dim) +
                                         " is not a positive integer (within 1e-5)");
  }
  if (c.linear_attn_type != "gla" && c.linear_attn_type != "gdn") {
    return Status::error("linear_attn_type", std::string("expected \"gla\" or \"gdn\", got \"") +
                                                 detail::quoted_text(c.linear_attn_type) + "\"");
  }
  if (Status s = detail::read_config_value(json, "sse_qk_relu", c.sse_qk_relu); !s) return s;
  const bool has_attn = json.contains("attn") && !json["attn"].is_null();
  if (c.is_spikingbrain() && !has_attn) {
    return Status::error("attn", std::string("missing (sse_swa_moba models need it)"));
  }
  if (has_attn) {
    const nlohmann::json& attn = json["attn"];
    if (!attn.is_object()) return Status::error("attn", std::string("expected an object"));
    if (c.is_spikingbrain()) {  // upstream fails without these
      for (const char* key : {"layers", "num_heads", "full_layers", "qk_norm", "rope_theta"}) {
        if (!attn.contains(key) || attn[key].is_null()) {
          return Status::error(std::string("attn.") + key, std::string("missing"));
        }
      }
    }
    for (auto [key, list] :
         {std::pair{"layers", &c.attn_layers}, std::pair{"full_layers", &c.attn_full_layers}}) {
      const std::string name = std::string("attn.") + key;
      if (!attn.contains(key) || attn[key].is_null()) continue;
      if (!attn[key].is_array()) return Status::error(name, std::string("expected an array"));
      for (const nlohmann::json& layer : attn[key]) {
        index_t index = -1;
        if (!detail::convert_config_value(layer, name, index) || index < 0 ||
            index >= c.num_hidden_layers) {
          return Status::error(name,
                               std::string("expected layer indices in [0, num_hidden_layers)"));
        }
        list->push_back(index);
      }
    }
    for (const Status& s : {
             detail::read_config_value(attn, "num_heads", c.attn_num_heads, "attn."),
             detail::read_config_value(attn, "num_kv_heads", c.attn_num_kv_heads, "attn."),
             detail::read_config_value(attn, "qkv_bias", c.attn_qkv_bias, "attn."),
             detail::read_config_value(attn, "window_size", c.attn_window, "attn."),
             detail::read_config_value(attn, "rope_theta", c.attn_rope_theta, "attn."),
             detail::read_config_value(attn, "qk_norm", c.attn_qk_norm, "attn."),
             detail::read_config_value(attn, "moba_chunk_size", c.moba_chunk_size, "attn."),
             detail::read_config_value(attn, "moba_topk", c.moba_topk, "attn."),
         }) {
      if (!s) return s;
    }
    if (c.attn_num_kv_heads == 0) c.attn_num_kv_heads = c.attn_num_heads;
    if (attn.contains("window_size") && !attn["window_size"].is_null() && c.attn_window < 1) {
      return Status::error("attn.window_size", std::string("must be >= 1 (or null: unlimited)"));
    }
    if (!c.attn_layers.empty() && c.attn_num_heads < 1) {
      return Status::error("attn.num_heads",
                           std::string("missing or < 1 while attn.layers is not empty"));
    }
  }
  if (c.is_spikingbrain()) {
    if (Status s = check_spikingbrain_config(c); !s) return s;
  }
  return {};
}

/// Reads and parses `path`; throws sse::invalid_argument "<path>: <problem>".
inline HybridConfig read_hybrid_config(const std::string& path) {
  std::ifstream file(path);
  if (!file) report_invalid_argument(path + ": cannot open file");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  HybridConfig config;
  if (Status s = parse_hybrid_config(text, config); !s) {
    report_invalid_argument(path + ": " + s.message());
  }
  return config;
}

}  // namespace sse
