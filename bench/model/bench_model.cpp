// Whole-model speed against the machine's limits (issue 14's targets), on a SpikingBrain2.0-5B-
// shaped model with random bf16 weights made in memory: hidden 2560, 32 heads of 128, GQA 32/8,
// N = 4 partitions with 2 writers and readers (GDN), MLP 9728, vocab 151936, tied head. The
// layers repeat [MoBA, SSE-SWA, SSE-SWA, full attention]; SSE_BENCH_LAYERS sets how many
// (default 4). Every ratio comes from one run, each side timed in turn (support/paired_timing):
//
//   Decode      ms/token after a 512-token prompt, against the time to read once every weight
//               a token reads (the blocks' matrices and the head), measured by reading the
//               model's own weight buffers on the same threads           <= 1.3
//   Prefill     useful FLOP rate of a 512-token prefill (2 x the blocks' parameters x T, plus
//               the head for the last position), against Eigen's float32 product
//               [512 x 2560] x [2560 x 9728] (the MLP's shape) on the same threads  >= 0.5
//   Scaling     2 threads vs 1: prefill's speedup over SGEMM's, decode's over the read probe's
//                                                                        >= 0.9 each
//   PeakMemory  peak resident bytes / (1.3 x weight bytes + 512 MiB)     <= 1
//   Attention   at T = 32k, 32 heads of 128 over 8 kv heads: full causal, MoBA (C = 1024,
//               top-8) and the 128-token window, useful FLOP rate (4 x head_dim per visible
//               query-key pair and head) against SGEMM                   >= 0.4 (window: reported)
//   Verify      speculative decoding: a verify of F = 5 tokens and the commit of m (arg: 5,
//               every draft kept; 1, none), against one decode step      <= 1.3
//   Length      prefill tokens/s and decode ms/token at prompt lengths 128 .. 4096, beside
//               their floors (SGEMM-bound tokens/s, bandwidth-bound ms/token): the README plot
//
// Run: build/bench_model --benchmark_counters_tabular=true [--benchmark_filter=Decode]

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"

#include "support/paired_timing.hpp"
#include <sys/resource.h>

namespace {

using sse::bench::PairedTiming;
using sse::bench::report_target;

constexpr long kPrompt = 512;
constexpr long kHidden = 2560, kIntermediate = 9728;

long layer_count() {
  const char* text = std::getenv("SSE_BENCH_LAYERS");
  const long layers = text != nullptr ? std::atol(text) : 4;
  return std::max(1L, layers);
}

/// The config of SpikingBrain2.0-5B's widths with `layers` layers of the repeating pattern.
sse::HybridConfig model_config(long layers) {
  std::string attention_layers, full_layers;
  for (long i = 0; i < layers; ++i) {
    if (i % 4 == 0 || i % 4 == 3) {
      attention_layers += (attention_layers.empty() ? "" : ", ") + std::to_string(i);
    }
    if (i % 4 == 3) full_layers += (full_layers.empty() ? "" : ", ") + std::to_string(i);
  }
  const std::string text =
      R"({"model_type": "sse_swa_moba", "hidden_size": 2560, "num_hidden_layers": )" +
      std::to_string(layers) + R"(, "num_heads": 32,
 "head_dim": 128, "expand_v": 1, "num_sparse_partition": 4, "num_writer": 2, "num_reader": 2,
 "linear_attn_type": "gdn", "use_output_gate": false, "use_short_conv": false,
 "sse_qk_relu": false, "intermediate_size": 9728, "norm_eps": 1e-06, "vocab_size": 151936,
 "tie_word_embeddings": true, "num_v_heads": 32,
 "attn": {"layers": [)" +
      attention_layers + R"(], "full_layers": [)" + full_layers +
      R"(], "num_heads": 32, "num_kv_heads": 8,
          "qk_norm": true, "qkv_bias": false, "rope_theta": 5000000, "window_size": 128,
          "moba_chunk_size": 4096, "moba_topk": 12}})";
  sse::HybridConfig config;
  sse::throw_if_error(sse::parse_hybrid_config(text, config));
  return config;
}

/// The model, made once per process (about 1.8 GB of bf16 at 4 layers).
struct Model {
  sse::HybridConfig config;
  std::unique_ptr<sse::HybridModel> model;
  std::vector<const sse::Parameter*> matrices;  // every matrix a token reads, head included
  double block_parameters = 0;                  // elements of the blocks' matrices
  double head_parameters = 0;
  std::size_t read_bytes = 0;  // bytes of `matrices`

