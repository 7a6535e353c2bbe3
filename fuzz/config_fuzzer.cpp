// libFuzzer target: a checkpoint folder's texts, config.json (sse::parse_hybrid_config) and
// model.safetensors.index.json (sse::Weights::parse_safetensors_index), over arbitrary bytes:
// the input up to its first NUL byte is the config, the rest the index. Every text either fails
// with a one-line message or yields what a model can be built from: positive dimensions,
// V = head_dim * expand_v to within 1e-5, attention layers in range with heads, and for
// sse_swa_moba configs section 4b's checks (full layers among the attention layers, MoBA
// blocks and top-k >= 1, kv heads dividing both head counts, k < N); an index maps keys to
// plain file names in its folder. Parsing the same text twice gives the same result.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "sse/layers/hybrid_config.hpp"
#include "sse/layers/weights.hpp"

#include "fuzz_check.hpp"

namespace {

void check_index(const std::string& text) {
  using sse::fuzz::require;
  std::map<std::string, std::string> shard_of;
  const sse::Status status = sse::Weights::parse_safetensors_index(text, shard_of);
  if (!status.ok()) {
    require(sse::fuzz::one_line(status.message()), "index errors are one line");
    return;
  }
  for (const auto& [key, shard] : shard_of) {
    require(!shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
            "shards are plain file names in the index's folder");
  }
  std::map<std::string, std::string> again;
  require(sse::Weights::parse_safetensors_index(text, again).ok() && again == shard_of,
          "index parsing is deterministic");
}

void check_config(const std::string& text) {
  sse::HybridConfig config;
  const sse::Status status = sse::parse_hybrid_config(text, config);
  if (!status.ok()) {
    sse::fuzz::require(sse::fuzz::one_line(status.message()), "errors are one line");
    return;
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
  if (config.is_spikingbrain()) {
    for (const sse::index_t layer : config.attn_full_layers) {
      require(config.is_attention_layer(layer), "full layers are attention layers");
    }
    require(config.moba_chunk_size >= 1 && config.moba_topk >= 1, "MoBA blocks and top-k >= 1");
    require(config.attn_num_kv_heads >= 1 &&
                config.attn_num_heads % config.attn_num_kv_heads == 0 &&
                config.num_heads % config.attn_num_kv_heads == 0,
            "kv heads divide both head counts");
    require(config.attn_window >= 0 && config.head_dim % 2 == 0, "window >= 0, head_dim even");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  check_config(input.substr(0, split));
  if (split != std::string::npos) check_index(input.substr(split + 1));
  return 0;
}
