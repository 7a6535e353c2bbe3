// sse::scan, chunked vs recurrent vs the float64 reference, with Eigen's single-thread SGEMM
// rate measured in the same binary as the roofline.
//
// Args: T, K (= V), threads. B = 1, H = 4. Log decays are what an SSE-GLA layer produces,
// logsigmoid(x) / 16 with x ~ N(0, 1) (DESIGN.md section 4); GDN's are the same, per head. The
// GFLOPS counter counts the useful work of the chunked form, H * T * (2 C (K + V) + 4 K V) with C =
// 64, for every schedule, so that the rates compare like times do; tokens/s is the plain
// throughput.

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"  // Eigen too (sse/core/matrix.hpp), after the intrinsics guard

namespace {

constexpr long kHeads = 4;

double useful_flops(long T, long K, long V) {
  const double C = double(sse::DefaultChunked::kChunkSize);
  return double(kHeads) * double(T) * (2 * C * (K + V) + 4.0 * K * V);
}

/// Random inputs of one GLA or GDN scan (B = 1, H = 4), with its outputs.
template <class Rule>
struct Problem {
  long T, K, V;
  std::vector<float> q, k, v, g, beta, o, ht;
  sse::ScanInputs<Rule> in;
  sse::ScanOutputs<float> out;

  Problem(long t, long kdim, long vdim) : T(t), K(kdim), V(vdim) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    const auto qk = std::size_t(T * kHeads * K);
    const auto tokens = std::size_t(T * kHeads);
    q.resize(qk), k.resize(qk), v.resize(tokens * V);
    g.resize(Rule::kPerKeyDecay ? qk : tokens), beta.resize(tokens);
    for (float& x : q) x = normal(rng);
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    for (float& x : g) x = -std::log1p(std::exp(-normal(rng))) / 16;  // logsigmoid / 16
    for (float& x : beta) x = unit(rng);
    o.resize(tokens * V), ht.resize(std::size_t(kHeads * K * V));
    in.q = {q.data(), {1, T, kHeads, K}};
    in.k = {k.data(), {1, T, kHeads, K}};
    in.v = {v.data(), {1, T, kHeads, V}};
    if constexpr (Rule::kPerKeyDecay) {
      in.g = {g.data(), {1, T, kHeads, K}};
    } else {
      in.g = {g.data(), {1, T, kHeads}};
    }
    if (Rule::kHasBeta) in.beta = {beta.data(), {1, T, kHeads}};
    out.o = {o.data(), {1, T, kHeads, V}};
    out.ht = {ht.data(), {1, kHeads, K, V}};
  }
};

template <class Rule, sse::Mode kMode>
void BM_Scan(benchmark::State& state) {
  const long T = state.range(0), K = state.range(1), threads = state.range(2);
  Problem<Rule> p(T, K, K);
  sse::ThreadPool pool{std::size_t(threads)};
  sse::ScanOptions options;
  options.mode = kMode;
  std::vector<std::byte> workspace(sse::scan_workspace_size<Rule>(p.in, p.out, pool));
  for (auto _ : state) {
    sse::scan<Rule>(p.in, p.out, options, pool, sse::Workspace(workspace.data(), workspace.size()));
    benchmark::DoNotOptimize(p.o.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(useful_flops(T, K, K), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  state.counters["tokens/s"] =
      benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(Rule::kName) + " " + sse::default_arch::name());
}

template <class Rule>
void BM_Reference(benchmark::State& state) {
  const long T = state.range(0), K = state.range(1);
  Problem<Rule> p(T, K, K);
  for (auto _ : state) {
    auto result = sse::reference::scan<Rule>(p.in);
    benchmark::DoNotOptimize(result.o.data());
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(useful_flops(T, K, K), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  state.counters["tokens/s"] =
      benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(Rule::kName) + " float64 reference");
}

// The machine's single-thread float32 GEMM rate (Eigen, no OpenMP): the roofline the chunked
// kernels are measured against.
void BM_EigenSgemm_Roofline(benchmark::State& state) {
  const long n = state.range(0);
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(
      2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(sse::default_arch::name());
}

using sse::GdnRule;
using sse::GlaRule;
using sse::Mode;

void scan_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"T", "K", "threads"});
  b->Args({8192, 128, 1})->Args({8192, 128, 2})->Args({8192, 64, 1})->Args({1, 128, 1});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_EigenSgemm_Roofline)
    ->Arg(512)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Scan<GlaRule, Mode::kChunk>)->Apply(scan_args);
BENCHMARK(BM_Scan<GlaRule, Mode::kRecurrent>)->Apply(scan_args);
BENCHMARK(BM_Scan<GdnRule, Mode::kChunk>)->Apply(scan_args);
BENCHMARK(BM_Scan<GdnRule, Mode::kRecurrent>)->Apply(scan_args);
BENCHMARK(BM_Reference<GlaRule>)
    ->ArgNames({"T", "K"})
    ->Args({512, 128})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Reference<GdnRule>)
    ->ArgNames({"T", "K"})
    ->Args({512, 128})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
