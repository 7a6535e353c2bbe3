#pragma once

/// \file
/// The float64 oracle of the base recurrences (DESIGN.md section 1), written for clarity: one
/// loop per equation, token by token, no blocking, no SIMD. Tests and users check the kernels
/// against it; it accepts the same `ScanInputs` as `sse::scan` (float or double) and computes
/// in double. Inputs are assumed valid (call `validate_scan` first).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

#include "sse/core/sequences.hpp"
#include "sse/kernels/scan_inputs.hpp"
#include "sse/kernels/scan_options.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

namespace sse::reference {

/// The epsilon of the q/k L2 normalisation (DESIGN.md section 1): x / sqrt(|x|^2 + 1e-6).
inline constexpr double kL2normEps = 1e-6;

/// A K x V state in double, S[i][j] at s[i * V + j].
struct State {
  index_t K, V;
  std::vector<double> s;
  double& operator()(index_t i, index_t j) { return s[static_cast<std::size_t>(i * V + j)]; }
};

/// One token of GLA:  S = diag(exp(g)) S + k^T v;  o = q S.
inline void step(GlaRule, State& S, const std::vector<double>& q, const std::vector<double>& k,
                 const std::vector<double>& v, const std::vector<double>& g, double /*beta*/,
                 std::vector<double>& o) {
  for (index_t i = 0; i < S.K; ++i) {
    for (index_t j = 0; j < S.V; ++j) S(i, j) = std::exp(g[i]) * S(i, j) + k[i] * v[j];
  }
  for (index_t j = 0; j < S.V; ++j) {
    o[j] = 0;
    for (index_t i = 0; i < S.K; ++i) o[j] += q[i] * S(i, j);
  }
}

/// One token of Gated DeltaNet:  S' = exp(g) S;  u = beta (v - k S');  S = S' + k^T u;  o = q S.
inline void step(GdnRule, State& S, const std::vector<double>& q, const std::vector<double>& k,
                 const std::vector<double>& v, const std::vector<double>& g, double beta,
                 std::vector<double>& o) {
  for (double& x : S.s) x *= std::exp(g[0]);
  std::vector<double> u(static_cast<std::size_t>(S.V));
  for (index_t j = 0; j < S.V; ++j) {
    double prediction = 0;
    for (index_t i = 0; i < S.K; ++i) prediction += k[i] * S(i, j);
    u[j] = beta * (v[j] - prediction);
  }
  for (index_t i = 0; i < S.K; ++i) {
    for (index_t j = 0; j < S.V; ++j) S(i, j) += k[i] * u[j];
  }
  for (index_t j = 0; j < S.V; ++j) {
    o[j] = 0;
    for (index_t i = 0; i < S.K; ++i) o[j] += q[i] * S(i, j);
  }
}

/// x / sqrt(|x|^2 + eps).
inline void l2_normalize(std::vector<double>& x) {
  double sum = 0;
  for (double e : x) sum += e * e;
  const double inv = 1.0 / std::sqrt(sum + kL2normEps);
  for (double& e : x) e *= inv;
}

/// The row-level sparse key of DESIGN.md section 2b, in place: from key logits z (in k), the
/// r rows of largest logit (ties to the lower row) are kept, k = softmax over them (0 on the
/// other rows), and g is multiplied by their 0/1 mask m. Does nothing when r = 0.
inline void row_sparse_key(std::vector<double>& k, std::vector<double>& g, index_t r) {
  if (r == 0) return;
  const std::size_t K = k.size();
  std::vector<index_t> rows(K);  // rows by logit, largest first, ties to the lower row
  std::iota(rows.begin(), rows.end(), index_t{0});
  std::stable_sort(rows.begin(), rows.end(), [&](index_t a, index_t b) {
    return k[static_cast<std::size_t>(a)] > k[static_cast<std::size_t>(b)];
  });
  rows.resize(static_cast<std::size_t>(r));
  std::vector<double> m(K, 0.0);
  for (index_t row : rows) m[static_cast<std::size_t>(row)] = 1.0;
  const double largest = k[static_cast<std::size_t>(rows[0])];
  double sum = 0;
  for (std::size_t i = 0; i < K; ++i) sum += m[i] * std::exp(k[i] - largest);
  for (std::size_t i = 0; i < K; ++i) k[i] = m[i] * std::exp(k[i] - largest) / sum;
  for (std::size_t i = 0; i < K; ++i) g[i] *= m[i];
}

/// The sizes of a scan: q [B,T,H,K], v [..,V], S sequences (B, or cu_seqlens' count).
struct Sizes {
  index_t B, T, H, K, V, S;
};

template <class Rule, class T>
Sizes sizes_of(const ScanInputs<Rule, T>& in) {
  const index_t B = in.q.extent(0), T_ = in.q.extent(1);
  return {B,
          T_,
          in.q.extent(2),
          in.q.extent(3),
          in.v.extent(3),
          Sequences(B, T_, in.cu_seqlens).count()};
}

/// o [B,T,H,V] and ht [S,H,K,V], C order, in double.
struct ScanResult {
  std::vector<double> o;
  std::vector<double> ht;
};

/// The whole scan, as sse::scan computes it, in float64.
template <class Rule, class T>
ScanResult scan(const ScanInputs<Rule, T>& in, const ScanOptions& options = {}) {
  const Sizes d = sizes_of(in);
  const Sequences sequences(d.B, d.T, in.cu_seqlens);
  const bool qk_l2norm = options.qk_l2norm.value_or(Rule::kDefaultQkL2norm);
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.K)));
  const index_t gate_width = Rule::kPerKeyDecay ? d.K : 1;

  ScanResult result;
  result.o.assign(static_cast<std::size_t>(d.B * d.T * d.H * d.V), 0.0);
  result.ht.assign(static_cast<std::size_t>(d.S * d.H * d.K * d.V), 0.0);
  std::vector<double> q(d.K), k(d.K), v(d.V), g(gate_width), o(d.V);
  for (index_t s = 0; s < d.S; ++s) {
    const SequenceSpan span = sequences[s];
    for (index_t h = 0; h < d.H; ++h) {
      State S{d.K, d.V, std::vector<double>(static_cast<std::size_t>(d.K * d.V), 0.0)};
      if (in.h0.present()) {
        for (index_t i = 0; i < d.K; ++i) {
          for (index_t j = 0; j < d.V; ++j) S(i, j) = in.h0(s, h, i, j);
        }
      }
      for (index_t t = span.begin; t < span.end; ++t) {
        const index_t b = span.batch;
        for (index_t i = 0; i < d.K; ++i) q[i] = in.q(b, t, h, i);
        for (index_t i = 0; i < d.K; ++i) k[i] = in.k(b, t, h, i);
        for (index_t j = 0; j < d.V; ++j) v[j] = in.v(b, t, h, j);
        for (index_t i = 0; i < gate_width; ++i) g[i] = in.g.at(b, t, h)[i];
        const double beta = in.beta.present() ? static_cast<double>(in.beta(b, t, h)) : 0.0;
        row_sparse_key(k, g, options.key_rows);
        if (qk_l2norm) {
          l2_normalize(q);
          l2_normalize(k);
        }
        for (double& e : q) e *= scale;
        step(Rule{}, S, q, k, v, g, beta, o);
        for (index_t j = 0; j < d.V; ++j) result.o[((b * d.T + t) * d.H + h) * d.V + j] = o[j];
      }
      for (index_t i = 0; i < d.K * d.V; ++i) result.ht[(s * d.H + h) * d.K * d.V + i] = S.s[i];
    }
  }
  return result;
}

}  // namespace sse::reference
