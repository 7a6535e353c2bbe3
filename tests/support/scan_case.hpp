#pragma once

// A scan test case: owns random inputs and NaN-poisoned outputs of one shape and hands out
// the views `sse::scan` takes.

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <vector>

#include "sse/kernels/scan.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {

struct ScanShape {
  index_t B = 1, T = 1, H = 1, K = 1, V = 1;
  std::vector<std::int64_t> cu_seqlens;  // packed sequences (B = 1) when not empty

  index_t sequences() const { return cu_seqlens.empty() ? B : index_t(cu_seqlens.size()) - 1; }
  friend std::ostream& operator<<(std::ostream& os, const ScanShape& s) {
    os << "B=" << s.B << " T=" << s.T << " H=" << s.H << " K=" << s.K << " V=" << s.V;
    if (!s.cu_seqlens.empty()) {
      os << " cu_seqlens=";
      for (auto c : s.cu_seqlens) os << c << ' ';
    }
    return os;
  }
};

/// Log decays uniform in [lo, hi] (hi <= 0).
struct GateRange {
  double lo = -3.0;
  double hi = 0.0;
};

template <class Rule, class T>
struct ScanCase {
  ScanShape shape;
  std::vector<T> q, k, v, g, beta, h0;
  std::vector<std::int64_t> cu_seqlens;
  std::vector<T> o, ht;

  ScanCase(ScanShape s, std::uint64_t seed, GateRange gates = {}, bool with_h0 = true)
      : shape(std::move(s)), cu_seqlens(shape.cu_seqlens) {
    const auto qk = std::size_t(shape.B * shape.T * shape.H * shape.K);
    const auto tokens = std::size_t(shape.B * shape.T * shape.H);
    q = randn<T>(qk, seed);
    k = randn<T>(qk, seed + 1);
    v = randn<T>(tokens * shape.V, seed + 2);
    g = uniform<T>(Rule::kPerKeyDecay ? qk : tokens, seed + 3, gates.lo, gates.hi);
    if (Rule::kHasBeta) {
      beta = uniform<T>(tokens, seed + 4, 0.0, 1.0);
      clamp_row_norms(k, std::size_t(shape.K), 1.0);  // |k| <= 1 keeps the delta rule bounded
    }
    if (with_h0) h0 = randn<T>(state_size(), seed + 5);
    poison();
  }

  std::size_t state_size() const {
    return std::size_t(shape.sequences() * shape.H * shape.K * shape.V);
  }
  /// Refills o and ht with NaN, in place (views handed out earlier stay valid).
  void poison() {
    o.resize(std::size_t(shape.B * shape.T * shape.H * shape.V));
    ht.resize(state_size());
    std::fill(o.begin(), o.end(), poisoned<T>(1)[0]);
    std::fill(ht.begin(), ht.end(), poisoned<T>(1)[0]);
  }

  ScanInputs<Rule, T> inputs() const {
    const auto& s = shape;
    ScanInputs<Rule, T> in;
    in.q = {q.data(), {s.B, s.T, s.H, s.K}};
    in.k = {k.data(), {s.B, s.T, s.H, s.K}};
    in.v = {v.data(), {s.B, s.T, s.H, s.V}};
    if constexpr (Rule::kPerKeyDecay) {
      in.g = {g.data(), {s.B, s.T, s.H, s.K}};
    } else {
      in.g = {g.data(), {s.B, s.T, s.H}};
    }
    if (Rule::kHasBeta) in.beta = {beta.data(), {s.B, s.T, s.H}};
    if (!h0.empty()) in.h0 = {h0.data(), {s.sequences(), s.H, s.K, s.V}};
    if (!cu_seqlens.empty()) in.cu_seqlens = {cu_seqlens.data(), {index_t(cu_seqlens.size())}};
    return in;
  }

  ScanOutputs<T> outputs() {
    const auto& s = shape;
    return {{o.data(), {s.B, s.T, s.H, s.V}}, {ht.data(), {s.sequences(), s.H, s.K, s.V}}};
  }
};

}  // namespace sse::test