  Model() : config(model_config(layer_count())) {
    sse::RandomCheckpointOptions options;
    options.dtype = sse::io::TensorDType::kBF16;
    model = std::make_unique<sse::HybridModel>(config,
                                               sse::random_weights(config, kIntermediate, options));
    model->for_each_matrix([&](const sse::Parameter& p, bool head) {
      matrices.push_back(&p);
      read_bytes += p.bytes();
      (head ? head_parameters : block_parameters) += double(p.size());
    });
  }
};

Model& model() {
  static Model m;
  return m;
}

std::vector<std::int64_t> random_tokens(long n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> id(0, 151935);
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (auto& t : out) t = id(rng);
  return out;
}

/// Reads every byte of the model's weight buffers once on `pool` (chunks of 1 MiB, summed as
/// 64-bit words so that the compiler vectorises the loop and nothing is elided).
std::uint64_t read_weights(const Model& m, sse::Executor& pool) {
  struct Chunk {
    const std::uint64_t* words;
    std::size_t count;
  };
  static std::vector<Chunk> chunks = [&] {
    std::vector<Chunk> out;
    for (const sse::Parameter* p : m.matrices) {
      const auto* base = p->bits.empty() ? reinterpret_cast<const std::uint64_t*>(p->data.data())
                                         : reinterpret_cast<const std::uint64_t*>(p->bits.data());
      const std::size_t words = p->bytes() / 8;
      for (std::size_t i = 0; i < words; i += std::size_t{1} << 17) {
        out.push_back({base + i, std::min(std::size_t{1} << 17, words - i)});
      }
    }
    return out;
  }();
  std::vector<std::uint64_t> sums(pool.concurrency(), 0);
  auto task = [&](std::size_t c, std::size_t worker) {
    std::uint64_t s = 0;
    const Chunk& chunk = chunks[c];
    for (std::size_t i = 0; i < chunk.count; ++i) s += chunk.words[i];
    sums[worker] += s;
  };
  pool.parallel_for(chunks.size(), task);
  std::uint64_t total = 0;
  for (std::uint64_t s : sums) total += s;
  return total;
}

/// Eigen's float32 product [512 x 2560] x [2560 x 9728] on `pool`, kRepeats times per run (a
/// product takes about 0.1 s, and one sample of it drifts by 30 % on a shared machine): one
/// contiguous block of columns per worker (each worker packs the left operand once; Eigen
/// itself is serial here).
struct Sgemm {
  static constexpr int kRepeats = 4;
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(kPrompt, kHidden);
  Eigen::MatrixXf b = Eigen::MatrixXf::Random(kHidden, kIntermediate);
  Eigen::MatrixXf c = Eigen::MatrixXf::Zero(kPrompt, kIntermediate);
  /// Floating-point operations of one run.
  static double flops() { return kRepeats * 2.0 * kPrompt * kHidden * kIntermediate; }
  void run(sse::Executor& pool) {
    const long workers = static_cast<long>(pool.concurrency());
    const long step = (kIntermediate + workers - 1) / workers;
    auto task = [&](std::size_t w, std::size_t) {
      const long j0 = static_cast<long>(w) * step, n = std::min(step, kIntermediate - j0);
      if (n > 0) c.middleCols(j0, n).noalias() = a * b.middleCols(j0, n);
    };
    for (int r = 0; r < kRepeats; ++r) pool.parallel_for(static_cast<std::size_t>(workers), task);
  }
};

/// A prefill of `prompt` (last-position logits) into a fresh cache, returned for decoding. The
/// scratch is a workspace kept across calls, as an engine keeps one (a fresh buffer of this
/// size costs its page faults on every call).
sse::HybridModel::Cache prefill(const std::vector<std::int64_t>& prompt, sse::Executor& pool,
                                std::vector<float>& logits) {
  const Model& m = model();
  const auto T = static_cast<sse::index_t>(prompt.size());
  static std::vector<std::byte> workspace;
  workspace.resize(std::max(workspace.size(), m.model->workspace_size(1, T, pool)));
  auto cache = m.model->make_cache(1, T + 64);
  m.model->forward({prompt.data(), {1, T}}, {logits.data(), {1, 1, m.config.vocab_size}}, &cache,
                   pool, sse::Workspace(workspace.data(), workspace.size()));
  return cache;
}

