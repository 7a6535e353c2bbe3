// spikingbrain_model: a SpikingBrain2.0-style model (DESIGN.md section 4b) end to end. Writes
// the config.json of a small sse_swa_moba model (the released architecture at small widths:
// SSE-SWA layers with a GDN base, a MoBA layer, a full-attention layer, qk-norm, GQA, tied
// embeddings), random bf16 weights in shards with model.safetensors.index.json (as upstream
// saves a checkpoint), loads the folder with its matrices kept in bf16, and generates a few
// tokens greedily with a decode cache. The same folder runs with `sse-run generate`, and a
// downloaded SpikingBrain2.0 folder loads the same way.
//
//   build/examples/spikingbrain_model [DIR]     (DIR defaults to ./spikingbrain_model)

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sse/sse.hpp>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "spikingbrain_model";
  std::filesystem::create_directories(dir);

  // 1. config.json with upstream's keys. Layer 1 is MoBA (blocks of 16 keys, top-2), layer 3
  //    full attention, the others SSE-SWA (window of 32 tokens).
  const std::string config_path = dir + "/config.json";
  std::ofstream(config_path) << R"({
  "model_type": "sse_swa_moba", "architectures": ["SSESWAMoBAForCausalLM"],
  "hidden_size": 128, "num_hidden_layers": 4, "num_heads": 4, "head_dim": 32,
  "expand_v": 1, "num_sparse_partition": 4, "num_writer": 2, "num_reader": 2,
  "linear_attn_type": "gdn", "use_output_gate": false, "use_short_conv": false,
  "sse_qk_relu": false, "intermediate_size": 256, "norm_eps": 1e-06, "vocab_size": 256,
  "tie_word_embeddings": true, "dtype": "bfloat16",
  "attn": {"layers": [1, 3], "full_layers": [3], "num_heads": 4, "num_kv_heads": 2,
           "qk_norm": true, "qkv_bias": false, "rope_theta": 5000000, "window_size": 32,
           "moba_chunk_size": 16, "moba_topk": 2}
})";

  // 2. Random bf16 weights, written tensor by tensor into shards of at most 256 KiB.
  sse::RandomCheckpointOptions options;
  options.dtype = sse::io::TensorDType::kBF16;
  options.shard_bytes = 256 * 1024;
  const std::uint64_t bytes = sse::write_random_checkpoint(config_path, dir, options);

  // 3. Load the folder (model.safetensors.index.json and its shards) and generate greedily:
  //    the prompt in one prefill (MoBA is block-sparse over it), then one token at a time.
  const sse::HybridModel model = sse::load_hybrid_model(dir);
  const sse::HybridConfig& config = model.config();
  const std::vector<std::int64_t> prompt = {72, 101, 108, 108, 111};
  const long T = static_cast<long>(prompt.size()), vocab = config.vocab_size;
  sse::ThreadPool pool(2);
  auto cache = model.make_cache(1);
  std::vector<float> logits(static_cast<std::size_t>(vocab));  // [1, 1, vocab]: the last position's
  model.forward({prompt.data(), {1, T}}, {logits.data(), {1, 1, vocab}}, &cache, pool);
  std::int64_t next = sse::argmax_token(logits.data(), vocab);
  std::printf("%s: %llu bytes of bf16 weights, layers:", dir.c_str(),
              static_cast<unsigned long long>(bytes));
  for (long i = 0; i < config.num_hidden_layers; ++i) {
    const sse::MixerKind kind = config.mixer_kind(i);
    std::printf(" %s", kind == sse::MixerKind::kSseSwa ? "SSE-SWA"
                       : kind == sse::MixerKind::kMoba ? "MoBA"
                                                       : "attention");
  }
  std::printf("\ngenerated:");
  for (int n = 0; n < 8; ++n) {
    std::printf(" %lld", static_cast<long long>(next));
    model.forward({&next, {1, 1}}, {logits.data(), {1, 1, vocab}}, &cache, pool);
    next = sse::argmax_token(logits.data(), vocab);
  }
  std::printf(
      "\nthe same with the tool: sse-run generate --model %s --tokens 72,101,108,108,111 "
      "--max-new 8\n",
      dir.c_str());
  return 0;
}
