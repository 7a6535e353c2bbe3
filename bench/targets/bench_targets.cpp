// The performance targets of DESIGN.md section 8, each one benchmark case that times both sides of
// its ratio in turn (bench/support/paired_timing.hpp) and reports counters: ratio, target, met (1
// or 0), and each side's median time in ms. B = 1, T = 8192, H = 4, K = V = 128, float32, unless
// the case says otherwise.
//
//   build/bench/bench_targets --benchmark_out=targets.json --benchmark_out_format=json
//
//   P1  dense chunked GLA, useful FLOP rate / the SGEMM rate of this machine   >= 0.5
//   P2  SSE-GLA N=4 k=1 (sparse) / dense chunked GLA                           <= 2.3
//       masked / sparse, N=4 k=1                                               >= 2.0
//       masked / sparse, N=8 k=1                                               >= 3.6
//   P3  chunked GDN / chunked GLA                                              <= 1.6
//   P4  decode (T=1, N=4, k=1, state in place) / read + write of the touched
//       states (2 states of H K V floats)                                      <= 2.0
//   P5  SSE prefill, 1 thread / 2 threads                                      >= 1.8
//   P6  speculative verify of F = 5 tokens + commit of m (all: 5, none: 1) /
//       one decode step (T=1, N=4, k=1, states in place)                       <= 3.0
//       with the states in cache (as P4) and evicted before each call (as a model's
//       decode finds them, after every other layer's weights went by)
//   bf16  SSE with bfloat16 inputs / float32 inputs                            <= 1.0

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sse/sse.hpp"  // Eigen too (sse/core/matrix.hpp), after the intrinsics guard

#include "support/paired_timing.hpp"
#include "support/sse_problem.hpp"

namespace {

using sse::GdnRule;
using sse::GlaRule;
using sse::bench::kHeads;
using sse::bench::PairedTiming;
using sse::bench::report_target;
using sse::bench::SseProblem;

constexpr long kT = 8192, kK = 128;

/// An SSE call with its own workspace, as a serving engine makes it once.
template <class Rule, class In>
struct SseRun {
  const sse::SseInputs<Rule, In>& in;
  const sse::SseOutputs<float>& out;
  sse::AttentionOptions options;
  sse::Executor& executor;
  std::vector<std::byte> workspace;

  SseRun(const sse::SseInputs<Rule, In>& inputs, const sse::SseOutputs<float>& outputs, long k,
         sse::Path path, sse::Executor& exec)
      : in(inputs), out(outputs), executor(exec) {
    options.writers = options.readers = k;
    options.path = path;
    workspace.resize(sse::sse_attention_workspace_size<Rule>(in, out, options, executor));
  }
  void operator()() {
    sse::sse_attention<Rule>(in, out, options, executor,
                             sse::Workspace(workspace.data(), workspace.size()));
  }
};

/// A dense chunked scan over the problem's shared-branch tensors.
template <class Rule>
struct DenseRun {
  sse::ScanInputs<Rule> in;
  sse::ScanOutputs<float> out;
  sse::Executor& executor;
  std::vector<std::byte> workspace;