/// One greedy decode step through `cache`, allocation-free with `workspace`.
void decode_step(sse::HybridModel::Cache& cache, std::int64_t& token, std::vector<float>& logits,
                 sse::Executor& pool, std::vector<std::byte>& workspace) {
  const Model& m = model();
  m.model->forward({&token, {1, 1}}, {logits.data(), {1, 1, m.config.vocab_size}}, &cache, pool,
                   sse::Workspace(workspace.data(), workspace.size()));
  token = sse::argmax_token(logits.data(), m.config.vocab_size);
}

double prefill_flops(long T) {
  const Model& m = model();
  return 2.0 * m.block_parameters * double(T) + 2.0 * m.head_parameters;
}

void BM_Decode(benchmark::State& state) {
  const Model& m = model();
  sse::ThreadPool pool(2);
  std::vector<float> logits(static_cast<std::size_t>(m.config.vocab_size));
  auto cache = prefill(random_tokens(kPrompt, 1), pool, logits);
  std::vector<std::byte> workspace(m.model->workspace_size(1, 1, pool));
  std::int64_t token = sse::argmax_token(logits.data(), m.config.vocab_size);
  PairedTiming timing;
  timing.add("decode", [&] { decode_step(cache, token, logits, pool, workspace); });
  timing.add("read", [&] { benchmark::DoNotOptimize(read_weights(m, pool)); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  state.counters["read_GB/s"] = double(m.read_bytes) / timing.median(1) * 1e-9;
  state.counters["weights_GB"] = double(m.read_bytes) * 1e-9;
  report_target(state, timing.median(0) / timing.median(1), 1.3, false,
                "decode ms/token / weight-read time");
}

/// Verify F = 5 tokens and commit m of them (arg), against a decode step, each on its own
/// cache after the same prompt; the tokens are random (only the work matters here).
void BM_Verify(benchmark::State& state) {
  constexpr sse::index_t F = 5;
  const sse::index_t kept = state.range(0);
  const Model& m = model();
  const sse::index_t vocab = m.config.vocab_size;
  sse::ThreadPool pool(2);
  std::vector<float> logits(static_cast<std::size_t>(F * vocab));
  const std::vector<std::int64_t> prompt = random_tokens(kPrompt, 1);
  auto decode_cache = prefill(prompt, pool, logits);
  auto verify_cache = prefill(prompt, pool, logits);
  std::vector<std::byte> workspace(m.model->workspace_size(1, F, pool));
  const std::vector<std::int64_t> drafts = random_tokens(F, 2);
  std::int64_t token = sse::argmax_token(logits.data(), vocab);
  PairedTiming timing;
  timing.add("verify_commit", [&] {
    m.model->verify({drafts.data(), {1, F}}, {logits.data(), {1, F, vocab}}, verify_cache, pool,
                    sse::Workspace(workspace.data(), workspace.size()));
    m.model->commit({&kept, {1}}, verify_cache, pool);
  });
  timing.add("decode", [&] { decode_step(decode_cache, token, logits, pool, workspace); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(
      state, timing.median(0) / timing.median(1), 1.3, false,
      std::string("verify F=5 + commit ") + (kept == F ? "all" : "none") + " / decode step");
}

void BM_Prefill(benchmark::State& state) {
  const Model& m = model();
  sse::ThreadPool pool(2);
  std::vector<float> logits(static_cast<std::size_t>(m.config.vocab_size));
  const std::vector<std::int64_t> prompt = random_tokens(kPrompt, 2);
  Sgemm sgemm;
  PairedTiming timing;
  timing.add("prefill", [&] { prefill(prompt, pool, logits); });
  timing.add("sgemm", [&] { sgemm.run(pool); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  const double rate = prefill_flops(kPrompt) / timing.median(0);
  const double sgemm_rate = Sgemm::flops() / timing.median(1);
  state.counters["prefill_GFLOPS"] = rate * 1e-9;
  state.counters["sgemm_GFLOPS"] = sgemm_rate * 1e-9;
  state.counters["tokens/s"] = double(kPrompt) / timing.median(0);
  report_target(state, rate / sgemm_rate, 0.5, true, "prefill useful FLOP rate / SGEMM");
}

void BM_Scaling(benchmark::State& state) {
  const Model& m = model();
  sse::ThreadPool one(1), two(2);
  std::vector<float> logits(static_cast<std::size_t>(m.config.vocab_size));
  const std::vector<std::int64_t> prompt = random_tokens(kPrompt, 3);
  auto cache = prefill(prompt, two, logits);
  std::vector<std::byte> workspace(m.model->workspace_size(1, 1, two));
  std::int64_t token = sse::argmax_token(logits.data(), m.config.vocab_size);
  Sgemm sgemm;
  PairedTiming timing;
  timing.add("prefill1", [&] { prefill(prompt, one, logits); });
  timing.add("prefill2", [&] { prefill(prompt, two, logits); });
  timing.add("sgemm1", [&] { sgemm.run(one); });
  timing.add("sgemm2", [&] { sgemm.run(two); });
  timing.add("decode1", [&] { decode_step(cache, token, logits, one, workspace); });
  timing.add("decode2", [&] { decode_step(cache, token, logits, two, workspace); });
  timing.add("read1", [&] { benchmark::DoNotOptimize(read_weights(m, one)); });
  timing.add("read2", [&] { benchmark::DoNotOptimize(read_weights(m, two)); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  auto speedup = [&](std::size_t single) {
    return timing.median(single) / timing.median(single + 1);
  };
  const double prefill_scaling = speedup(0) / speedup(2), decode_scaling = speedup(4) / speedup(6);
  state.counters["prefill_speedup"] = speedup(0);
  state.counters["sgemm_speedup"] = speedup(2);
  state.counters["decode_speedup"] = speedup(4);
  state.counters["read_speedup"] = speedup(6);
  state.counters["decode_scaling"] = decode_scaling;
  report_target(state, std::min(prefill_scaling, decode_scaling), 0.9, true,
                "2-thread speedup / its floor's (the lower of prefill's and decode's)");
  state.counters["prefill_scaling"] = prefill_scaling;
}

void BM_PeakMemory(benchmark::State& state) {
  const Model& m = model();
  for (auto _ : state) {
    // The peak so far: the model, and every prefill and decode the cases before ran.
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double peak = double(usage.ru_maxrss) * 1024.0;
  const double weights = double(m.model->weight_bytes());
  state.counters["peak_GB"] = peak * 1e-9;
  state.counters["weights_GB"] = weights * 1e-9;
  report_target(state, peak / (1.3 * weights + 512.0 * 1024 * 1024), 1.0, false,
                "peak RSS / (1.3 x weights + 512 MiB)");
}

/// q, k, v of one 32k-token prompt: 32 query heads over 8 kv heads of 128; keys offset per
/// block of 1024 so that MoBA's block gates differ as in a trained model.
struct AttentionProblem {
  static constexpr long kHeads = 32, kKvHeads = 8, kDim = 128, kChunk = 1024, kTopk = 8;
  long T;
  std::vector<float> q, k, v, o;
  explicit AttentionProblem(long tokens)
      : T(tokens),
        q(std::size_t(T * kHeads * kDim)),
        k(std::size_t(T * kKvHeads * kDim)),
        v(k.size()),
        o(q.size()) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* t : {&q, &k, &v}) {
      for (float& e : *t) e = normal(rng);
    }
    for (long t = 0; t < T; ++t) {
      for (long c = 0; c < kKvHeads * kDim; ++c) {
        k[std::size_t(t * kKvHeads * kDim + c)] +=
            std::sin(1.7f * float(t / kChunk) + 0.3f * float(c));
      }
    }
  }
  sse::SoftmaxAttentionInputs<float> inputs() const {
    sse::SoftmaxAttentionInputs<float> in;
    in.q = {q.data(), {1, T, kHeads, kDim}};
    in.k = {k.data(), {1, T, kKvHeads, kDim}};
    in.v = {v.data(), {1, T, kKvHeads, kDim}};
    return in;
  }
  sse::TensorView<float, 4> output() { return {o.data(), {1, T, kHeads, kDim}}; }
  /// Visible query-key pairs per head: causal (window 0), the last `window`, or MoBA's blocks.
  double pairs(long window, bool moba) const {
    double n = 0;
    for (long t = 0; t < T; ++t) {
      if (moba) {
        const long own = t / kChunk;
        n += double(t - own * kChunk + 1) + double(std::min(kTopk - 1, own)) * double(kChunk);
      } else {
        n += double(window > 0 ? std::min(window, t + 1) : t + 1);
      }
    }
    return n;
  }
};

/// Args: 0 full causal, 1 MoBA, 2 the 128-token window.
void BM_Attention(benchmark::State& state) {
  const long kind = state.range(0);
  AttentionProblem p(32768);
  sse::ThreadPool pool(2);
  Sgemm sgemm;
  sse::MobaOptions moba;
  moba.chunk_size = AttentionProblem::kChunk, moba.topk = AttentionProblem::kTopk;
  sse::SoftmaxAttentionOptions options;
  options.window = kind == 2 ? 128 : 0;
  std::vector<std::byte> workspace(
      std::max(sse::softmax_attention_workspace_size(p.inputs(), pool),
               sse::moba_attention_workspace_size(p.inputs(), moba, pool)));
  const sse::Workspace ws(workspace.data(), workspace.size());
  PairedTiming timing;
  timing.add("attention", [&] {
    if (kind == 1) {
      sse::moba_attention(p.inputs(), p.output(), moba, pool, ws);
    } else {
      sse::softmax_attention(p.inputs(), p.output(), options, pool, ws);
    }
  });
  timing.add("sgemm", [&] { sgemm.run(pool); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  const double flops =
      4.0 * AttentionProblem::kDim * AttentionProblem::kHeads * p.pairs(options.window, kind == 1);
  const double rate = flops / timing.median(0), sgemm_rate = Sgemm::flops() / timing.median(1);
  state.counters["useful_GFLOPS"] = rate * 1e-9;
  state.counters["sgemm_GFLOPS"] = sgemm_rate * 1e-9;
  const char* name = kind == 0 ? "full causal" : kind == 1 ? "MoBA C=1024 top-8" : "window 128";
  report_target(state, rate / sgemm_rate, kind == 2 ? 0.0 : 0.4, true,
                std::string(name) + " T=32k useful FLOP rate / SGEMM");
}

/// Prefill tokens/s and the following decode ms/token at prompt length T (2 threads), beside
/// their floors: SGEMM-bound tokens/s (SGEMM rate / useful FLOPs per token) and the weight-read
/// time per token.
void BM_Length(benchmark::State& state) {
  const Model& m = model();
  const long T = state.range(0);
  sse::ThreadPool pool(2);
  std::vector<float> logits(static_cast<std::size_t>(m.config.vocab_size));
  const std::vector<std::int64_t> prompt = random_tokens(T, 4);
  std::vector<std::byte> workspace(m.model->workspace_size(1, 1, pool));
  Sgemm sgemm;
  // One prefill (up to half a minute), then means over several decode steps, SGEMM products
  // and weight reads, each sampled in two halves around the decode steps.
  constexpr int kSteps = 8, kReads = 4;
  PairedTiming timing;
  sse::HybridModel::Cache cache;
  std::int64_t token = 0;
  timing.add("prefill", [&] {
    cache = prefill(prompt, pool, logits);
    token = sse::argmax_token(logits.data(), m.config.vocab_size);
  });
  auto decode = [&] {
    for (int s = 0; s < kSteps / 2; ++s) decode_step(cache, token, logits, pool, workspace);
  };
  auto read = [&] {
    for (int r = 0; r < kReads / 2; ++r) benchmark::DoNotOptimize(read_weights(m, pool));
  };
  timing.add("sgemm", [&] { sgemm.run(pool); });
  timing.add("read", read);
  timing.add("decode", decode);
  timing.add("sgemm_again", [&] { sgemm.run(pool); });
  timing.add("read_again", read);
  timing.add("decode_again", decode);
  for (auto _ : state) timing.run_iteration(state);
  const double sgemm_rate = 2 * Sgemm::flops() / (timing.median(1) + timing.median(4));
  state.counters["prefill_tokens/s"] = double(T) / timing.median(0);
  state.counters["prefill_floor_tokens/s"] = sgemm_rate / (prefill_flops(T) / double(T));
  state.counters["decode_ms"] = (timing.median(3) + timing.median(6)) / kSteps * 1e3;
  state.counters["decode_floor_ms"] = (timing.median(2) + timing.median(5)) / kReads * 1e3;
}

// PeakMemory reads the peak of the cases before it (the model, prefills, decode steps); the
// attention cases' 32k-token q, k, v and o come after it.
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(20);
BENCHMARK(BM_Verify)
    ->ArgName("kept")
    ->Arg(5)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(10);
BENCHMARK(BM_Prefill)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);
BENCHMARK(BM_Scaling)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);
BENCHMARK(BM_PeakMemory)->Iterations(1);
BENCHMARK(BM_Length)
    ->Arg(128)
    ->Arg(512)
    ->Arg(2048)
    ->Arg(4096)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);
BENCHMARK(BM_Attention)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
