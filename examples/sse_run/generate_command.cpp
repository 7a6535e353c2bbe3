// `sse-run generate`: an SSE-H or SpikingBrain2.0 model (DESIGN.md sections 4, 4b and 6; the
// usage text below). The
// prompt is prefilled, then exactly N tokens are decoded greedily (argmax, lowest id on ties);
// stdout gets the N ids on one line, stderr the line DESIGN.md section 6 fixes:
// "prefill T tokens: X ms; decode N tokens: Y ms per token". With --draft DIR2 or
// --draft-layers L, greedy speculative decoding (sse/layers/speculative_decoding.hpp) prints the
// same ids and adds "speculative: drafted D accepted A (R%), X tokens/s".

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "common_options.hpp"
#include "npy_files.hpp"
#include "timing.hpp"
#include <sse/sse.hpp>

namespace sse_run {
namespace {

constexpr const char* kUsage =
    "generate --model DIR --tokens I,J,... --max-new N [--logits FILE] [--threads N]\n"
    "     [--repeat R] [--draft DIR2 | --draft-layers L] [--draft-tokens T_s]\n"
    "  an SSE-H or SpikingBrain2.0 (sse_swa_moba) model folder: config.json and\n"
    "  model.safetensors, or model.safetensors.index.json and its shards (F32/BF16/F16, kept\n"
    "  in their precision): prefill the prompt, decode N tokens greedily; the ids on stdout,\n"
    "  latencies on stderr; --logits FILE writes the prompt's logits, float32 [T_prompt, vocab].\n"
    "  Speculative decoding, the same ids: --draft DIR2 drafts with another model of the same\n"
    "  vocabulary, --draft-layers L with the model's own first L layers and its head;\n"
    "  --draft-tokens T_s drafts a round (default 4)\n";

/// "I,J,..." -> ids (at least one, each in [0, vocab)).
std::vector<std::int64_t> parse_tokens(const std::string& text, sse::index_t vocab) {
  std::vector<std::int64_t> ids;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    char* end = nullptr;
    const long long id = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0') {
      throw UsageError("--tokens: expected comma-separated token ids, got '" + text + "'");
    }
    if (id < 0 || id >= vocab) {
      throw UsageError("--tokens: id " + item + " is not in [0, " + std::to_string(vocab) +
                       ") (vocab_size of the model)");
    }
    ids.push_back(id);
    at = comma + 1;
  }
  return ids;
}

