// sse::sse_attention, sparse path vs masked path vs a dense scan of the same head size, in one
// binary (report ratios from one run).
//
// Args: T, K (= V), N, k (= writers = readers), threads. B = 1, H = 4. Gates as an SSE layer
// makes them (logsigmoid(x) / 16), router logits N(0, 1). tokens/s is the plain throughput.
// The sparse path runs 1 + k states per token, the masked path 1 + N: the ideal ratio is
// (1 + N) / (1 + k); against the dense scan, SSE costs about 1 + k times one state.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"

#include "support/sse_problem.hpp"

namespace {

using sse::bench::kHeads;
template <class Rule>
using Problem = sse::bench::SseProblem<Rule>;

template <class Rule, sse::Path kPath>
void BM_Sse(benchmark::State& state) {
  const long T = state.range(0), K = state.range(1), N = state.range(2), k = state.range(3);
  const long threads = state.range(4);
  Problem<Rule> p(T, K, N);
  sse::ThreadPool pool{std::size_t(threads)};
  sse::AttentionOptions options;
  options.writers = options.readers = k;
  options.path = kPath;
  std::vector<std::byte> workspace(
      sse::sse_attention_workspace_size<Rule>(p.in, p.out, options, pool));
  for (auto _ : state) {
    sse::sse_attention<Rule>(p.in, p.out, options, pool,
                             sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
    benchmark::ClobberMemory();
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(Rule::kName) + (kPath == sse::Path::kSparse ? " sparse" : " masked"));
}

/// The dense baseline: one scan of the same head size over the same tokens (q1, k1, v, g1).
template <class Rule>
void BM_DenseScan(benchmark::State& state) {
  const long T = state.range(0), K = state.range(1), threads = state.range(4);
  Problem<Rule> p(T, K, 1);
  const sse::ScanInputs<Rule> in = p.dense_scan_inputs();
  sse::ScanOutputs<float> out;
  out.o = p.out.o;
  sse::ThreadPool pool{std::size_t(threads)};
  std::vector<std::byte> workspace(sse::scan_workspace_size<Rule>(in, out, pool));
  for (auto _ : state) {
    sse::scan<Rule>(in, out, sse::ScanOptions{}, pool,
                    sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
    benchmark::ClobberMemory();
  }
  state.counters["tokens/s"] =
      benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(Rule::kName) + " dense scan");
}

/// Decode with the state resident and updated in place (h0 == ht), as a serving loop runs it:
/// one token, so only the shared state and the k selected partitions are touched.
template <class Rule>
void BM_SseDecode(benchmark::State& state) {
  const long K = state.range(1), N = state.range(2), k = state.range(3);
  Problem<Rule> p(1, K, N);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (float& x : p.ht) x = normal(rng);
  p.in.h0 = p.out.ht;  // in place
  sse::SerialExecutor serial;
  sse::AttentionOptions options;
  options.writers = options.readers = k;
  std::vector<std::byte> workspace(
      sse::sse_attention_workspace_size<Rule>(p.in, p.out, options, serial));
  for (auto _ : state) {
    sse::sse_attention<Rule>(p.in, p.out, options, serial,
                             sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(Rule::kName) + " decode, state in place");
}

/// The decode baseline: read and write (1 + k) states of H K V floats once (y = a y + b), the
/// traffic a decode step cannot avoid, at the cache bandwidth of this machine.
void BM_TouchedStateReadWrite(benchmark::State& state) {
  const long K = state.range(1), k = state.range(3);
  std::vector<float> states(std::size_t((1 + k) * kHeads * K * K), 1.0f);
  for (auto _ : state) {
    for (float& x : states) x = 0.999f * x + 0.001f;
    benchmark::DoNotOptimize(states.data());
    benchmark::ClobberMemory();
  }
  state.counters["bytes"] = double(states.size() * sizeof(float) * 2);
  state.SetLabel("read + write of the touched states");
}

using sse::GdnRule;
using sse::GlaRule;
using sse::Path;

void sse_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "K", "N", "k", "threads"});
  b->Args({8192, 128, 4, 1, 1})->Args({8192, 128, 8, 1, 1})->Args({8192, 128, 4, 1, 2});
  b->Args({1, 128, 4, 1, 1});  // decode: one token
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void dense_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "K", "N", "k", "threads"});
  b->Args({8192, 128, 1, 1, 1})->Args({8192, 128, 1, 1, 2});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void decode_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "K", "N", "k"})->Args({1, 128, 4, 1})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_TouchedStateReadWrite)->Apply(decode_args);
BENCHMARK(BM_SseDecode<GlaRule>)->Apply(decode_args);
BENCHMARK(BM_SseDecode<GdnRule>)->Apply(decode_args);
BENCHMARK(BM_Sse<GlaRule, Path::kSparse>)->Apply(sse_args);
BENCHMARK(BM_Sse<GlaRule, Path::kMasked>)->Apply(sse_args);
BENCHMARK(BM_DenseScan<GlaRule>)->Apply(dense_args);
BENCHMARK(BM_Sse<GdnRule, Path::kSparse>)->Apply(sse_args);
BENCHMARK(BM_Sse<GdnRule, Path::kMasked>)->Apply(sse_args);
BENCHMARK(BM_DenseScan<GdnRule>)->Apply(dense_args);

}  // namespace

BENCHMARK_MAIN();
