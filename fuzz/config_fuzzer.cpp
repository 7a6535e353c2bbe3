// libFuzzer target: the config.json parser (sse::parse_hybrid_config) over arbitrary text. Every
// input either fails with a one-line message or yields a config whose sizes a model can be
// built from: positive dimensions, V = head_dim * expand_v to within 1e-5, attention layers
// in range with heads; and parsing the same text twice gives the same config.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sse/layers/hybrid_config.hpp"

#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sse::HybridConfig config;
  const sse::Status status = sse::parse_hybrid_config(text, config);
  if (!status.ok()) {
    sse::fuzz::require(sse::fuzz::one_line(status.message()), "errors are one line");
    return 0;
  }
  using sse::fuzz::require;
  require(config.hidden_size >= 1 && config.num_hidden_layers >= 1 && config.num_heads >= 1 &&
              config.vocab_size >= 1,
          "the required sizes are >= 1");
  require(config.head_dim >= 1 && config.value_dim() >= 1, "head_dim and V are >= 1");
  require(std::fabs(double(config.head_dim) * config.expand_v - double(config.value_dim())) <= 1e-5,
          "V = head_dim * expand_v within 1e-5");
  require(config.sse_layer().value_dim == config.value_dim(), "the SSE layers get V");
  require(config.linear_attn_type == "gla" || config.linear_attn_type == "gdn",
          "the rule is gla or gdn");
  for (const sse::index_t layer : config.attn_layers) {
    require(layer >= 0 && layer < config.num_hidden_layers, "attention layers are in range");
  }
  require(config.attn_layers.empty() || config.attn_num_heads >= 1, "attention layers have heads");
  sse::HybridConfig again;
  require(sse::parse_hybrid_config(text, again).ok() && again.value_dim() == config.value_dim() &&
              again.attn_layers == config.attn_layers && again.head_dim == config.head_dim,
          "parsing is deterministic");
  return 0;
}
