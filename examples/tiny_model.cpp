// tiny_model: an SSE-H model end to end. Builds a tiny random model (two SSE-GLA blocks around
// one softmax-attention block), writes it as a model folder (config.json + model.safetensors,
// the layout of an upstream checkpoint), loads the folder back, and generates a few tokens
// greedily with a decode cache. The same folder runs with `sse-run generate`.
//
//   build/examples/tiny_model [DIR]        (DIR defaults to ./tiny_sse_model)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sse/sse.hpp>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "tiny_sse_model";
  std::filesystem::create_directories(dir);

  // 1. config.json, upstream keys.
  std::ofstream(dir + "/config.json") << R"({
  "model_type": "sse", "hidden_size": 64, "num_hidden_layers": 3, "num_heads": 2,
  "head_dim": 32, "expand_v": 1.0, "num_sparse_partition": 4, "num_writer": 1, "num_reader": 1,
  "linear_attn_type": "gla", "use_short_conv": true, "conv_size": 4, "intermediate_size": 128,
  "norm_eps": 1e-6, "vocab_size": 256, "tie_word_embeddings": true,
  "attn": {"layers": [1], "num_heads": 4, "num_kv_heads": 2, "window_size": null,
           "rope_theta": 10000.0}
})";
  const sse::HybridConfig config = sse::read_hybrid_config(dir + "/config.json");

  // 2. Random weights under every key the model needs, written as model.safetensors.
  const std::vector<sse::ParameterSpec> specs = sse::HybridModel::parameters(config, 128);
  std::mt19937 rng(0);
  std::vector<std::vector<float>> storage;
  std::vector<sse::io::NamedTensor> tensors;
  for (const auto& spec : specs) {
    long count = 1;
    for (long d : spec.shape) count *= d;
    const bool norm = spec.key.find("norm.weight") != std::string::npos;
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 4.0;
    std::normal_distribution<float> dist(norm ? 1.0f : 0.0f,
                                         float(norm ? 0.1 : 1 / std::sqrt(fan_in)));
    storage.emplace_back(static_cast<std::size_t>(count));
    for (float& e : storage.back()) e = dist(rng);
    tensors.push_back({spec.key, spec.shape, storage.back().data()});
  }
  sse::io::write_safetensors(dir + "/model.safetensors", tensors);

  // 3. Load the folder and generate greedily: prefill the prompt, then one token at a time.
  const sse::HybridModel model(config, sse::Weights::from_safetensors(dir + "/model.safetensors"));
  const std::vector<std::int64_t> prompt = {72, 101, 108, 108, 111};
  const long T = static_cast<long>(prompt.size()), vocab = config.vocab_size;
  auto cache = model.make_cache(1);
  std::vector<float> logits(static_cast<std::size_t>(vocab));  // [1, 1, vocab]: the last position's
  model.forward({prompt.data(), {1, T}}, {logits.data(), {1, 1, vocab}}, &cache);
  std::int64_t next = sse::argmax_token(logits.data(), vocab);
  std::printf("generated:");
  for (int n = 0; n < 8; ++n) {
    std::printf(" %lld", static_cast<long long>(next));
    model.forward({&next, {1, 1}}, {logits.data(), {1, 1, vocab}}, &cache);
    next = sse::argmax_token(logits.data(), vocab);
  }
  std::printf(
      "\nthe same with the tool: sse-run generate --model %s --tokens 72,101,108,108,111 "
      "--max-new 8\n",
      dir.c_str());
  return 0;
}