  DenseRun(const SseProblem<Rule>& p, sse::Executor& exec)
      : in(p.dense_scan_inputs()), executor(exec) {
    out.o = p.out.o;
    workspace.resize(sse::scan_workspace_size<Rule>(in, out, executor));
  }
  void operator()() {
    sse::ScanOptions options;
    options.mode = sse::Mode::kChunk;
    sse::scan<Rule>(in, out, options, executor, sse::Workspace(workspace.data(), workspace.size()));
  }
};

void BM_P1_GlaChunkedVsSgemm(benchmark::State& state) {
  SseProblem<GlaRule> p(kT, kK, 1);
  sse::SerialExecutor serial;
  DenseRun<GlaRule> gla(p, serial);
  const long n = 1024;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  PairedTiming timing;
  timing.add("gla_chunked", [&] { gla(); });
  timing.add("sgemm1024", [&] { c.noalias() = a * b; });
  for (auto _ : state) timing.run_iteration(state);
  const double gla_rate = sse::bench::useful_flops(kT, kK, kK) / timing.median(0);
  const double sgemm_rate = 2.0 * double(n) * double(n) * double(n) / timing.median(1);
  timing.report_times(state);
  state.counters["gla_GFLOPS"] = gla_rate * 1e-9;
  state.counters["sgemm_GFLOPS"] = sgemm_rate * 1e-9;
  report_target(state, gla_rate / sgemm_rate, 0.5, true, "P1 GLA useful FLOP rate / SGEMM");
}

void BM_P2_SseVsDense(benchmark::State& state) {
  SseProblem<GlaRule> p(kT, kK, 4);
  sse::SerialExecutor serial;
  SseRun<GlaRule, float> sse_run(p.in, p.out, 1, sse::Path::kSparse, serial);
  DenseRun<GlaRule> dense(p, serial);
  PairedTiming timing;
  timing.add("sse_sparse", [&] { sse_run(); });
  timing.add("dense_chunked", [&] { dense(); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(state, timing.median(0) / timing.median(1), 2.3, false,
                "P2 SSE-GLA N=4 k=1 / dense GLA");
}

template <class Rule>
void BM_P2_MaskedVsSparse(benchmark::State& state) {
  const long N = state.range(0);
  SseProblem<Rule> p(kT, kK, N);
  sse::SerialExecutor serial;
  SseRun<Rule, float> masked(p.in, p.out, 1, sse::Path::kMasked, serial);
  SseRun<Rule, float> sparse(p.in, p.out, 1, sse::Path::kSparse, serial);
  PairedTiming timing;
  timing.add("masked", [&] { masked(); });
  timing.add("sparse", [&] { sparse(); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(state, timing.median(0) / timing.median(1), N == 4 ? 2.0 : 3.6, true,
                std::string("P2 ") + Rule::kName + " masked / sparse, k=1, N=" + std::to_string(N));
}

void BM_P3_GdnVsGla(benchmark::State& state) {
  SseProblem<GlaRule> gla_problem(kT, kK, 1);
  SseProblem<GdnRule> gdn_problem(kT, kK, 1);
  sse::SerialExecutor serial;
  DenseRun<GlaRule> gla(gla_problem, serial);
  DenseRun<GdnRule> gdn(gdn_problem, serial);
  PairedTiming timing;
  timing.add("gdn_chunked", [&] { gdn(); });
  timing.add("gla_chunked", [&] { gla(); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(state, timing.median(0) / timing.median(1), 1.6, false,
                "P3 chunked GDN / chunked GLA");
}

/// y = 0.999 y + 0.001 over n floats: one read and one write of each, the traffic floor of a
/// decode step. Not inlined, so that every case runs the same machine code.
[[gnu::noinline]] void read_write_once(float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = 0.999f * y[i] + 0.001f;
  benchmark::DoNotOptimize(y);
}

/// Decode: T = 1, state resident and updated in place (h0 == ht). Each side runs 64 times per
/// iteration so that the medians are over tens of microseconds, not single calls.
template <class Rule>
void BM_P4_DecodeVsTouchedState(benchmark::State& state) {
  constexpr int kRepeat = 64;
  const long N = 4, k = 1;  // the baseline below assumes k = 1
  SseProblem<Rule> p(1, kK, N);
  p.in.h0 = p.out.ht;
  sse::SerialExecutor serial;
  SseRun<Rule, float> decode(p.in, p.out, k, sse::Path::kSparse, serial);
  // The baseline streams over the very states the step touches: the shared one and the routed
  // partition (k = 1: the largest logit), H K V floats each, contiguous in ht [1,1+N,H,K,V].
  const auto state_floats = std::size_t(kHeads * kK * kK);
  const auto routed =
      std::size_t(1 + (std::max_element(p.eta.begin(), p.eta.end()) - p.eta.begin()));
  const std::array<float*, 2> touched = {p.ht.data(), p.ht.data() + routed * state_floats};
  const std::size_t touched_size = 2 * state_floats;
  PairedTiming timing;
  timing.add("decode", [&] {
    for (int i = 0; i < kRepeat; ++i) decode();
  });
  timing.add("touched_read_write", [&] {
    for (int i = 0; i < kRepeat; ++i) {
      for (float* block : touched) read_write_once(block, state_floats);
      benchmark::ClobberMemory();
    }
  });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  state.counters["decode_us"] = timing.median(0) / kRepeat * 1e6;
  state.counters["touched_GBps"] =
      double(touched_size * sizeof(float) * 2) / (timing.median(1) / kRepeat) * 1e-9;
  report_target(state, timing.median(0) / timing.median(1), 2.0, false,
                std::string("P4 ") + Rule::kName + " decode / touched-state read+write");
}

/// Streams through 64 MiB, so that no state stays in a cache.
void evict_caches() {
  static std::vector<float> flood(std::size_t(16) << 20, 1.0f);
  read_write_once(flood.data(), flood.size());
}

/// Speculative decoding at the operator: verify F = 5 tokens and commit m of them (arg 0: m = 5,
/// every draft accepted; m = 1, none), against one decode step, states in place as in P4. Arg
/// 1: 0, the states in cache, each side run 64 times per iteration; 1, the caches evicted
/// before each (single) call.
template <class Rule>
void BM_P6_VerifyCommitVsDecode(benchmark::State& state) {
  constexpr long F = 5, N = 4, k = 1;
  const long kept = state.range(0);
  const bool cold = state.range(1) != 0;
  const int kRepeat = cold ? 1 : 64;
  SseProblem<Rule> one(1, kK, N), drafts(F, kK, N);
  one.in.h0 = one.out.ht;
  drafts.ht = one.ht;  // the same states to start from
  drafts.in.h0 = drafts.out.ht;
  sse::SerialExecutor serial;
  SseRun<Rule, float> decode(one.in, one.out, k, sse::Path::kSparse, serial);
  std::vector<std::byte> workspace(
      sse::sse_attention_workspace_size<Rule>(drafts.in, drafts.out, decode.options, serial));
  std::vector<std::byte> memory(sse::rollback_bytes(drafts.in, decode.options));
  sse::Rollback rollback(memory.data(), memory.size());
  const sse::index_t accepted = kept;
  auto verify_commit = [&] {
    const sse::Workspace w(workspace.data(), workspace.size());
    sse::sse_verify<Rule>(drafts.in, drafts.out, decode.options, serial, rollback, w);
    sse::sse_commit<Rule>(drafts.in, {&accepted, {1}}, drafts.out.ht, decode.options, serial,
                          rollback, w);
  };
  const std::function<void()> prepare = cold ? std::function<void()>(evict_caches) : nullptr;
  PairedTiming timing;
  timing.add(
      "verify_commit",
      [&] {
        for (int i = 0; i < kRepeat; ++i) verify_commit();
      },
      prepare);
  timing.add(
      "decode",
      [&] {
        for (int i = 0; i < kRepeat; ++i) decode();
      },
      prepare);
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  state.counters["verify_commit_us"] = timing.median(0) / kRepeat * 1e6;
  state.counters["decode_us"] = timing.median(1) / kRepeat * 1e6;
  report_target(state, timing.median(0) / timing.median(1), 3.0, false,
                std::string("P6 ") + Rule::kName + " verify F=5 + commit " +
                    (kept == F ? "all" : "none") + (cold ? ", states from memory" : ", in cache") +
                    " / decode step");
}

template <class Rule>
void BM_P5_TwoThreadsVsOne(benchmark::State& state) {
  SseProblem<Rule> p(kT, kK, 4);
  sse::SerialExecutor serial;
  sse::ThreadPool pool(2);
  SseRun<Rule, float> one(p.in, p.out, 1, sse::Path::kSparse, serial);
  SseRun<Rule, float> two(p.in, p.out, 1, sse::Path::kSparse, pool);
  PairedTiming timing;
  timing.add("one_thread", [&] { one(); });
  timing.add("two_threads", [&] { two(); });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(state, timing.median(0) / timing.median(1), 1.8, true,
                std::string("P5 ") + Rule::kName + " SSE prefill, 1 thread / 2 threads");
}

/// bf16 inputs against float32 inputs; args: T (8192: prefill, 1: decode in place).
template <class Rule>
void BM_Bf16VsFloat32(benchmark::State& state) {
  const long T = state.range(0);
  const int repeat = T == 1 ? 64 : 1;
  SseProblem<Rule> p(T, kK, 4);
  if (T == 1) p.in.h0 = p.out.ht;  // decode in place
  const sse::Bf16SseInputs<Rule> bf16_inputs = p.bf16();
  sse::SerialExecutor serial;
  SseRun<Rule, sse::bfloat16> bf16(bf16_inputs.inputs(), p.out, 1, sse::Path::kSparse, serial);
  SseRun<Rule, float> fp32(p.in, p.out, 1, sse::Path::kSparse, serial);
  PairedTiming timing;
  timing.add("bf16", [&] {
    for (int i = 0; i < repeat; ++i) bf16();
  });
  timing.add("float32", [&] {
    for (int i = 0; i < repeat; ++i) fp32();
  });
  for (auto _ : state) timing.run_iteration(state);
  timing.report_times(state);
  report_target(
      state, timing.median(0) / timing.median(1), 1.0, false,
      std::string("bf16 ") + Rule::kName + (T == 1 ? " decode" : " prefill") + " / float32");
}

void prefill(benchmark::internal::Benchmark* b) {
  b->Iterations(7)->UseManualTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_P1_GlaChunkedVsSgemm)->Apply(prefill);
BENCHMARK(BM_P2_SseVsDense)->Apply(prefill);
BENCHMARK(BM_P2_MaskedVsSparse<GlaRule>)->ArgName("N")->Arg(4)->Arg(8)->Apply(prefill);
BENCHMARK(BM_P2_MaskedVsSparse<GdnRule>)->ArgName("N")->Arg(4)->Arg(8)->Apply(prefill);
BENCHMARK(BM_P3_GdnVsGla)->Apply(prefill);
BENCHMARK(BM_P4_DecodeVsTouchedState<GlaRule>)->Iterations(51)->UseManualTime();
BENCHMARK(BM_P4_DecodeVsTouchedState<GdnRule>)->Iterations(51)->UseManualTime();
/// P6's cases: every draft kept and none, states in cache and from memory.
void speculative_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"kept", "cold"})->Args({5, 0})->Args({1, 0})->Args({5, 1})->Args({1, 1});
  b->Iterations(51)->UseManualTime();
}
BENCHMARK(BM_P6_VerifyCommitVsDecode<GlaRule>)->Apply(speculative_args);
BENCHMARK(BM_P6_VerifyCommitVsDecode<GdnRule>)->Apply(speculative_args);
BENCHMARK(BM_P5_TwoThreadsVsOne<GlaRule>)->Apply(prefill);
BENCHMARK(BM_P5_TwoThreadsVsOne<GdnRule>)->Apply(prefill);
BENCHMARK(BM_Bf16VsFloat32<GlaRule>)->ArgName("T")->Arg(8192)->Apply(prefill);
BENCHMARK(BM_Bf16VsFloat32<GlaRule>)->ArgName("T")->Arg(1)->Iterations(51)->UseManualTime();
BENCHMARK(BM_Bf16VsFloat32<GdnRule>)->ArgName("T")->Arg(8192)->Apply(prefill);

BENCHMARK_MAIN();
