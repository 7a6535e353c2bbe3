#pragma once

/// \file
/// The configuration of an SSE-H model (DESIGN.md section 4), read from an upstream-style
/// `config.json`. Keys (unknown keys are ignored; a key whose value is null counts as absent):
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
#include "sse/layers/softmax_attention_layer.hpp"
#include "sse/layers/sse_layer.hpp"

#include <nlohmann/json.hpp>

namespace sse {

struct HybridConfig {
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

  /// V = head_dim * expand_v (parse_hybrid_config checks that it is within 1e-5 of an integer).
  index_t value_dim() const noexcept {
    return static_cast<index_t>(std::llround(static_cast<double>(head_dim) * expand_v));
  }

  bool is_attention_layer(index_t layer) const {
    return std::find(attn_layers.begin(), attn_layers.end(), layer) != attn_layers.end();
  }

  /// The SSE layers' configuration (every non-attention layer).
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
    return c;
  }

  /// The attention layers' configuration.
  SoftmaxAttentionConfig attention_layer() const {
    SoftmaxAttentionConfig c;
    c.hidden = hidden_size;
    c.heads = attn_num_heads;
    c.kv_heads = attn_num_kv_heads;
    c.qkv_bias = attn_qkv_bias;
    c.window = attn_window;
    c.rope_theta = attn_rope_theta;
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

/// Parses the text of a config.json; the message names the key.
inline Status parse_hybrid_config(const std::string& text, HybridConfig& c) {
  nlohmann::json json;
  if (Status s = io::parse_json(text, json); !s) return s;
  if (!json.is_object()) return Status::error("expected a JSON object");
  c = {};
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
  if (json.contains("attn") && !json["attn"].is_null()) {
    const nlohmann::json& attn = json["attn"];
    if (!attn.is_object()) return Status::error("attn", std::string("expected an object"));
    if (attn.contains("layers") && !attn["layers"].is_null()) {
      if (!attn["layers"].is_array())
        return Status::error("attn.layers", std::string("expected an array"));
      for (const nlohmann::json& layer : attn["layers"]) {
        index_t index = -1;
        if (!detail::convert_config_value(layer, "attn.layers", index) || index < 0 ||
            index >= c.num_hidden_layers) {
          return Status::error("attn.layers",
                               std::string("expected layer indices in [0, num_hidden_layers)"));
        }
        c.attn_layers.push_back(index);
      }
    }
    for (const Status& s : {
             detail::read_config_value(attn, "num_heads", c.attn_num_heads, "attn."),
             detail::read_config_value(attn, "num_kv_heads", c.attn_num_kv_heads, "attn."),
             detail::read_config_value(attn, "qkv_bias", c.attn_qkv_bias, "attn."),
             detail::read_config_value(attn, "window_size", c.attn_window, "attn."),
             detail::read_config_value(attn, "rope_theta", c.attn_rope_theta, "attn."),
         }) {
      if (!s) return s;
    }
    if (!c.attn_layers.empty() && c.attn_num_heads < 1) {
      return Status::error("attn.num_heads",
                           std::string("missing or < 1 while attn.layers is not empty"));
    }
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
