// MoBA block-sparse prefill (attention/moba_attention.hpp) against dense causal attention
// (attention/softmax_attention.hpp) on the same q, k, v, in one binary: how MoBA's time grows
// with T (about T x topk x C once T > topk x C) against dense attention's T^2 / 2.
//
// Args: T, threads. B = 1, 4 query heads over 4 kv heads of 128 (section 4b's head size),
// C = 1024, top-8 (sparse from T > 8192). q, k, v N(0, 1); keys get a per-block offset so the
// block gates differ as in a trained model. useful_flop/s counts 4 x head_dim per visible
// query-key pair and head (dense: T (T + 1) / 2 pairs; MoBA: what its blocks make visible).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"

namespace {

constexpr long kHeads = 4, kHeadDim = 128, kChunk = 1024, kTopk = 8;

struct Problem {
  long T;
  std::vector<float> q, k, v, o;
  explicit Problem(long tokens)
      : T(tokens), q(std::size_t(T * kHeads * kHeadDim)), k(q.size()), v(q.size()), o(q.size()) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto* t : {&q, &k, &v}) {
      for (float& e : *t) e = normal(rng);
    }
    for (long t = 0; t < T; ++t) {
      for (long c = 0; c < kHeads * kHeadDim; ++c) {
        k[std::size_t(t * kHeads * kHeadDim + c)] +=
            std::sin(1.7f * float(t / kChunk) + 0.3f * float(c));
      }
    }
  }
  sse::SoftmaxAttentionInputs<float> inputs() const {
    sse::SoftmaxAttentionInputs<float> in;
    in.q = {q.data(), {1, T, kHeads, kHeadDim}};
    in.k = {k.data(), {1, T, kHeads, kHeadDim}};
    in.v = {v.data(), {1, T, kHeads, kHeadDim}};
    return in;
  }
  sse::TensorView<float, 4> output() { return {o.data(), {1, T, kHeads, kHeadDim}}; }
};

/// Query-key pairs MoBA makes visible per head: each query's own block up to itself, and
/// min(topk - 1, b) earlier full blocks.
double moba_pairs(long T) {
  double pairs = 0;
  for (long t = 0; t < T; ++t) {
    const long own = t / kChunk;
    pairs += double(t - own * kChunk + 1) + double(std::min(kTopk - 1, own)) * double(kChunk);
  }
  return pairs;
}

void BM_MobaPrefill(benchmark::State& state) {
  const long T = state.range(0);
  Problem p(T);
  sse::ThreadPool pool{std::size_t(state.range(1))};
  sse::MobaOptions options;
  options.chunk_size = kChunk, options.topk = kTopk;
  std::vector<std::byte> workspace(sse::moba_attention_workspace_size(p.inputs(), options, pool));
  for (auto _ : state) {
    sse::moba_attention(p.inputs(), p.output(), options, pool,
                        sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
  }
  state.counters["useful_flop/s"] = benchmark::Counter(
      4.0 * kHeadDim * kHeads * moba_pairs(T), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_DenseCausal(benchmark::State& state) {
  const long T = state.range(0);
  Problem p(T);
  sse::ThreadPool pool{std::size_t(state.range(1))};
  std::vector<std::byte> workspace(sse::softmax_attention_workspace_size(p.inputs(), pool));
  for (auto _ : state) {
    sse::softmax_attention(p.inputs(), p.output(), sse::SoftmaxAttentionOptions{}, pool,
                           sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
  }
  state.counters["useful_flop/s"] =
      benchmark::Counter(4.0 * kHeadDim * kHeads * double(T) * double(T + 1) / 2,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void Args(benchmark::internal::Benchmark* b) {
  for (long T : {4096L, 16384L, 65536L}) b->Args({T, 2});
  b->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
}

BENCHMARK(BM_MobaPrefill)->Apply(Args);
BENCHMARK(BM_DenseCausal)->Apply(Args);

}  // namespace

BENCHMARK_MAIN();
