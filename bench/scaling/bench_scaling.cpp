// Throughput sweeps behind the plots in docs/ (scripts/plot_benchmarks.py): every case reports
// tokens/s. B = 1, H = 4, K = V = 128 (softmax attention: head dim 128), float32.
//
//   BM_Length/<mixer>/T        SSE-GLA (sparse, N=4, k=1), dense chunked GLA and causal softmax
//                              attention against the sequence length: linear vs quadratic cost
//   BM_Partitions/<path>/N     SSE-GLA against N at k = 1, sparse and masked paths (T = 4096)
//   BM_Threads/<mixer>/threads SSE-GLA (sparse, N=4, k=1) and dense GLA on 1 and 2 threads
//
//   build/bench/bench_scaling --benchmark_out=docs/bench/scaling.json --benchmark_out_format=json

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"

#include "support/sse_problem.hpp"

namespace {

using sse::GlaRule;
using sse::bench::kHeads;
using sse::bench::SseProblem;

constexpr long kK = 128;

void report(benchmark::State& state, long T, const std::string& label) {
  state.counters["tokens/s"] =
      benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(label);
}

void run_sse(benchmark::State& state, long T, long N, sse::Path path, std::size_t threads) {
  SseProblem<GlaRule> p(T, kK, N);
  sse::ThreadPool pool(threads);
  sse::AttentionOptions options;
  options.path = path;
  std::vector<std::byte> workspace(
      sse::sse_attention_workspace_size<GlaRule>(p.in, p.out, options, pool));
  for (auto _ : state) {
    sse::sse_attention<GlaRule>(p.in, p.out, options, pool,
                                sse::Workspace(workspace.data(), workspace.size()));
    benchmark::ClobberMemory();
  }
  report(state, T,
         std::string("sse-gla ") + (path == sse::Path::kSparse ? "sparse" : "masked") +
             " N=" + std::to_string(N) + " k=1");
}

void run_dense(benchmark::State& state, long T, std::size_t threads) {
  SseProblem<GlaRule> p(T, kK, 1);
  const sse::ScanInputs<GlaRule> in = p.dense_scan_inputs();
  sse::ScanOutputs<float> out;
  out.o = p.out.o;
  sse::ThreadPool pool(threads);
  std::vector<std::byte> workspace(sse::scan_workspace_size<GlaRule>(in, out, pool));
  for (auto _ : state) {
    sse::scan<GlaRule>(in, out, sse::ScanOptions{}, pool,
                       sse::Workspace(workspace.data(), workspace.size()));
    benchmark::ClobberMemory();
  }
  report(state, T, "dense gla");
}

void run_softmax(benchmark::State& state, long T) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> q(std::size_t(T * kHeads * kK)), k(q.size()), v(q.size()), o(q.size());
  for (auto* x : {&q, &k, &v}) {
    for (float& e : *x) e = normal(rng);
  }
  sse::SoftmaxAttentionInputs<float> in;
  in.q = {q.data(), {1, T, kHeads, kK}};
  in.k = {k.data(), {1, T, kHeads, kK}};
  in.v = {v.data(), {1, T, kHeads, kK}};
  const sse::TensorView<float, 4> out(o.data(), {1, T, kHeads, kK});
  sse::SerialExecutor serial;
  std::vector<std::byte> workspace(sse::softmax_attention_workspace_size(in, serial));
  for (auto _ : state) {
    sse::softmax_attention(in, out, sse::SoftmaxAttentionOptions{}, serial,
                           sse::Workspace(workspace.data(), workspace.size()));
    benchmark::ClobberMemory();
  }
  report(state, T, "causal softmax attention");
}

void BM_Length_Sse(benchmark::State& s) { run_sse(s, s.range(0), 4, sse::Path::kSparse, 1); }
void BM_Length_Dense(benchmark::State& s) { run_dense(s, s.range(0), 1); }
void BM_Length_Softmax(benchmark::State& s) { run_softmax(s, s.range(0)); }
void BM_Partitions_Sparse(benchmark::State& s) {
  run_sse(s, 4096, s.range(0), sse::Path::kSparse, 1);
}
void BM_Partitions_Masked(benchmark::State& s) {
  run_sse(s, 4096, s.range(0), sse::Path::kMasked, 1);
}
void BM_Threads_Sse(benchmark::State& s) {
  run_sse(s, 8192, 4, sse::Path::kSparse, std::size_t(s.range(0)));
}
void BM_Threads_Dense(benchmark::State& s) { run_dense(s, 8192, std::size_t(s.range(0))); }

void lengths(benchmark::internal::Benchmark* b) {
  b->ArgName("T")->RangeMultiplier(2)->Range(256, 8192);
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
void partitions(benchmark::internal::Benchmark* b) {
  b->ArgName("N")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16);
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
void threads(benchmark::internal::Benchmark* b) {
  b->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_Length_Sse)->Apply(lengths);
BENCHMARK(BM_Length_Dense)->Apply(lengths);
BENCHMARK(BM_Length_Softmax)->Apply(lengths);
BENCHMARK(BM_Partitions_Sparse)->Apply(partitions);
BENCHMARK(BM_Partitions_Masked)->Apply(partitions);
BENCHMARK(BM_Threads_Sse)->Apply(threads);
BENCHMARK(BM_Threads_Dense)->Apply(threads);

BENCHMARK_MAIN();