int generate_command(int argc, char** argv) {
  const Args args(argc, argv, 2,
                  names({{"--model", "--tokens", "--max-new", "--logits", "--draft",
                          "--draft-layers", "--draft-tokens"},
                         kRunOptions}),
                  {});
  const std::string dir = args.required("--model");
  const std::string token_text = args.required("--tokens");
  if (!args.has("--max-new")) throw UsageError("--max-new is required");
  const long max_new = args.integer("--max-new", 0, 0, 1 << 24);
  const long threads = threads_option(args);
  const long repeat = repeat_option(args);
  const bool drafting = args.has("--draft") || args.has("--draft-layers");
  if (args.has("--draft") && args.has("--draft-layers")) {
    throw UsageError("--draft and --draft-layers exclude each other");
  }
  if (args.has("--draft-tokens") && !drafting) {
    throw UsageError("--draft-tokens needs --draft DIR or --draft-layers L");
  }
  const long draft_tokens =
      args.has("--draft-tokens") ? args.integer("--draft-tokens", 4, 1, 1024) : 4;

  std::unique_ptr<sse::HybridModel> model;
  const auto load_start = std::chrono::steady_clock::now();
  try {
    model = std::make_unique<sse::HybridModel>(sse::load_hybrid_model(dir));
  } catch (const sse::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start)
          .count();
  const sse::HybridConfig& config = model->config();
  std::unique_ptr<sse::HybridModel> draft;
  if (args.has("--draft-layers")) {
    const long layers = args.integer("--draft-layers", 1, 1, 1 << 20);
    if (layers >= config.num_hidden_layers) {
      throw UsageError("--draft-layers: expected 1 to " +
                       std::to_string(config.num_hidden_layers - 1) + " (fewer than the model's " +
                       std::to_string(config.num_hidden_layers) + " layers), got " +
                       std::to_string(layers));
    }
    draft = std::make_unique<sse::HybridModel>(model->first_layers(layers));
  } else if (args.has("--draft")) {
    try {
      draft = std::make_unique<sse::HybridModel>(sse::load_hybrid_model(args.get("--draft")));
    } catch (const sse::invalid_argument& e) {
      throw UsageError(std::string("--draft: ") + e.what());
    }
    if (draft->config().vocab_size != config.vocab_size) {
      throw UsageError("--draft: vocab_size " + std::to_string(draft->config().vocab_size) +
                       " differs from the model's " + std::to_string(config.vocab_size));
    }
  }
  const std::vector<std::int64_t> prompt = parse_tokens(token_text, config.vocab_size);
  const auto T = static_cast<sse::index_t>(prompt.size());
  const sse::index_t vocab = config.vocab_size;
  sse::ThreadPool pool(static_cast<std::size_t>(threads));

  // The prompt's logits of every position only when --logits asks for them: generation needs
  // the last one.
  std::vector<float> prompt_logits;
  std::vector<std::int64_t> generated;
  double prefill_ms = 0, decode_ms = 0;
  sse::SpeculativeStats stats;
  run_timed(repeat, [&] {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto prefilled = start;
    auto mark = [&] { prefilled = Clock::now(); };
    if (draft) {  // speculative: the same ids, fewer passes over the model's weights
      generated = sse::generate_speculative(*model, *draft, prompt, max_new, draft_tokens, pool,
                                            &stats, mark);
    } else {
      generated = sse::generate_greedy(*model, prompt, max_new, pool, mark,
                                       args.has("--logits") ? &prompt_logits : nullptr);
    }
    const auto done = Clock::now();
    prefill_ms = std::chrono::duration<double, std::milli>(prefilled - start).count();
    decode_ms = std::chrono::duration<double, std::milli>(done - prefilled).count();
  });

  if (args.has("--logits") && draft) {  // the speculative prefill computes the last row only
    prompt_logits.resize(static_cast<std::size_t>(T * vocab));
    model->forward({prompt.data(), {1, T}}, {prompt_logits.data(), {1, T, vocab}}, nullptr, pool);
  }
  if (args.has("--logits")) {
    const std::string path = args.get("--logits");
    const std::string temporary = path + ".tmp";
    sse::io::write_npy(temporary, prompt_logits.data(), {T, vocab});
    fs::rename(temporary, path);
  }
  std::string line;
  for (std::size_t i = 0; i < generated.size(); ++i) {
    line += (i ? "," : "") + std::to_string(generated[i]);
  }
  std::printf("%s\n", line.c_str());
  std::fprintf(stderr, "load: %.1f ms, %.3f GB of weights in memory\n", load_ms,
               double(model->weight_bytes()) / 1e9);
  if (draft) {
    std::fprintf(stderr, "speculative: drafted %lld accepted %lld (%.1f%%), %.2f tokens/s\n",
                 static_cast<long long>(stats.drafted), static_cast<long long>(stats.accepted),
                 stats.drafted > 0 ? 100.0 * double(stats.accepted) / double(stats.drafted) : 0.0,
                 max_new > 1 && decode_ms > 0 ? double(max_new - 1) / (decode_ms / 1e3) : 0.0);
  }
  std::fprintf(stderr, "prefill %lld tokens: %.3f ms; decode %ld tokens: %.3f ms per token\n",
               static_cast<long long>(T), prefill_ms, max_new,
               max_new > 1 ? decode_ms / double(max_new - 1) : 0.0);
  return 0;
}

}  // namespace

const Command kGenerateCommand = {"generate", kUsage, &generate_command};

}  // namespace sse_run
