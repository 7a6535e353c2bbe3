#pragma once
// Random inputs of one SSE call (B = 1, H = 4, K = V), shared by the benchmarks: gates as an
// SSE layer makes them (logsigmoid(x) / 16, DESIGN.md section 4), router logits N(0, 1).

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include "sse/sse.hpp"

namespace sse::bench {

inline constexpr long kHeads = 4;

/// The useful work of the chunked form of one state over T tokens, H heads:
/// H T (2 C (K + V) + 4 K V) with C = 64 (the FLOP count the targets use).
inline double useful_flops(long T, long K, long V) {
  const double C = double(DefaultChunked::kChunkSize);
  return double(kHeads) * double(T) * (2 * C * double(K + V) + 4.0 * double(K) * double(V));
}

template <class Rule>
struct SseProblem {
  std::vector<float> q1, k1, q2, k2, v, g1, g2, beta1, beta2, eta, o, ht;
  SseInputs<Rule> in;
  SseOutputs<float> out;

  SseProblem(long T, long K, long N) {
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

    const Extents<4> qk_shape{1, T, kHeads, K};
    in.q1 = {q1.data(), qk_shape}, in.k1 = {k1.data(), qk_shape};
    in.q2 = {q2.data(), qk_shape}, in.k2 = {k2.data(), qk_shape};
    in.v = {v.data(), qk_shape}, in.eta = {eta.data(), {1, T, N}};
    if constexpr (Rule::kPerKeyDecay) {
      in.g1 = {g1.data(), qk_shape}, in.g2 = {g2.data(), qk_shape};
    } else {
      in.g1 = {g1.data(), {1, T, kHeads}}, in.g2 = {g2.data(), {1, T, kHeads}};
    }
    if (Rule::kHasBeta) {
      in.beta1 = {beta1.data(), {1, T, kHeads}}, in.beta2 = {beta2.data(), {1, T, kHeads}};
    }
    out.o = {o.data(), qk_shape};
    out.ht = {ht.data(), {1, 1 + N, kHeads, K, K}};
  }

  /// The same inputs rounded to bfloat16 (h0 shared: set it on `in` first).
  Bf16SseInputs<Rule> bf16() const { return Bf16SseInputs<Rule>(in); }

  /// A dense scan over the shared branch's tensors (q1, k1, v, g1, beta1).
  ScanInputs<Rule> dense_scan_inputs() const {
    ScanInputs<Rule> scan;
    scan.q = in.q1, scan.k = in.k1, scan.v = in.v, scan.g = in.g1, scan.beta = in.beta1;
    return scan;
  }
};

}  // namespace sse::bench
