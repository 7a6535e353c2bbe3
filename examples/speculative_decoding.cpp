// speculative_decoding: greedy speculative decoding (sse/layers/speculative_decoding.hpp) next
// to plain greedy decoding of the same model. A draft proposes T_s tokens a round, the model
// checks them in one verify and keeps the prefix its own greedy choices agree with: the ids
// are the same, and a verify costs about one decode step when reading the weights dominates.
//
//   build/examples/speculative_decoding [MODEL_DIR [L [T_s [N]]]]
//
// MODEL_DIR is an SSE-H or SpikingBrain2.0 folder (without one, or "-": a SpikingBrain2.0-
// shaped model of 8 layers with random bf16 weights, made in memory). The draft is the model's own
// first L layers and its head (default 2); the model drafting for itself (L = all) is the upper
// bound of acceptance. N tokens (default 32) after a fixed prompt.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sse/sse.hpp>

namespace {

/// The default model: SpikingBrain2.0's layer pattern at hidden 1024.
sse::HybridModel default_model() {
  sse::HybridConfig config;
  sse::throw_if_error(sse::parse_hybrid_config(R"({
    "model_type": "sse_swa_moba", "hidden_size": 1024, "num_hidden_layers": 8, "num_heads": 8,
    "head_dim": 128, "expand_v": 1, "num_sparse_partition": 4, "num_writer": 2,
    "num_reader": 2, "linear_attn_type": "gdn", "use_output_gate": false,
    "use_short_conv": false, "intermediate_size": 4096, "norm_eps": 1e-06,
    "vocab_size": 32000, "tie_word_embeddings": true,
    "attn": {"layers": [0, 3, 4, 7], "full_layers": [3, 7], "num_heads": 8, "num_kv_heads": 2,
             "qk_norm": true, "rope_theta": 5000000, "window_size": 64,
             "moba_chunk_size": 64, "moba_topk": 2}})",
                                               config));
  sse::RandomCheckpointOptions options;
  options.dtype = sse::io::TensorDType::kBF16;
  return sse::HybridModel(config, sse::random_weights(config, 4096, options));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool own_model = argc > 1 && std::string(argv[1]) != "-";
  const sse::HybridModel model = own_model ? sse::load_hybrid_model(argv[1]) : default_model();
  const long layers = model.config().num_hidden_layers;
  const long L = argc > 2 ? std::atol(argv[2]) : 2;
  const long drafts = argc > 3 ? std::atol(argv[3]) : 4;
  const long max_new = argc > 4 ? std::atol(argv[4]) : 32;
  const long vocab = model.config().vocab_size;
  const std::vector<std::int64_t> prompt = {1, 42 % vocab, 7, 1000 % vocab, 99 % vocab, 5, 3};
  sse::ThreadPool pool(2);

  // Plain greedy decoding: a prefill, then one decode step per token.
  auto start = std::chrono::steady_clock::now();
  auto cache = model.make_cache(1);
  std::vector<float> logits(static_cast<std::size_t>(vocab));
  model.forward({prompt.data(), {1, static_cast<long>(prompt.size())}},
                {logits.data(), {1, 1, vocab}}, &cache, pool);
  std::vector<std::int64_t> greedy;
  while (static_cast<long>(greedy.size()) < max_new) {
    greedy.push_back(sse::argmax_token(logits.data(), vocab));
    if (static_cast<long>(greedy.size()) == max_new) break;
    model.forward({&greedy.back(), {1, 1}}, {logits.data(), {1, 1, vocab}}, &cache, pool);
  }
  const double greedy_seconds = seconds_since(start);
  std::printf("%ld layers, greedy: %.1f ms for %ld tokens\n", layers, greedy_seconds * 1e3,
              max_new);

  // Speculative: the first L layers draft, then the model itself (the upper bound).
  for (const long draft_layers : {L, layers}) {
    const sse::HybridModel draft = model.first_layers(draft_layers);
    sse::SpeculativeStats stats;
    start = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> ids =
        sse::generate_speculative(model, draft, prompt, max_new, drafts, pool, &stats);
    const double seconds = seconds_since(start);
    std::printf(
        "draft of %ld layers, T_s = %ld: %s ids, accepted %ld of %ld drafts (%.0f%%), %ld "
        "verifies, %.1f ms: %.2fx greedy's speed\n",
        draft_layers, drafts, ids == greedy ? "the same" : "DIFFERENT",
        static_cast<long>(stats.accepted), static_cast<long>(stats.drafted),
        100.0 * static_cast<double>(stats.accepted) / static_cast<double>(stats.drafted),
        static_cast<long>(stats.rounds), seconds * 1e3, greedy_seconds / seconds);
    if (ids != greedy) return 1;
  }
  return 0;
}
