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

namespace {

constexpr long kHeads = 4;

/// Random inputs of one SSE call (B = 1, H = 4), with its outputs.
template <class Rule>
struct Problem {
  std::vector<float> q1, k1, q2, k2, v, g1, g2, beta1, beta2, eta, o, ht;
  sse::SseInputs<Rule> in;
  sse::SseOutputs<float> out;

  Problem(long T, long K, long N) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    const auto qk = std::size_t(T * kHeads * K), tokens = std::size_t(T * kHeads);
    const std::size_t gates = Rule::kPerKeyDecay ? qk : tokens;
    auto fill = [&](std::vector<float>& x, std::size_t n, auto make) {
      x.resize(n);
      for (float& e : x) e = make();
    };
    auto gaussian = [&] { return normal(rng); };
    auto gate = [&] { return float(-std::log1p(std::exp(-normal(rng))) / 16); };
    auto uniform = [&] { return unit(rng); };
    fill(q1, qk, gaussian), fill(k1, qk, gaussian), fill(q2, qk, gaussian), fill(k2, qk, gaussian);
    fill(v, tokens * K, gaussian), fill(eta, std::size_t(T * N), gaussian);
    fill(g1, gates, gate), fill(g2, gates, gate), fill(beta1, tokens, uniform);
    fill(beta2, tokens, uniform);
    o.resize(tokens * K), ht.resize(std::size_t((1 + N) * kHeads * K * K));
    in.q1 = {q1.data(), {1, T, kHeads, K}}, in.k1 = {k1.data(), {1, T, kHeads, K}};
    in.q2 = {q2.data(), {1, T, kHeads, K}}, in.k2 = {k2.data(), {1, T, kHeads, K}};
    in.v = {v.data(), {1, T, kHeads, K}}, in.eta = {eta.data(), {1, T, N}};
    if constexpr (Rule::kPerKeyDecay) {
      in.g1 = {g1.data(), {1, T, kHeads, K}}, in.g2 = {g2.data(), {1, T, kHeads, K}};
    } else {
      in.g1 = {g1.data(), {1, T, kHeads}}, in.g2 = {g2.data(), {1, T, kHeads}};
    }
    if (Rule::kHasBeta) {
      in.beta1 = {beta1.data(), {1, T, kHeads}}, in.beta2 = {beta2.data(), {1, T, kHeads}};
    }
    out.o = {o.data(), {1, T, kHeads, K}};
    out.ht = {ht.data(), {1, 1 + N, kHeads, K, K}};
  }
};

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
  sse::ScanInputs<Rule> in;
  in.q = p.in.q1, in.k = p.in.k1, in.v = p.in.v, in.g = p.in.g1, in.beta = p.in.beta1;
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
